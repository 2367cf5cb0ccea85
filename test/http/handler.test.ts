/**
 * The HTTP surface, called with Web Requests (no server).
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { createLoginProtection } from '../../packages/baton-auth/src/http/login-protection.ts';
import type { AuthHandlerOptions } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';

const ISSUER = 'https://auth.test';
const API_SECRET = 'api-secret-of-at-least-32-characters';

function setup(overrides: Partial<AuthHandlerOptions> = {}) {
  const baton = createBaton({ issuer: ISSUER, keys: [generateKey('EdDSA', 'ed')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
  const users: Record<string, string> = { alice: 'correct horse', bob: 'battery staple' };
  const handler = createAuthHandler({
    baton,
    authenticate: async (u, p) => (users[u] === p ? { userId: `id-${u}` } : null),
    clients: staticClients([{ id: 'default' }, { id: 'web' }, { id: 'cli' }, { id: 'api', secret: API_SECRET, introspect: true }]),
    ...overrides,
  });
  const call = (path: string, init: RequestInit = {}, ip = '203.0.113.7') => handler(new Request(`${ISSUER}${path}`, init), { ip });
  const form = (fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  const jsonBody = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const login = async (user = 'alice', extra: Record<string, string> = {}) => {
    const res = await call('/auth/login', jsonBody({ username: user, password: users[user], ...extra }));
    expect(res.status).toBe(200);
    return (await res.json()) as { access_token: string; refresh_token: string; session_id: string; expires_in: number };
  };
  const bearer = (token: string, init: RequestInit = {}): RequestInit => ({
    ...init,
    headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` },
  });
  return { baton, handler, call, form, jsonBody, login, bearer };
}

describe('discovery', () => {
  it('publishes RFC 8414 metadata and the JWKS', async () => {
    const { call } = setup();
    const meta = await (await call('/.well-known/oauth-authorization-server')).json();
    expect(meta).toMatchObject({
      issuer: ISSUER,
      token_endpoint: `${ISSUER}/oauth/token`,
      revocation_endpoint: `${ISSUER}/oauth/revoke`,
      introspection_endpoint: `${ISSUER}/oauth/introspect`,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    });
    const jwks = (await (await call('/.well-known/jwks.json')).json()) as { keys: { kid: string; alg: string }[] };
    expect(jwks.keys).toMatchObject([{ kid: 'ed', alg: 'EdDSA', use: 'sig' }]);
  });
});

describe('POST /auth/login', () => {
  it('answers RFC 6749 §5.1 with no-store, from JSON or a form', async () => {
    const { call, form, jsonBody } = setup();
    for (const init of [jsonBody({ username: 'alice', password: 'correct horse' }), form({ username: 'alice', password: 'correct horse', client_id: 'cli' })]) {
      const res = await call('/auth/login', init);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('pragma')).toBe('no-cache');
      expect(await res.json()).toMatchObject({
        token_type: 'Bearer',
        expires_in: 900,
        access_token: expect.any(String),
        refresh_token: expect.stringMatching(/^rt_/),
        session_id: expect.any(String),
      });
    }
  });

  it('gives browsers the refresh token only as an HttpOnly, Secure, SameSite=Strict __Host- cookie (bound to this host, no sibling can plant one)', async () => {
    const { call, jsonBody } = setup();
    const res = await call('/auth/login', jsonBody({ username: 'alice', password: 'correct horse', refresh_token_delivery: 'cookie' }, { origin: ISSUER }));
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.refresh_token).toBeUndefined();
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^__Host-baton_rt=rt_[^;]+; Path=\/; HttpOnly; SameSite=Strict; Secure; Max-Age=\d+$/);
  });

  it('refuses wrong passwords, missing fields, wrong content types and oversized bodies', async () => {
    const { call, jsonBody } = setup();
    expect((await call('/auth/login', jsonBody({ username: 'alice', password: 'nope' }))).status).toBe(401);
    const missing = await call('/auth/login', jsonBody({ username: 'alice' }));
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: 'invalid_request' });
    expect((await call('/auth/login', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })).status).toBe(400);
    expect((await call('/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":' })).status).toBe(400);
    expect((await call('/auth/login', jsonBody({ username: 'a', password: 'x'.repeat(20_000) }))).status).toBe(413);
    expect((await call('/auth/login', jsonBody([1, 2]))).status).toBe(400);
  });

  it('refuses, by default, a username after 10 failures in a row from one address, there only; successes never count', async () => {
    const { call, jsonBody } = setup();
    const attempt = (username: string, password: string, ip = '203.0.113.7') => call('/auth/login', jsonBody({ username, password }), ip);
    for (let i = 0; i < 15; i++) expect((await attempt('alice', 'correct horse')).status).toBe(200);
    for (let i = 0; i < 9; i++) expect((await attempt('alice', 'guess')).status).toBe(401);
    const tenth = await attempt('alice', 'guess');
    expect(tenth.status).toBe(429);
    expect(Number(tenth.headers.get('retry-after'))).toBeGreaterThan(3590); // 1 h, less the time since
    expect((await attempt('alice', 'correct horse')).status).toBe(429);
    expect((await attempt('alice', 'correct horse', '198.51.100.1')).status).toBe(200);
    expect((await attempt('bob', 'battery staple')).status).toBe(200);
    expect((await attempt('\ud800', 'guess', '\udc00')).status).toBe(401); // lone surrogates in the keys
  });

  it('refuses an address past its failures per day, whatever the username', async () => {
    const { call, jsonBody } = setup({ loginProtection: createLoginProtection({ failuresPerIp: { max: 5, windowMs: 86_400_000 } }) });
    for (let i = 0; i < 4; i++) expect((await call('/auth/login', jsonBody({ username: `user${i}`, password: 'guess' }))).status).toBe(401);
    expect((await call('/auth/login', jsonBody({ username: 'user4', password: 'guess' }))).status).toBe(429);
    const refused = await call('/auth/login', jsonBody({ username: 'bob', password: 'battery staple' }));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(86_390); // a day, less the time since
    expect((await call('/auth/login', jsonBody({ username: 'bob', password: 'battery staple' }), '198.51.100.1')).status).toBe(200);
  });
});

describe('POST /oauth/token (RFC 6749 §6)', () => {
  it('rotates a refresh token from the body; the old one converges within the grace window', async () => {
    const { call, form, login } = setup();
    const pair = await login();
    const res = await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }));
    expect(res.status).toBe(200);
    const next = (await res.json()) as { refresh_token: string };
    expect(next.refresh_token).not.toBe(pair.refresh_token);
    const again = (await (await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }))).json()) as {
      refresh_token: string;
    };
    expect(again.refresh_token).toBe(next.refresh_token);
  });

  it('answers RFC 6749 §5.2 errors', async () => {
    const { call, form, login } = setup();
    const pair = await login('alice', { client_id: 'web' });
    const cases: [Record<string, string>, number, string][] = [
      [{}, 400, 'invalid_request'],
      [{ grant_type: 'password', username: 'a' }, 400, 'unsupported_grant_type'],
      [{ grant_type: 'refresh_token' }, 400, 'invalid_request'],
      [{ grant_type: 'refresh_token', refresh_token: 'rt_forged.0.x' }, 400, 'invalid_grant'],
      [{ grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: 'cli' }, 400, 'invalid_grant'],
      [{ grant_type: 'refresh_token', refresh_token: pair.refresh_token }, 400, 'invalid_grant'],
      [{ grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: 'other' }, 401, 'invalid_client'],
    ];
    for (const [fields, status, error] of cases) {
      const res = await call('/oauth/token', form(fields));
      expect(res.status, JSON.stringify(fields)).toBe(status);
      expect(await res.json()).toMatchObject({ error, error_description: expect.any(String) });
    }
    const repeated = await call('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=refresh_token&grant_type=refresh_token',
    });
    expect(repeated.status).toBe(400);
  });

  it('takes the refresh token from the cookie only from an allowed origin (CSRF), clears a dead cookie, refuses two of a name', async () => {
    const { call, form, jsonBody } = setup();
    const loginRes = await call(
      '/auth/login',
      jsonBody({ username: 'alice', password: 'correct horse', refresh_token_delivery: 'cookie' }, { origin: ISSUER }),
    );
    const cookie = (loginRes.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const attempt = (headers: Record<string, string>) => call('/oauth/token', form({ grant_type: 'refresh_token' }, { cookie, ...headers }));
    expect((await attempt({ origin: 'https://evil.test' })).status).toBe(403);
    expect((await attempt({ 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await attempt({})).status).toBe(403);
    const ok = await attempt({ origin: ISSUER });
    expect(ok.status).toBe(200);
    expect((await ok.json()) as object).not.toHaveProperty('refresh_token');
    expect(ok.headers.get('set-cookie')).toMatch(/^__Host-baton_rt=rt_/);
    const sameOrigin = await call(
      '/oauth/token',
      form({ grant_type: 'refresh_token' }, { cookie: (ok.headers.get('set-cookie') ?? '').split(';')[0] as string, 'sec-fetch-site': 'same-origin' }),
    );
    expect(sameOrigin.status).toBe(200);
    const dead = await attempt({ origin: ISSUER, cookie: '__Host-baton_rt=rt_AAAAAAAAAAAAAAAAAAAAAA.0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    expect(dead.status).toBe(400);
    expect(dead.headers.get('set-cookie')).toMatch(/^__Host-baton_rt=; .*Max-Age=0/);
    // Two cookies of the name (one planted beside ours) are ambiguous: refused, not the first taken.
    const twice = await attempt({ origin: ISSUER, cookie: `${cookie}; __Host-baton_rt=rt_planted` });
    expect(twice.status).toBe(400);
    expect(await twice.json()).toMatchObject({ error: 'invalid_request' });
  });
});

describe('revocation and introspection', () => {
  it('RFC 7009: 200 for anything, and the token stops working', async () => {
    const { call, form, login, bearer } = setup();
    const pair = await login();
    expect((await call('/oauth/revoke', form({ token: 'junk' }))).status).toBe(200);
    expect((await call('/oauth/revoke', form({ token: pair.refresh_token, token_type_hint: 'refresh_token' }))).status).toBe(200);
    const me = await call('/auth/me', bearer(pair.access_token));
    expect(me.status).toBe(401);
    expect(me.headers.get('www-authenticate')).toMatch(/^Bearer realm="baton", error="invalid_token", error_description="/);
  });

  it('RFC 7662: resource servers authenticate with client_secret_basic', async () => {
    const { call, form, login } = setup();
    const pair = await login();
    const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });
    for (const headers of [{}, basic('api', 'wrong'), basic('nobody', API_SECRET), { authorization: 'Bearer x' }]) {
      const res = await call('/oauth/introspect', form({ token: pair.access_token }, headers));
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic/);
    }
    const ok = await call('/oauth/introspect', form({ token: pair.access_token }, basic('api', API_SECRET)));
    expect(await ok.json()).toMatchObject({ active: true, sub: 'id-alice', token_type: 'Bearer' });
    const inactive = await call('/oauth/introspect', form({ token: 'nope' }, basic('api', API_SECRET)));
    expect(await inactive.json()).toEqual({ active: false });
  });
});

describe('sessions, logout, me', () => {
  it("lists the caller's devices with the current one marked, kicks one, refuses others' sessions", async () => {
    const { call, login, bearer } = setup();
    const laptop = await login();
    const phone = await login();
    const bob = await login('bob');
    const list = (await (await call('/auth/sessions', bearer(laptop.access_token))).json()) as { sessions: { id: string; current: boolean }[] };
    expect(list.sessions.map((s) => [s.id, s.current])).toEqual([
      [laptop.session_id, true],
      [phone.session_id, false],
    ]);
    expect((await call(`/auth/sessions/${bob.session_id}`, bearer(laptop.access_token, { method: 'DELETE' }))).status).toBe(404);
    expect((await call(`/auth/sessions/${phone.session_id}`, bearer(laptop.access_token, { method: 'DELETE' }))).status).toBe(204);
    expect((await call('/auth/me', bearer(phone.access_token))).status).toBe(401);
    expect(await (await call('/auth/me', bearer(laptop.access_token))).json()).toMatchObject({ sub: 'id-alice', sid: laptop.session_id });
  });

  it('logs out here, everywhere else, or everywhere', async () => {
    const { call, login, bearer, jsonBody } = setup();
    const [a, b, c] = [await login(), await login(), await login()];
    const others = await call('/auth/logout', bearer(a.access_token, jsonBody({ scope: 'others' })));
    expect(await others.json()).toEqual({ revoked: [b.session_id, c.session_id] });
    expect((await call('/auth/me', bearer(a.access_token))).status).toBe(200);
    const local = await call('/auth/logout', bearer(a.access_token, { method: 'POST' }));
    expect(await local.json()).toEqual({ revoked: [a.session_id] });
    expect(local.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    const [d, e] = [await login(), await login()];
    expect(await (await call('/auth/logout?scope=global', bearer(d.access_token, { method: 'POST' }))).json()).toEqual({
      revoked: [d.session_id, e.session_id],
    });
    expect((await call('/auth/logout', bearer(d.access_token, jsonBody({ scope: 'bogus' })))).status).toBe(401);
  });

  it('RFC 6750: challenges without a token or with another scheme, refuses the query string, a malformed Bearer header is 400', async () => {
    const { call, login } = setup();
    const pair = await login();
    const none = await call('/auth/me');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="baton", DPoP algs="ES256 EdDSA Ed25519 RS256 PS256"');
    expect((await call(`/auth/me?access_token=${pair.access_token}`)).status).toBe(400);
    // RFC 6750 §3.1: another scheme lacks Bearer credentials (a challenge, no error code); a malformed Bearer header is invalid_request.
    const basic = await call('/auth/me', { headers: { authorization: 'Basic abc' } });
    expect(basic.status).toBe(401);
    expect(basic.headers.get('www-authenticate')).toBe('Bearer realm="baton", DPoP algs="ES256 EdDSA Ed25519 RS256 PS256"');
    for (const header of ['Bearer', `Bearer ${pair.access_token} extra`, 'Bearer   ']) {
      const res = await call('/auth/me', { headers: { authorization: header } });
      expect(res.status, header.slice(0, 20)).toBe(400);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_request"/);
    }
    expect((await call('/auth/me', { headers: { authorization: `bearer ${pair.access_token}` } })).status).toBe(200); // the scheme is case-blind
    expect((await call('/auth/me', { headers: { authorization: `bearer  ${pair.access_token}` } })).status).toBe(200); // 1*SP (RFC 6750 §2.1)
  });
});

describe('methods, paths and hostile input', () => {
  it('405 with Allow, 404 for the unknown', async () => {
    const { call } = setup();
    const res = await call('/oauth/token');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST, OPTIONS');
    expect((await call('/nope')).status).toBe(404);
  });

  it('never answers 500, whatever the request', async () => {
    const { call } = setup();
    const paths = [
      '/auth/login',
      '/oauth/token',
      '/oauth/revoke',
      '/oauth/introspect',
      '/auth/logout',
      '/auth/sessions',
      '/auth/sessions/x',
      '/auth/me',
      '/%E0%A4%A',
      '/.well-known/jwks.json',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'),
        fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', '', 'application/json; charset=utf-8'),
        fc.string({ maxLength: 200 }),
        fc.option(fc.string({ maxLength: 60 }), { nil: undefined }),
        async (path, method, type, body, auth) => {
          const headers: Record<string, string> = {};
          if (type) headers['content-type'] = type;
          if (auth !== undefined) headers.authorization = auth.replace(/[\r\n]/g, '');
          let res: Response;
          try {
            res = await call(path, { method, headers, ...(method === 'GET' ? {} : { body }) });
          } catch (err) {
            if (err instanceof TypeError) return; // a header the Fetch API itself refuses to build
            throw err;
          }
          expect(res.status).toBeLessThan(500);
          // RFC 6749 §5.2 and RFC 6750 §3: error_description is printable ASCII without " or \ (#22: a § slipped through).
          const allowed = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;
          if (res.status >= 400 && res.headers.get('content-type')?.startsWith('application/json')) {
            const description = ((await res.json()) as { error_description?: string }).error_description ?? '';
            expect(description).toMatch(allowed);
          }
          const challenge = res.headers.get('www-authenticate') ?? '';
          expect(/error_description="([^"]*)"/.exec(challenge)?.[1] ?? '').toMatch(allowed);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('RFC 6749 §5.2: an error_description carries printable ASCII only, in the body and in the challenge (a § reads "section")', async () => {
    const { call, form } = setup();
    const res = await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: 'rt_x', resource: 'https://api.test/#frag' }));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_target');
    expect(body.error_description).toMatch(/RFC 8707 section 2/);
    expect(body.error_description).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/);
  });
});
