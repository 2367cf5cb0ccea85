/**
 * DPoP at the token endpoints (RFC 9449 §5, §8), called with Web Requests: the nonce flow, a
 * session bound at login, a copied refresh token refused with the session alive, replayed and
 * misdirected proofs, a client that requires DPoP, revocation, introspection, the metadata.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import type { DpopKey } from '../support/dpop.ts';

const ISSUER = 'https://auth.test';
const TOKEN = `${ISSUER}/oauth/token`;
const LOGIN = `${ISSUER}/auth/login`;
const RS_SECRET = 'rs-secret-of-at-least-32-characters!';

function setup(dpop?: () => boolean) {
  const baton = createBaton({ issuer: ISSUER, keys: [generateKey('ES256', 'es')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
  const handler = createAuthHandler({
    baton,
    ...(dpop === undefined ? {} : { dpop }),
    authenticate: async (u, p) => (p === 'pw' ? { userId: `id-${u}` } : null),
    clients: staticClients([
      { id: 'default' },
      { id: 'strict', dpop: 'required' },
      { id: 'machine', secret: 'machine-secret-of-at-least-32-characters', grantTypes: ['client_credentials'] },
      { id: 'rs', secret: RS_SECRET, introspect: true },
    ]),
  });
  const post = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    handler(
      new Request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields).toString(),
      }),
      { ip: '203.0.113.9' },
    );
  /** A proof-carrying POST that follows one use_dpop_nonce answer, as a client does (§8). */
  let nonce: string | undefined;
  const withProof = async (key: DpopKey, url: string, fields: Record<string, string>, htu = url) => {
    let res = await post(url, fields, { dpop: await dpopProof(key, 'POST', htu, nonce === undefined ? {} : { nonce }) });
    if (res.status === 400 && res.headers.get('dpop-nonce') !== null) {
      nonce = res.headers.get('dpop-nonce') as string;
      res = await post(url, fields, { dpop: await dpopProof(key, 'POST', htu, { nonce }) });
    }
    nonce = res.headers.get('dpop-nonce') ?? nonce;
    return res;
  };
  const login = async (key: DpopKey, user = 'alice', clientId = 'default') => {
    const res = await withProof(key, LOGIN, { username: user, password: 'pw', client_id: clientId });
    expect(res.status).toBe(200);
    return (await res.json()) as { access_token: string; refresh_token: string; token_type: string; session_id: string };
  };
  const me = async (headers: Record<string, string>) => handler(new Request(`${ISSUER}/auth/me`, { headers }), { ip: '203.0.113.9' });
  return { baton, handler, post, withProof, login, me, currentNonce: () => nonce };
}

