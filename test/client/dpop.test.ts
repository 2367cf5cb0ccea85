/**
 * DPoP (RFC 9449) in the client SDK, on Node, against servers the test plays: the key kept beside
 * the token file (0600, the same key after a restart, one key for racing processes, no symbolic
 * links), proofs checked by an independent verifier (jose's `jwtVerify` with `EmbeddedJWK`) for
 * their header, htm, htu, ath, nonce and iat, and exactly one retry on `use_dpop_nonce` — at the
 * token endpoint (§8) and at a resource server (§9).
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';
import type { JWK } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { createTokenClient, generateDpopKeyPair, memoryStorage, SignInError } from 'baton-auth-client';
import type { TokenClientOptions } from 'baton-auth-client';
import { fileStorage } from 'baton-auth-client/node';
import { codeOf } from '../support/baton.ts';

const ISSUER = 'https://auth.test';
const TOKEN = `${ISSUER}/oauth/token`;
const API = 'https://api.test';
const dir = mkdtempSync(join(tmpdir(), 'baton-dpop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

/** A proof checked as a server would, by jose: the signature by the key in its header, typ, alg. */
async function verified(proof: string | null) {
  expect(proof).toEqual(expect.any(String));
  const { payload, protectedHeader } = await jwtVerify(proof as string, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
  return { payload: payload as Record<string, unknown>, header: protectedHeader, jkt: await calculateJwkThumbprint(protectedHeader.jwk as JWK, 'sha256') };
}

interface Seen {
  method: string;
  url: string;
  authorization: string | null;
  dpop: string | null;
  body: string;
}

/**
 * An authorization server and an API the test plays, as a `fetch`: metadata listing `algs`, a
 * token endpoint and `API`, each answering with `token`/`api`, each request recorded.
 */
function servers(
  o: {
    algs?: string[] | undefined;
    token?: (r: Seen, n: number) => Response | Promise<Response>;
    api?: (r: Seen, n: number) => Response | Promise<Response>;
  } = {},
) {
  const token: Seen[] = [];
  const api: Seen[] = [];
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const seen: Seen = {
      method: request.method,
      url: request.url,
      authorization: request.headers.get('authorization'),
      dpop: request.headers.get('dpop'),
      body: await request.text(),
    };
    if (url.pathname === '/.well-known/oauth-authorization-server') {
      return Response.json({ issuer: ISSUER, token_endpoint: TOKEN, ...(o.algs === undefined ? {} : { dpop_signing_alg_values_supported: o.algs }) });
    }
    if (request.url === TOKEN) {
      token.push(seen);
      return (
        o.token ?? (() => Response.json({ access_token: `at-${token.length}`, token_type: 'DPoP', expires_in: 60, refresh_token: `rt-${token.length}` }))
      )(seen, token.length);
    }
    api.push(seen);
    return (o.api ?? (() => Response.json({ ok: true })))(seen, api.length);
  };
  return { token, api, fetch: fetchImpl as typeof fetch };
}

/** A token endpoint that wants a nonce it gave (`nonce`, then `nonce-next`) in every proof (Baton's way, §8): `use_dpop_nonce` otherwise. */
function wantsNonce(nonce: string, extra: Record<string, string> = {}) {
  return async (r: Seen, n: number): Promise<Response> => {
    const { payload } = await verified(r.dpop);
    if (payload.nonce !== nonce && payload.nonce !== `${nonce}-next`)
      return Response.json({ error: 'use_dpop_nonce', error_description: 'a nonce is required' }, { status: 400, headers: { 'dpop-nonce': nonce, ...extra } });
    return Response.json(
      { access_token: `at-${n}`, token_type: 'DPoP', expires_in: 60, refresh_token: `rt-${n}` },
      { headers: { 'dpop-nonce': `${nonce}-next`, ...extra } },
    );
  };
}

const client = (s: { fetch: typeof fetch }, extra: Partial<TokenClientOptions> = {}) =>
  createTokenClient({ issuer: ISSUER, clientId: 'cli', fetch: s.fetch, allowedOrigins: [API], retry: { attempts: 2, baseMs: 1, maxMs: 2 }, ...extra });

