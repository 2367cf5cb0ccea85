/**
 * CORS at the header level (the Fetch standard's CORS protocol,
 * https://fetch.spec.whatwg.org/#http-cors-protocol), called with Web Requests: the public
 * documents to any origin (`*`, no credentials); every other endpoint to the allowed origins only,
 * echoed exactly, with `Vary: Origin`, credentials only where the refresh cookie travels; preflights
 * answered from the route table without touching the store; look-alike origins get nothing. The
 * browser's side of it is test/e2e/cors.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BatonConfigError, createBaton, generateKey } from 'baton-auth';
import type { BatonStore } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import type { AuthHandlerOptions } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { autoRefresh } from 'baton-auth/adapters/express';
import { CLIENT_ORIGIN_ROUTES, isClientOriginShape } from '../../packages/baton-auth/src/http/cors.ts';

const ISSUER = 'https://auth.example.com';
const APP = 'https://app.example.com';
const API_SECRET = 'api-secret-of-at-least-32-characters';

/** The real memory store, with a count of the calls made to it. */
function countedStore(): { store: BatonStore; calls: () => number } {
  let calls = 0;
  const inner = memoryStore();
  const store = new Proxy(inner, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls: () => calls };
}

function setup(overrides: Partial<AuthHandlerOptions> = {}, issuer = ISSUER) {
  const counted = countedStore();
  const baton = createBaton({ issuer, keys: [generateKey('EdDSA', 'ed')], refreshTokenSecret: randomBytes(32), store: counted.store });
  const handler = createAuthHandler({
    baton,
    authenticate: async (u, p) => (u === 'alice' && p === 'correct horse' ? { userId: 'id-alice' } : null),
    clients: staticClients([{ id: 'default' }, { id: 'api', secret: API_SECRET, introspect: true }]),
    allowedOrigins: [APP],
    ...overrides,
  });
  const call = (path: string, init: RequestInit = {}) => handler(new Request(`${issuer}${path}`, init), { ip: '203.0.113.7' });
  const post = (path: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
    call(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body).toString() });
  const preflightOf = (path: string, origin: string, method = 'POST', headers = 'content-type,dpop') =>
    call(path, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers } });
  return { baton, handler, call, post, preflightOf, storeCalls: counted.calls };
}

const cors = (res: Response) => Object.fromEntries([...res.headers].filter(([k]) => k.startsWith('access-control-') || k === 'vary'));

/** The non-public endpoints, by the methods a page would use, and whether the refresh cookie travels there. */
const ENDPOINTS: [path: string, method: string, cookie: boolean][] = [
  ['/oauth/token', 'POST', true],
  ['/auth/login', 'POST', true],
  ['/auth/logout', 'POST', true],
  ['/oauth/revoke', 'POST', false],
  ['/oauth/introspect', 'POST', false],
  ['/oauth/revocations', 'GET', false],
  ['/auth/me', 'GET', false],
  ['/auth/sessions', 'GET', false],
  ['/auth/sessions/history', 'GET', false],
  ['/auth/sessions/s_1', 'DELETE', false],
];

/** Origins that look like the allowed one and are not (Fetch §3.1: an origin is scheme, host and port, compared whole). */
const LOOK_ALIKES = [
  'null',
  'https://app.example.com.evil.com',
  'https://evil.com',
  'https://app.example.com:8443',
  'http://app.example.com',
  'https://sub.app.example.com',
  'https://example.com',
  'https://app.example.co',
  'https://app.example.com/',
  'https://APP.example.com',
  'https://app.example.com, https://evil.com',
  '*',
];