describe('DPoP at the token endpoint (RFC 9449)', () => {
  it('the metadata lists the proof algorithms (§5.1)', async () => {
    const { handler } = setup();
    const meta = await (await handler(new Request(`${ISSUER}/.well-known/oauth-authorization-server`), {})).json();
    expect(meta.dpop_signing_alg_values_supported).toEqual(['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256']);
  });

  it('held back (the dpop option false): no algorithms in the metadata, a proof ignored and Bearer tokens, a client that requires DPoP refused; turned on, all of it at once; a bound session refreshes with its proof even while held back', async () => {
    let on = false;
    const { handler, post, withProof, me } = setup(() => on);
    const meta = async () => (await (await handler(new Request(`${ISSUER}/.well-known/oauth-authorization-server`), {})).json()) as Record<string, unknown>;
    expect(await meta()).not.toHaveProperty('dpop_signing_alg_values_supported');
    const key = await dpopKey();
    const res = await post(LOGIN, { username: 'alice', password: 'pw' }, { dpop: await dpopProof(key, 'POST', LOGIN) });
    expect(res.status).toBe(200);
    expect(res.headers.get('dpop-nonce')).toBeNull();
    const pair = (await res.json()) as { access_token: string; refresh_token: string; token_type: string };
    expect(pair.token_type).toBe('Bearer');
    expect((await me({ authorization: `Bearer ${pair.access_token}` })).status).toBe(200);
    const refreshed = await post(TOKEN, { grant_type: 'refresh_token', refresh_token: pair.refresh_token }, { dpop: 'not even a proof' });
    expect(refreshed.status).toBe(200);
    expect(((await refreshed.json()) as { token_type: string }).token_type).toBe('Bearer');
    const strict = await post(LOGIN, { username: 'alice', password: 'pw', client_id: 'strict' }, { dpop: await dpopProof(key, 'POST', LOGIN) });
    expect(strict.status).toBe(400);
    expect(await strict.json()).toMatchObject({ error: 'invalid_dpop_proof', error_description: expect.stringContaining('does not offer yet') });

    on = true;
    expect(await meta()).toHaveProperty('dpop_signing_alg_values_supported');
    const bound = (await (await withProof(key, LOGIN, { username: 'alice', password: 'pw' })).json()) as { refresh_token: string; token_type: string };
    expect(bound.token_type).toBe('DPoP');
    // Held back again (an instance that has not heard yet that another turned DPoP on): a bound session still refreshes with its proof.
    on = false;
    const again = await withProof(key, TOKEN, { grant_type: 'refresh_token', refresh_token: bound.refresh_token });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { token_type: string }).token_type).toBe('DPoP');
  });

  it('the nonce flow (§8): a proof without a nonce gets use_dpop_nonce and the nonce; with it, a DPoP-bound pair and the next nonce', async () => {
    const { post } = setup();
    const key = await dpopKey();
    const first = await post(LOGIN, { username: 'alice', password: 'pw' }, { dpop: await dpopProof(key, 'POST', LOGIN) });
    expect(first.status).toBe(400);
    expect(await first.json()).toMatchObject({ error: 'use_dpop_nonce' });
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const stale = await post(
      LOGIN,
      { username: 'alice', password: 'pw' },
      { dpop: await dpopProof(key, 'POST', LOGIN, { nonce: 'a-nonce-this-server-never-gave-out' }) },
    );
    expect(stale.status).toBe(400);
    expect(stale.headers.get('dpop-nonce')).toBe(nonce);
    const ok = await post(LOGIN, { username: 'alice', password: 'pw' }, { dpop: await dpopProof(key, 'POST', LOGIN, { nonce: nonce as string }) });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('dpop-nonce')).toBe(nonce);
    expect(await ok.json()).toMatchObject({ token_type: 'DPoP' });
  });

  it('a copied refresh token presented without the key, or with another key, is invalid_grant and the session lives on', async () => {
    const { post, withProof, login, baton } = setup();
    const key = await dpopKey();
    const thief = await dpopKey('EdDSA');
    const pair = await login(key);
    expect(pair.refresh_token.startsWith('rtd_')).toBe(true);
    const bare = await post(TOKEN, { grant_type: 'refresh_token', refresh_token: pair.refresh_token });
    expect(bare.status).toBe(400);
    expect(await bare.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/bound to a DPoP key/) });
    const stolen = await withProof(thief, TOKEN, { grant_type: 'refresh_token', refresh_token: pair.refresh_token });
    expect(stolen.status).toBe(400);
    expect((await stolen.json()).error).toBe('invalid_grant');
    expect((await baton.listSessions('id-alice')).map((s) => s.id)).toEqual([pair.session_id]);
    const owner = await withProof(key, TOKEN, { grant_type: 'refresh_token', refresh_token: pair.refresh_token });
    expect(owner.status).toBe(200);
    expect(await owner.json()).toMatchObject({ token_type: 'DPoP', session_id: pair.session_id, refresh_token: expect.stringMatching(/^rtd_/) });
  });

  it('a replayed proof, a proof for another URL or method, and a malformed one are invalid_dpop_proof, with nothing rotated', async () => {
    const { post, withProof, login, currentNonce } = setup();
    const key = await dpopKey();
    const pair = await login(key);
    const fields = { grant_type: 'refresh_token', refresh_token: pair.refresh_token };
    const proof = await dpopProof(key, 'POST', TOKEN, { nonce: currentNonce() as string });
    expect((await post(TOKEN, fields, { dpop: proof })).status).toBe(200);
    const next = { grant_type: 'refresh_token', refresh_token: pair.refresh_token }; // in the grace window: would converge
    for (const dpop of [
      proof,
      await dpopProof(key, 'POST', `${ISSUER}/oauth/revoke`, { nonce: currentNonce() as string }),
      await dpopProof(key, 'GET', TOKEN, { nonce: currentNonce() as string }),
      'not-a-jwt',
    ]) {
      const res = await post(TOKEN, next, { dpop });
      expect(res.status).toBe(400);
      expect((await res.json()).error).toBe('invalid_dpop_proof');
    }
    expect((await withProof(key, TOKEN, next)).status).toBe(200);
  });

  it('a client that requires DPoP is refused without a proof; allowed clients keep plain Bearer', async () => {
    const { post, login } = setup();
    const res = await post(LOGIN, { username: 'bob', password: 'pw', client_id: 'strict' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_dpop_proof', error_description: expect.stringMatching(/strict must send a DPoP proof/) });
    expect((await login(await dpopKey(), 'bob', 'strict')).token_type).toBe('DPoP');
    const plain = await post(LOGIN, { username: 'bob', password: 'pw' });
    expect(await plain.json()).toMatchObject({ token_type: 'Bearer', refresh_token: expect.stringMatching(/^rt_/) });
  });

  it('client_credentials with a proof is a DPoP-bound token', async () => {
    const { withProof } = setup();
    const res = await withProof(await dpopKey(), TOKEN, {
      grant_type: 'client_credentials',
      client_id: 'machine',
      client_secret: 'machine-secret-of-at-least-32-characters',
    });
    expect(res.status).toBe(200);
    expect((await res.json()).token_type).toBe('DPoP');
  });

  it("the service's own endpoints take the DPoP scheme, and refuse the bound token as Bearer (§7.1)", async () => {
    const { login, me } = setup();
    const key = await dpopKey();
    const pair = await login(key);
    const ok = await me({
      authorization: `DPoP ${pair.access_token}`,
      dpop: await dpopProof(key, 'GET', `${ISSUER}/auth/me`, { accessToken: pair.access_token }),
    });
    expect(ok.status).toBe(200);
    expect((await ok.json()).sub).toBe('id-alice');
    const asBearer = await me({ authorization: `Bearer ${pair.access_token}` });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="baton", error="invalid_token", error_description="the token is bound to a DPoP key.*, DPoP algs="ES256 EdDSA Ed25519 RS256 PS256"$/,
    );
  });

  it('introspection names the key; revocation of a bound refresh token needs no proof (RFC 7009), and one by another key revokes nothing (200, as for an unknown token)', async () => {
    const { post, login, baton } = setup();
    const key = await dpopKey();
    const thief = await dpopKey();
    const pair = await login(key);
    const basic = { authorization: `Basic ${Buffer.from(`rs:${RS_SECRET}`).toString('base64')}` };
    const seen = await (await post(`${ISSUER}/oauth/introspect`, { token: pair.access_token }, basic)).json();
    expect(seen).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
    const wrongKey = await post(`${ISSUER}/oauth/revoke`, { token: pair.refresh_token }, { dpop: await dpopProof(thief, 'POST', `${ISSUER}/oauth/revoke`) });
    expect(wrongKey.status).toBe(200);
    expect(await wrongKey.text()).toBe('');
    expect(await baton.listSessions('id-alice')).toHaveLength(1);
    const revoked = await post(`${ISSUER}/oauth/revoke`, { token: pair.refresh_token }, { dpop: await dpopProof(key, 'POST', `${ISSUER}/oauth/revoke`) });
    expect(revoked.status).toBe(200);
    expect(await baton.listSessions('id-alice')).toHaveLength(0);
    const second = await login(key);
    const without = await post(`${ISSUER}/oauth/revoke`, { token: second.refresh_token });
    expect(without.status).toBe(200);
    expect(await baton.listSessions('id-alice')).toHaveLength(0);
  });
});