describe('the DPoP key on Node', () => {
  it('is created 0600 beside the token file, and a new client over the same file (a restart) signs with the same key', async () => {
    const path = join(dir, 'restart', 'tokens.json');
    const s = servers({ algs: ['ES256'] });
    const first = client(s, { storage: fileStorage(path) });
    const thumbprint = await first.dpopThumbprint();
    expect(thumbprint).toMatch(/^[\w-]{43}$/);
    expect(statSync(`${path}.dpop.json`).mode & 0o777).toBe(0o600);
    const jwk = JSON.parse(readFileSync(`${path}.dpop.json`, 'utf8')) as JWK;
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', d: expect.any(String) });
    expect(await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } as JWK, 'sha256')).toBe(thumbprint);
    expect(readdirSync(join(dir, 'restart')).sort()).toEqual(['tokens.json.dpop.json']); // no temp file left

    const restarted = client(s, { storage: fileStorage(path) });
    expect(await restarted.dpopThumbprint()).toBe(thumbprint);
    await restarted.setTokens({ access_token: 'at-0', token_type: 'DPoP', expires_in: 0, refresh_token: 'rt-0' });
    await restarted.refresh();
    expect((await verified(s.token[0]?.dpop ?? null)).jkt).toBe(thumbprint); // and the proofs are signed by it
    // Signing out keeps the key: the next sign-in is bound to the same one.
    await restarted.logout();
    expect(statSync(`${path}.dpop.json`).isFile()).toBe(true);
  });

  it('racing processes over one token file end up with one key', async () => {
    const path = join(dir, 'race', 'tokens.json');
    const s = servers({ algs: ['ES256'] });
    const thumbprints = await Promise.all(Array.from({ length: 8 }, () => client(s, { storage: fileStorage(path) }).dpopThumbprint()));
    expect(new Set(thumbprints).size).toBe(1);
    expect(readdirSync(join(dir, 'race')).sort()).toEqual(['tokens.json.dpop.json']);
  });

  it('refuses a symbolic link at the key path, and a key file others can read', async () => {
    const s = servers({ algs: ['ES256'] });
    const target = join(dir, 'elsewhere.json');
    writeFileSync(target, '{"kty":"EC"}', { mode: 0o600 });
    const linked = join(dir, 'linked.json');
    symlinkSync(target, `${linked}.dpop.json`);
    expect(await codeOf(client(s, { storage: fileStorage(linked) }).dpopThumbprint())).toBe('ERR_STORAGE_UNSAFE');
    expect(readFileSync(target, 'utf8')).toBe('{"kty":"EC"}'); // never written through

    const open = join(dir, 'open.json');
    await client(s, { storage: fileStorage(open) }).dpopThumbprint();
    chmodSync(`${open}.dpop.json`, 0o644);
    expect(await codeOf(client(s, { storage: fileStorage(open) }).dpopThumbprint())).toBe('ERR_STORAGE_UNSAFE');
  });

  it('memoryStorage keeps a non-extractable key for the process; an app key pair is used as given', async () => {
    const s = servers({ algs: ['ES256'] });
    const storage = memoryStorage();
    const key = await storage.dpopKey?.('x');
    expect(key?.privateKey.extractable).toBe(false);
    expect(await client(s, { storage }).dpopThumbprint()).toBe(await client(s, { storage }).dpopThumbprint());
    const keyPair = await generateDpopKeyPair();
    const { x, y } = await crypto.subtle.exportKey('jwk', keyPair.publicKey);
    expect(await client(s, { dpop: { keyPair } }).dpopThumbprint()).toBe(await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x, y } as JWK, 'sha256'));
    const rsa = await crypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
    expect(() => client(s, { dpop: { keyPair: rsa } })).toThrow(/ECDSA P-256/);
  });

  it('off when the server does not offer ES256, with dpop: false, and for a storage that keeps no key', async () => {
    const bare = () => {
      const m = memoryStorage(); // a storage that cannot keep a key (as redisTokenStorage)
      return { get: m.get, set: m.set, clear: m.clear };
    };
    for (const [algs, extra] of [
      [undefined, {}],
      [['RS256', 'EdDSA'], {}],
      [['ES256'], { dpop: false }],
      [['ES256'], { storage: bare() }],
    ] as const) {
      const s = servers({ algs: algs as string[] | undefined });
      const c = client(s, extra as Partial<TokenClientOptions>);
      expect(await c.dpopThumbprint()).toBeUndefined();
      await c.setTokens({ access_token: 'at-0', expires_in: 0, refresh_token: 'rt-0' });
      await c.fetch(`${API}/orders`);
      expect(s.token.map((r) => r.dpop)).toEqual([null]);
      expect(s.api.map((r) => [r.authorization, r.dpop])).toEqual([['Bearer at-1', null]]);
    }
    expect(() => client(servers(), { dpop: true, storage: bare() })).toThrow(/needs a storage that keeps a DPoP key/);
  });
});

