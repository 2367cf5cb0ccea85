/**
 * Pushed authorization requests (RFC 9126): client authentication as at the token endpoint, the
 * parameters checked at push time, a `request_uri` that only a pushed request is (60 s), only its
 * parameters counting, its `client_id` required to match, and `requirePar` clients refused without it.
 */
import { describe, expect, it } from 'vitest';
import { sealerOf } from '../../packages/baton-auth/src/authz/codes.ts';
import { CB, ISSUER, redirectedTo, SECRET, setup } from '../support/authz.ts';
import { dpopKey, dpopProof } from '../support/dpop.ts';

const PREFIX = 'urn:ietf:params:oauth:request_uri:';
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

function pushWith(s: ReturnType<typeof setup>) {
  return (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    s.call('/oauth/par', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({
        redirect_uri: CB,
        response_type: 'code',
        state: 'pushed-state',
        code_challenge: s.challenge,
        code_challenge_method: 'S256',
        ...fields,
      }).toString(),
    });
}

describe('POST /oauth/par', () => {
  it('authenticates the client as the token endpoint does, and answers a request_uri for 60 s', async () => {
    const s = setup();
    const push = pushWith(s);
    const res = await push({}, { authorization: basic('conf', SECRET) });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { request_uri: string; expires_in: number };
    expect(body.expires_in).toBe(60);
    expect(body.request_uri.startsWith(PREFIX)).toBe(true);
    expect((await push({}, { authorization: basic('conf', 'wrong-secret-of-enough-length-123456') })).status).toBe(401);
    expect((await push({ client_id: 'conf' })).status).toBe(401); // a confidential client without its secret
    expect((await push({ client_id: 'nobody' })).status).toBe(401);
  });

  it('checks the parameters at push time (JSON errors, RFC 9126 §2.3)', async () => {
    const s = setup();
    const push = pushWith(s);
    for (const [fields, error] of [
      [{ client_id: 'first', code_challenge_method: 'plain' }, 'invalid_request'],
      [{ client_id: 'first', redirect_uri: 'https://evil.example/cb' }, 'invalid_request'],
      [{ client_id: 'first', response_type: 'token' }, 'unsupported_response_type'],
      [{ client_id: 'first', scope: 'admin' }, 'invalid_scope'],
      [{ client_id: 'first', request_uri: `${PREFIX}x` }, 'invalid_request'],
    ] as const) {
      const res = await push(fields);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe(error);
    }
  });

  it('the authorization request takes only the pushed parameters, for the client that pushed them', async () => {
    const s = setup();
    const { request_uri } = (await (await pushWith(s)({}, { authorization: basic('conf', SECRET) })).json()) as { request_uri: string };
    const b = s.browser();
    const q = new URLSearchParams({ client_id: 'conf', request_uri, state: 'query-state', redirect_uri: 'https://evil.example/cb' });
    const page = await b.get(`/oauth/authorize?${q}`);
    expect(page.status).toBe(200);
    const code = redirectedTo(await s.signIn(b, page));
    expect(code.get('state')).toBe('pushed-state');
    expect(code.get('iss')).toBe(ISSUER);
    expect((await s.codeOf(code))?.grant).toMatchObject({ clientId: 'conf', redirectUri: CB, codeChallenge: s.challenge });
    // Reloading within its 60 s works (RFC 9126 §4 allows it); after them it is refused.
    expect((await b.get(`/oauth/authorize?${q}`)).status).toBe(303);
    s.clock.advance(60_001);
    const late = await b.get(`/oauth/authorize?${q}`);
    expect(late.status).toBe(400);
    expect(late.headers.get('location')).toBeNull();
  });

  it('another client_id than the pusher is refused with a page, never redirected', async () => {
    const s = setup();
    const { request_uri } = (await (await pushWith(s)({}, { authorization: basic('conf', SECRET) })).json()) as { request_uri: string };
    for (const q of [{ client_id: 'first', request_uri }, { request_uri }]) {
      const res = await s.call(`/oauth/authorize?${new URLSearchParams(q)}`);
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
    }
  });

  it('a request_uri is only ever a pushed request: a code, a transaction or garbage is not one', async () => {
    const s = setup();
    const sealer = sealerOf(s.baton);
    const b = s.browser();
    const txn = /name="txn" value="([^"]+)"/.exec(await (await b.get(s.authorizePath())).text())?.[1] as string;
    const code = redirectedTo(await s.signIn(b, await b.get(s.authorizePath()))).get('code') as string;
    // The same payload sealed for another purpose does not open as a pushed request.
    const pushedShape = await sealer.seal('txn', { r: { clientId: 'first', redirectUri: CB, resource: [], codeChallenge: s.challenge, prompt: [] } }, 60_000);
    for (const value of [txn, code, pushedShape, 'x', '']) {
      const res = await s.call(`/oauth/authorize?${new URLSearchParams({ client_id: 'first', request_uri: `${PREFIX}${value}` })}`);
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
    }
  });

  it('a requirePar client is refused without PAR (invalid_request redirect) and served with it', async () => {
    const s = setup();
    const q = redirectedTo(await s.call(s.authorizePath({ client_id: 'par-only' })));
    expect(q.get('error')).toBe('invalid_request');
    expect(q.get('error_description')).toContain('PAR');
    expect(q.get('iss')).toBe(ISSUER);
    const res = await pushWith(s)({ client_id: 'par-only' });
    const { request_uri } = (await res.json()) as { request_uri: string };
    expect((await s.call(`/oauth/authorize?${new URLSearchParams({ client_id: 'par-only', request_uri })}`)).status).toBe(200);
  });

  it('a DPoP proof on the PAR binds the code to its key (RFC 9449 §10.1); a different dpop_jkt is refused', async () => {
    const s = setup();
    const key = await dpopKey();
    const proof = async () => dpopProof(key, 'POST', `${ISSUER}/oauth/par`, { nonce: s.baton.dpopNonce(), iat: Math.floor(s.clock.ms / 1000) });
    const res = await pushWith(s)({}, { authorization: basic('conf', SECRET), dpop: await proof() });
    expect(res.status).toBe(201);
    const { request_uri } = (await res.json()) as { request_uri: string };
    const b = s.browser();
    const page = await b.get(`/oauth/authorize?${new URLSearchParams({ client_id: 'conf', request_uri })}`);
    expect((await s.codeOf(redirectedTo(await s.signIn(b, page))))?.grant.dpopJkt).toBe(key.jkt);
    const other = await dpopKey();
    const mismatch = await pushWith(s)({ dpop_jkt: other.jkt }, { authorization: basic('conf', SECRET), dpop: await proof() });
    expect(mismatch.status).toBe(400);
    expect(((await mismatch.json()) as { error: string }).error).toBe('invalid_dpop_proof');
  });

  it('dpop_jkt in the query binds the code too', async () => {
    const s = setup();
    const key = await dpopKey();
    const b = s.browser();
    const q = redirectedTo(await s.signIn(b, await b.get(s.authorizePath({ dpop_jkt: key.jkt }))));
    expect((await s.codeOf(q))?.grant.dpopJkt).toBe(key.jkt);
  });
});