describe('CORS: public documents', () => {
  it('metadata and the JWKS answer Access-Control-Allow-Origin: * to any origin, never with credentials, and their preflight is 204', async () => {
    const { call } = setup();
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/jwks.json']) {
      for (const origin of ['https://anyone.example', 'null', APP]) {
        const res = await call(path, { headers: { origin } });
        expect(res.status, path).toBe(200);
        expect(cors(res), `${path} ${origin}`).toEqual({ 'access-control-allow-origin': '*' });
      }
      const pre = await call(path, { method: 'OPTIONS', headers: { origin: 'https://anyone.example', 'access-control-request-method': 'GET' } });
      expect(pre.status).toBe(204);
      expect(cors(pre)).toEqual({ 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, OPTIONS', 'access-control-max-age': '600' });
    }
  });
});

describe('CORS: token, revocation, introspection and account endpoints', () => {
  it('a preflight from an allowed origin is 204 with the methods, Authorization, Content-Type and DPoP, a max age, and credentials only where the cookie travels', async () => {
    const { preflightOf } = setup();
    for (const [path, method, cookie] of ENDPOINTS) {
      const res = await preflightOf(path, APP, method, 'authorization,content-type,dpop');
      expect(res.status, path).toBe(204);
      const h = cors(res);
      expect(h['access-control-allow-origin'], path).toBe(APP);
      expect(h.vary, path).toBe('Origin');
      expect(h['access-control-allow-methods']?.split(', '), path).toContain(method);
      expect(h['access-control-allow-headers'], path).toBe('Authorization, Content-Type, DPoP');
      expect(h['access-control-max-age'], path).toBe('600');
      expect(h['access-control-allow-credentials'], path).toBe(cookie ? 'true' : undefined);
    }
  });

  it('answers an allowed origin with its exact origin, Vary: Origin and the headers a page must read, errors included', async () => {
    const { post, call } = setup();
    const login = await post('/auth/login', { username: 'alice', password: 'correct horse' }, { origin: APP });
    expect(login.status).toBe(200);
    expect(cors(login)).toEqual({
      'access-control-allow-origin': APP,
      vary: 'Origin',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'DPoP-Nonce, WWW-Authenticate, Retry-After, Date',
    });
    const { access_token } = (await login.json()) as { access_token: string };
    // A refusal a page must read (invalid_grant: sign in again) carries them too.
    const refused = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: 'rt_nope' }, { origin: APP });
    expect(refused.status).toBe(400);
    expect(cors(refused)['access-control-allow-origin']).toBe(APP);
    // Bearer endpoints: the origin, no credentials.
    const me = await call('/auth/me', { headers: { origin: APP, authorization: `Bearer ${access_token}` } });
    expect(me.status).toBe(200);
    expect(cors(me)).toEqual({
      'access-control-allow-origin': APP,
      vary: 'Origin',
      'access-control-expose-headers': 'DPoP-Nonce, WWW-Authenticate, Retry-After, Date',
    });
    const unauthorized = await call('/auth/me', { headers: { origin: APP } });
    expect(unauthorized.status).toBe(401);
    expect(cors(unauthorized)['access-control-allow-origin']).toBe(APP);
    const revoke = await post('/oauth/revoke', { token: access_token }, { origin: APP });
    expect(revoke.status).toBe(200);
    expect(cors(revoke)['access-control-allow-origin']).toBe(APP);
    expect(cors(revoke)['access-control-allow-credentials']).toBeUndefined();
    const introspect = await post(
      '/oauth/introspect',
      { token: access_token },
      { origin: APP, authorization: `Basic ${Buffer.from(`api:${API_SECRET}`).toString('base64')}` },
    );
    expect(introspect.status).toBe(200);
    expect(cors(introspect)['access-control-allow-origin']).toBe(APP);
  });

  it.each(LOOK_ALIKES)('never reflects %s: its preflight is 403 without CORS headers, its requests are refused as before', async (origin) => {
    const { preflightOf, post, call } = setup();
    for (const [path, method] of ENDPOINTS) {
      const pre = await preflightOf(path, origin, method);
      // Token and revocation: a well-formed https origin may be a public client's page (authz/client-origin.ts),
      // which the preflight cannot tell (the client is named in the body): it may send, without credentials
      // or Authorization, and the request itself is refused below.
      if (CLIENT_ORIGIN_ROUTES.has(path) && isClientOriginShape(origin)) {
        expect(pre.status, path).toBe(204);
        expect(cors(pre)['access-control-allow-credentials'], path).toBeUndefined();
        // UserInfo's credential is the access token itself: a page holding one may send it.
        expect(cors(pre)['access-control-allow-headers'], path).toBe(path === '/oauth/userinfo' ? 'Authorization, DPoP' : 'Content-Type, DPoP');
        continue;
      }
      expect(pre.status, path).toBe(403);
      expect(cors(pre), path).toEqual({ vary: 'Origin' });
    }
    for (const path of CLIENT_ORIGIN_ROUTES) {
      const res = await post(path, { grant_type: 'refresh_token', refresh_token: 'rt_x', token: 'x', client_id: 'default' }, { origin });
      // UserInfo reads the token first (it names the client): without one, 401 — unreadable there too.
      expect(res.status, path).toBe(path === '/oauth/userinfo' && isClientOriginShape(origin) ? 401 : 403);
      expect(cors(res), path).toEqual({ vary: 'Origin' });
    }
    const login = await post('/auth/login', { username: 'alice', password: 'correct horse' }, { origin });
    expect(login.status).toBe(403);
    expect(cors(login)).toEqual({ vary: 'Origin' });
    const me = await call('/auth/me', { headers: { origin } });
    expect(me.status).toBe(403);
    expect(cors(me)).toEqual({ vary: 'Origin' });
  });

  it('a request without Origin (a server, curl) gets no CORS header and works as before', async () => {
    const { post } = setup();
    const res = await post('/auth/login', { username: 'alice', password: 'correct horse' });
    expect(res.status).toBe(200);
    expect(cors(res)).toEqual({ vary: 'Origin' });
  });

  it('a loopback issuer serves its own port under each loopback name, and nothing else on the machine', async () => {
    const { preflightOf } = setup({ allowedOrigins: [] }, 'http://127.0.0.1:3000');
    for (const origin of ['http://127.0.0.1:3000', 'http://localhost:3000', 'http://[::1]:3000']) {
      expect(cors(await preflightOf('/oauth/token', origin))['access-control-allow-origin'], origin).toBe(origin);
    }
    for (const origin of ['http://localhost:3001', 'http://127.0.0.1:5173', 'https://localhost:3000', 'http://127.0.0.2:3000', 'http://localhost']) {
      const res = await preflightOf('/auth/login', origin);
      expect(res.status, origin).toBe(403);
      expect(cors(res)['access-control-allow-origin'], origin).toBeUndefined();
    }
  });

  it('a preflight reads nothing from the store and counts nothing, whoever sends it', async () => {
    const { preflightOf, storeCalls } = setup();
    await preflightOf('/oauth/token', APP); // anything lazy at start-up
    const before = storeCalls();
    for (let i = 0; i < 50; i++) {
      for (const [path, method] of ENDPOINTS) {
        expect((await preflightOf(path, i % 2 ? APP : 'https://evil.com', method)).status).toBe(i % 2 || CLIENT_ORIGIN_ROUTES.has(path) ? 204 : 403);
      }
    }
    expect(storeCalls() - before).toBe(0);
  });

  it("CORS opens no door the CSRF guard closes: another site's form post and text/plain request are still 403 before anything is read", async () => {
    const { call, storeCalls } = setup();
    const before = storeCalls();
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
      for (const path of ['/auth/login', '/oauth/token', '/oauth/revoke', '/auth/logout']) {
        const res = await call(path, {
          method: 'POST',
          headers: { origin: 'https://evil.com', 'content-type': type },
          body: 'username=alice&password=correct+horse&grant_type=refresh_token&token=x',
        });
        expect(res.status, `${path} ${type}`).toBe(403);
        expect(res.headers.get('access-control-allow-origin')).toBeNull();
      }
      // A navigation or form post that sends no Origin but says cross-site (Fetch Metadata).
      const nav = await call('/auth/login', { method: 'POST', headers: { 'sec-fetch-site': 'cross-site', 'content-type': type }, body: 'username=alice' });
      expect(nav.status).toBe(403);
    }
    expect(storeCalls() - before).toBe(0);
  });

  it('refuses allowedOrigins that are not origins (null, a path, a trailing slash) at creation, with a sentence', () => {
    for (const bad of ['null', 'https://app.example.com/', 'https://app.example.com/path', 'app.example.com', '*']) {
      expect(() => setup({ allowedOrigins: [bad] }), bad).toThrow(BatonConfigError);
      expect(() => setup({ allowedOrigins: [bad] }), bad).toThrow(/is not an origin: give scheme, host and port only/);
    }
  });

  it('names the form to write for an allowedOrigins entry a browser sends otherwise (capitals, a default port, a Unicode host, a long IPv6 form, userinfo)', () => {
    // Fetch §3.1: the Origin header is the ASCII serialisation (lowercase, punycode, no default port), compared whole.
    const cases: [bad: string, write: string][] = [
      ['https://App.Example.com', 'https://app.example.com'],
      ['https://app.example.com:443', 'https://app.example.com'],
      ['http://localhost:80', 'http://localhost'],
      ['https://bücher.example', 'https://xn--bcher-kva.example'],
      ['http://[0:0::1]:5173', 'http://[::1]:5173'],
      ['https://user@app.example.com', 'https://app.example.com'],
    ];
    for (const [bad, write] of cases) {
      expect(() => setup({ allowedOrigins: [bad] }), bad).toThrow(BatonConfigError);
      expect(() => setup({ allowedOrigins: [bad] }), bad).toThrow(`(write it as ${write})`);
    }
  });

  it('refuses a wildcard in allowedOrigins at creation: an Origin is compared whole, so https://*.example.com would allow no page at all', () => {
    for (const bad of ['https://*.example.com', 'https://app-*.example.com']) {
      expect(() => setup({ allowedOrigins: [bad] }), bad).toThrow(BatonConfigError);
      expect(() => setup({ allowedOrigins: [bad] }), bad).toThrow(/wildcard/);
    }
  });

  it('refuses a plain-http allowed origin off this machine (anyone on the network path speaks for it); loopback ones stay allowed', () => {
    for (const bad of ['http://app.example.com', 'http://192.168.1.20:5173', 'http://[fe80::1]:3000']) {
      expect(() => setup({ allowedOrigins: [bad] }), bad).toThrow(/plain-http origin off this machine/);
    }
    for (const good of ['http://localhost:5173', 'http://127.0.0.1:5173', 'http://[::1]:5173'])
      expect(() => setup({ allowedOrigins: [good] }), good).not.toThrow();
  });

  it("autoRefresh's allowedOrigins are checked the same way at creation", () => {
    const baton = createBaton({ issuer: ISSUER, keys: [generateKey('EdDSA', 'ed')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
    expect(() => autoRefresh(baton, { allowedOrigins: ['https://*.example.com'] })).toThrow(/wildcard/);
    expect(() => autoRefresh(baton, { allowedOrigins: ['http://app.example.com'] })).toThrow(/plain-http origin off this machine/);
    expect(() => autoRefresh(baton, { allowedOrigins: ['https://app.example.com'] })).not.toThrow();
  });
});