describe('proofs at the token endpoint (§5, §8)', () => {
  it('carry a proof that verifies independently; use_dpop_nonce is answered by exactly one retry with that nonce', async () => {
    const s = servers({ algs: ['ES256', 'RS256'], token: wantsNonce('n-1') });
    const c = client(s);
    await c.setTokens({ access_token: 'at-0', token_type: 'DPoP', expires_in: 0, refresh_token: 'rt-0' });
    const before = Math.floor(Date.now() / 1000);
    const tokens = await c.refresh();
    expect(tokens).toMatchObject({ accessToken: 'at-2', tokenType: 'DPoP', refreshToken: 'rt-2' });
    expect(s.token).toHaveLength(2);
    const [first, second] = await Promise.all(s.token.map((r) => verified(r.dpop)));
    for (const p of [first, second]) {
      expect(Object.keys(p!.header).sort()).toEqual(['alg', 'jwk', 'typ']);
      expect(Object.keys(p!.header.jwk as object).sort()).toEqual(['crv', 'kty', 'x', 'y']); // the public key only
      expect(p!.payload).toMatchObject({ htm: 'POST', htu: TOKEN });
      expect(p!.payload.ath).toBeUndefined(); // no access token on a token request
      expect(Math.abs((p!.payload.iat as number) - before)).toBeLessThanOrEqual(2);
      expect(Buffer.from(p!.payload.jti as string, 'base64url').length).toBeGreaterThanOrEqual(12); // ≥ 96 bits
      expect(p!.jkt).toBe(await c.dpopThumbprint());
    }
    expect(first!.payload.nonce).toBeUndefined();
    expect(second!.payload.nonce).toBe('n-1');
    expect(first!.payload.jti).not.toBe(second!.payload.jti);
    expect(s.token.map((r) => new URLSearchParams(r.body).get('refresh_token'))).toEqual(['rt-0', 'rt-0']);

    // The nonce of the last answer is used at once by the next refresh: one request.
    await c.refresh();
    expect(s.token).toHaveLength(3);
    expect((await verified(s.token[2]!.dpop)).payload.nonce).toBe('n-1-next');
  });

  it('a server that asks for a nonce again after the retry gets no third request', async () => {
    const s = servers({ algs: ['ES256'], token: (_r, n) => Response.json({ error: 'use_dpop_nonce' }, { status: 400, headers: { 'dpop-nonce': `n-${n}` } }) });
    const c = client(s, { retry: { attempts: 1 } });
    await c.setTokens({ access_token: 'at-0', expires_in: 0, refresh_token: 'rt-0' });
    expect(await codeOf(c.refresh())).toBe('ERR_CLIENT_REJECTED');
    expect(s.token).toHaveLength(2);
    expect(await c.getAccessToken().catch(() => 'kept')).toBe('kept'); // expired, but the session is not ended
    expect(s.token).toHaveLength(4); // that call tried again, once more with one nonce retry
  });

  it("iat is on the server's clock: a device 10 minutes fast corrects it from the nonce answer's Date", async () => {
    const serverNow = Date.now();
    const s = servers({ algs: ['ES256'], token: wantsNonce('n-1', { date: new Date(serverNow).toUTCString() }) });
    const c = client(s, { now: () => Date.now() + 600_000 });
    await c.setTokens({ access_token: 'at-0', expires_in: 0, refresh_token: 'rt-0' });
    await c.refresh();
    const [first, second] = await Promise.all(s.token.map((r) => verified(r.dpop)));
    expect((first!.payload.iat as number) - serverNow / 1000).toBeGreaterThan(590);
    expect(Math.abs((second!.payload.iat as number) - serverNow / 1000)).toBeLessThanOrEqual(2);
    expect(Math.round(c.clockOffset / 60_000)).toBe(-10);
  });

  it('signIn posts the form with a proof and the nonce retry, then keeps the tokens; a refusal is a SignInError with the OAuth error', async () => {
    const login = `${ISSUER}/auth/login`;
    const s = servers({
      algs: ['ES256'],
      api: (r) => {
        if (r.url !== login) return new Response(null, { status: 404 });
        if (new URLSearchParams(r.body).get('password') !== 'right')
          return Response.json({ error: 'invalid_grant', error_description: 'Wrong username or password' }, { status: 401 });
        return r.dpop?.includes('.') && s.api.length > 1
          ? Response.json({ access_token: 'at-login', token_type: 'DPoP', expires_in: 60, refresh_token: 'rt-login' }, { headers: { 'dpop-nonce': 'n-2' } })
          : Response.json({ error: 'use_dpop_nonce' }, { status: 400, headers: { 'dpop-nonce': 'n-1' } });
      },
    });
    const c = client(s);
    const tokens = await c.signIn(login, { username: 'alice', password: 'right' });
    expect(tokens).toMatchObject({ accessToken: 'at-login', tokenType: 'DPoP', refreshToken: 'rt-login' });
    expect(s.api).toHaveLength(2);
    const body = new URLSearchParams(s.api[1]!.body);
    expect([body.get('username'), body.get('password'), body.get('client_id')]).toEqual(['alice', 'right', 'cli']);
    expect(s.api[1]!.body).not.toMatch(/^\{/); // form-encoded
    const [first, second] = await Promise.all(s.api.map((r) => verified(r.dpop)));
    expect([first!.payload.nonce, second!.payload.nonce]).toEqual([undefined, 'n-1']);
    expect(second!.payload).toMatchObject({ htm: 'POST', htu: login });

    const refused = await c.signIn(login, { username: 'alice', password: 'wrong' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SignInError);
    expect(refused).toMatchObject({ code: 'ERR_SIGN_IN_REFUSED', status: 401, error: 'invalid_grant', errorDescription: 'Wrong username or password' });
    expect((await verified(s.api[2]!.dpop)).payload.nonce).toBe('n-2'); // the nonce of the last answer, no retry needed
  });
});

describe('requests with a DPoP-bound token (§7, §9)', () => {
  it('go as Authorization: DPoP with a proof naming the method, the URL without query, and the token; a 401 use_dpop_nonce is retried once with the nonce, not refreshed', async () => {
    const s = servers({
      algs: ['ES256'],
      api: (r, n) =>
        n === 1
          ? new Response(null, {
              status: 401,
              headers: {
                'www-authenticate': 'DPoP algs="ES256", error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"',
                'dpop-nonce': 'api-1',
              },
            })
          : Response.json({ echo: r.body }),
    });
    const c = client(s);
    await c.setTokens({ access_token: 'at-bound', token_type: 'DPoP', expires_in: 60, refresh_token: 'rt-0' });
    const res = await c.fetch(`${API}/orders?page=2#top`, { method: 'POST', body: new Blob(['{"n":1}']).stream(), duplex: 'half' } as RequestInit);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ echo: '{"n":1}' }); // the body replayed
    expect(s.token).toHaveLength(0); // the nonce challenge spent no refresh
    expect(s.api.map((r) => r.authorization)).toEqual(['DPoP at-bound', 'DPoP at-bound']);
    const [first, second] = await Promise.all(s.api.map((r) => verified(r.dpop)));
    for (const p of [first, second]) expect(p!.payload).toMatchObject({ htm: 'POST', htu: `${API}/orders`, ath: sha256('at-bound') });
    expect([first!.payload.nonce, second!.payload.nonce]).toEqual([undefined, 'api-1']);

    // Each origin keeps its own nonce: the API's is not sent to the token endpoint, nor the other way round.
    await c.fetch(`${API}/orders`);
    expect((await verified(s.api[2]!.dpop)).payload).toMatchObject({ htm: 'GET', nonce: 'api-1' });
  });

  it('a 401 invalid_token still refreshes once and retries with the new token; a second nonce challenge is not chased', async () => {
    const s = servers({
      algs: ['ES256'],
      api: (r) =>
        r.authorization === 'DPoP at-1'
          ? Response.json({ ok: true })
          : new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="invalid_token"' } }),
    });
    const c = client(s);
    await c.setTokens({ access_token: 'at-old', token_type: 'DPoP', expires_in: 60, refresh_token: 'rt-0' });
    expect((await c.fetch(`${API}/me`)).status).toBe(200);
    expect(s.token).toHaveLength(1);
    expect(s.api.map((r) => r.authorization)).toEqual(['DPoP at-old', 'DPoP at-1']);
    expect((await verified(s.api[1]!.dpop)).payload.ath).toBe(sha256('at-1'));

    const stubborn = servers({
      algs: ['ES256'],
      api: (_r, n) => new Response(null, { status: 401, headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': `x-${n}` } }),
    });
    const d = client(stubborn);
    await d.setTokens({ access_token: 'at-0', token_type: 'DPoP', expires_in: 60, refresh_token: 'rt-0' });
    expect((await d.fetch(`${API}/me`)).status).toBe(401);
    // One nonce retry, and no refresh: a nonce challenge says nothing of the token.
    expect(stubborn.api).toHaveLength(2);
    expect(stubborn.token).toHaveLength(0);
  });

  it('a Bearer token stays Bearer though DPoP is on, and nothing goes to origins that are not allowed', async () => {
    const s = servers({ algs: ['ES256'], token: () => Response.json({ access_token: 'at-bearer', token_type: 'Bearer', expires_in: 60 }) });
    const c = client(s);
    await c.setTokens({ access_token: 'at-0', expires_in: 0, refresh_token: 'rt-0' });
    await c.fetch(`${API}/orders`);
    expect(s.token[0]!.dpop).not.toBeNull(); // the refresh was signed; the server chose not to bind
    expect(s.api.map((r) => [r.authorization, r.dpop])).toEqual([['Bearer at-bearer', null]]);
    await c.setTokens({ access_token: 'at-bound', token_type: 'DPoP', expires_in: 60 });
    await c.fetch('https://elsewhere.test/x');
    expect(s.api.at(-1)).toMatchObject({ url: 'https://elsewhere.test/x', authorization: null, dpop: null });
    expect(await c.authorizationHeaders('PUT', `${API}/a?b=c`)).toEqual({ authorization: 'DPoP at-bound', dpop: expect.any(String) });
    expect(await codeOf(c.authorizationHeaders('GET', 'https://elsewhere.test/x'))).toBe('ERR_ORIGIN_NOT_ALLOWED');
  });

  it('a WebSocket carries the bound token and its proof (htm GET, htu the ws: URL), and each reauth a new proof', async () => {
    const opened: { url: string; protocols: string[]; sent: string[]; socket: { onmessage?: (e: { data: string }) => void } }[] = [];
    class FakeSocket {
      onmessage?: (e: { data: string }) => void;
      onclose?: () => void;
      readonly sent: string[] = [];
      constructor(url: string, protocols: string[]) {
        opened.push({ url, protocols, sent: this.sent, socket: this });
      }

      send(data: string) {
        this.sent.push(data);
      }

      close() {}
    }
    const s = servers({ algs: ['ES256'] });
    const c = client(s);
    await c.setTokens({ access_token: 'at-ws', token_type: 'DPoP', expires_in: 60, refresh_token: 'rt-0' });
    c.websocket(`${ISSUER.replace('https', 'wss')}/ws?room=1`, { WebSocket: FakeSocket as unknown as typeof WebSocket });
    await expect.poll(() => opened.length).toBe(1);
    const [v1, token, proof] = opened[0]!.protocols;
    expect([v1, token]).toEqual(['baton.v1', 'baton.dpop.at-ws']);
    expect((await verified(proof!.replace(/^baton\.proof\./, ''))).payload).toMatchObject({ htm: 'GET', htu: 'wss://auth.test/ws', ath: sha256('at-ws') });
    opened[0]!.socket.onmessage?.({ data: '{"type":"token_expiring"}' });
    await expect.poll(() => opened[0]!.sent.length).toBe(1);
    const reauth = JSON.parse(opened[0]!.sent[0]!) as { type: string; access_token: string; dpop: string };
    expect(reauth).toMatchObject({ type: 'reauth', access_token: 'at-1' });
    expect((await verified(reauth.dpop)).payload).toMatchObject({ htm: 'GET', htu: 'wss://auth.test/ws', ath: sha256('at-1') });

    const bearer = client(servers());
    await bearer.setTokens({ access_token: 'at-b', expires_in: 60 });
    bearer.websocket(`${ISSUER.replace('https', 'wss')}/ws`, { WebSocket: FakeSocket as unknown as typeof WebSocket });
    await expect.poll(() => opened.length).toBe(2);
    expect(opened[1]!.protocols).toEqual(['baton.v1', 'baton.bearer.at-b']);
  });
});
