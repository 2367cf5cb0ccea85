/**
 * The example app of each framework, driven over real HTTP: the mounted endpoints, requireAuth
 * (RFC 6750 challenges, scopes, no query-string tokens), the one-time replay guard, and the
 * transparent refresh of the backend-for-frontend mode.
 */
import type { AddressInfo } from 'node:net';
import { createServer, request } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { AccessTokenClaims, BatonEvent } from 'baton-auth';
import { createApp as expressApp } from '../../examples/express.ts';
import { createApp as honoApp } from '../../examples/hono.ts';
import { demo, DEMO_API, DEMO_USER } from '../../examples/demo.ts';
import { toWebRequest } from 'baton-auth/adapters/node';
import { ManualClock } from '../support/clock.ts';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import { frameworks as startFramework } from '../support/frameworks.ts';

type Started = { url: string; close: () => Promise<void> };

const listening = (server: Server): Promise<Started> =>
  new Promise((resolve) => {
    const done = () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) });
    if (server.listening) done();
    else server.once('listening', done);
  });

const frameworks = Object.entries(startFramework);

describe.each(frameworks)('%s example over HTTP', (_name, start) => {
  const clock = new ManualClock(Date.now());
  const events: BatonEvent[] = [];
  const app = demo('http://127.0.0.1', { now: clock.now, accessTokenTtl: '15m', onEvent: (e) => events.push(e), refreshRateLimit: false });
  let server: Started;
  beforeAll(async () => {
    server = await start(app);
  });
  afterAll(() => server.close());

  /** A login for the demo API (RFC 8707 resource), or, with `resource: null`, for the token service itself. */
  const login = async (resource: string | null = DEMO_API) => {
    const res = await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...DEMO_USER, ...(resource === null ? {} : { resource }) }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { access_token: string; refresh_token: string; session_id: string };
  };
  const get = (path: string, token?: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, { headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } });

  it('mounts the token endpoints (bodies reach the handler untouched)', async () => {
    const pair = await login();
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&refresh_token=${pair.refresh_token}`,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect((await get('/.well-known/jwks.json')).status).toBe(200);
  });

  it('requireAuth: RFC 6750 challenges, scopes, and no token in the query string', async () => {
    const pair = await login();
    const none = await get('/api/profile');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="baton", DPoP algs="ES256 EdDSA Ed25519 RS256 PS256"');
    const bad = await get('/api/profile', `${pair.access_token}x`);
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    const ok = await get('/api/profile', pair.access_token);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ user: 'user-demo', session: pair.session_id });
    // RFC 6750 §2.1: `Bearer` 1*SP b64token — two spaces are as good as one (#22).
    expect((await get('/api/profile', undefined, { authorization: `Bearer  ${pair.access_token}` })).status).toBe(200);
    expect((await get(`/api/profile?access_token=${pair.access_token}`)).status).toBe(400);
    const admin = await get('/api/admin', pair.access_token);
    expect(admin.status).toBe(403);
    expect(admin.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="admin"/);
  });

  it('RFC 6750 §3.1: another scheme is a challenge without an error code, a malformed Bearer header 400', async () => {
    const basic = await get('/api/profile', undefined, { authorization: 'Basic ZGVtbzpkZW1v' });
    expect(basic.status).toBe(401);
    expect(basic.headers.get('www-authenticate')).toBe('Bearer realm="baton", DPoP algs="ES256 EdDSA Ed25519 RS256 PS256"');
    for (const malformed of ['Bearer', 'Bearer ', 'Bearer   ', 'Bearer a b', 'Bearer tok@en']) {
      const res = await get('/api/profile', undefined, { authorization: malformed });
      expect(res.status, malformed).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    }
  });

  it('requireAuth takes a DPoP-bound token with its proof (RFC 9449 §7), refuses it as Bearer, with a proof for another URL, or replayed', async () => {
    const key = await dpopKey();
    const body = JSON.stringify({ ...DEMO_USER, resource: DEMO_API });
    const loginWith = async (nonce?: string) =>
      fetch(`${server.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', dpop: await dpopProof(key, 'POST', `${server.url}/auth/login`, nonce === undefined ? {} : { nonce }) },
        body,
      });
    const asked = await loginWith();
    expect(asked.status).toBe(400);
    const res = await loginWith(asked.headers.get('dpop-nonce') as string);
    const pair = (await res.json()) as { access_token: string; token_type: string };
    expect(pair.token_type).toBe('DPoP');
    const url = `${server.url}/api/profile?view=full`;
    const proof = await dpopProof(key, 'GET', url, { accessToken: pair.access_token });
    const ok = await fetch(url, { headers: { authorization: `DPoP ${pair.access_token}`, dpop: proof } });
    expect(ok.status).toBe(200);
    const replayed = await fetch(url, { headers: { authorization: `DPoP ${pair.access_token}`, dpop: proof } });
    expect(replayed.status).toBe(401);
    expect(replayed.headers.get('www-authenticate')).toMatch(/^DPoP algs="ES256 EdDSA Ed25519 RS256 PS256", error="invalid_dpop_proof"/);
    const elsewhere = await fetch(url, {
      headers: { authorization: `DPoP ${pair.access_token}`, dpop: await dpopProof(key, 'GET', `${server.url}/api/admin`, { accessToken: pair.access_token }) },
    });
    expect(elsewhere.status).toBe(401);
    expect((await elsewhere.json()).error).toBe('invalid_dpop_proof');
    const bearer = await get('/api/profile', pair.access_token);
    expect(bearer.status).toBe(401);
    expect(await bearer.json()).toMatchObject({ error: 'invalid_token', error_description: expect.stringMatching(/bound to a DPoP key/) });
    const unbound = await login();
    const wrongScheme = await fetch(url, {
      headers: { authorization: `DPoP ${unbound.access_token}`, dpop: await dpopProof(key, 'GET', url, { accessToken: unbound.access_token }) },
    });
    expect(wrongScheme.status).toBe(401);
    expect(wrongScheme.headers.get('www-authenticate')).toMatch(/^DPoP algs="[^"]+", error="invalid_token"/);
  });

  it('audience: a token for the token service itself, or for another API, is refused by this API', async () => {
    const own = await login(null);
    const res = await get('/api/profile', own.access_token);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect((await get('/api/profile', (await login()).access_token)).status).toBe(200);
  });

  it("a revoked session's token is refused with why the session ended (session_end)", async () => {
    const pair = await login();
    const other = await login();
    await app.baton.revokeSession(pair.session_id, { reason: 'kicked', by: other.session_id });
    const res = await get('/api/profile', pair.access_token);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_token', session_end: { reason: 'kicked', by: { session_id: other.session_id } } });
  });

  it('no client grants itself a scope: a login asking for admin gets invalid_scope, and /api/admin stays shut', async () => {
    const res = await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...DEMO_USER, scope: 'admin orders:write payments:*' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_scope' });
    const pair = await login();
    expect((await get('/api/admin', pair.access_token)).status).toBe(403);
  });

  it('oneTime: 50 parallel uses of one token, exactly one succeeds', async () => {
    const pair = await login();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => fetch(`${server.url}/api/transfer`, { method: 'POST', headers: { authorization: `Bearer ${pair.access_token}` } })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    const refused = results.filter((r) => r.status === 401);
    expect(refused).toHaveLength(49);
    expect(await refused[0]?.json()).toMatchObject({ error: 'invalid_token', error_description: 'The access token was already used' });
  });

  it('autoRefresh: an expired access cookie is refreshed on the way, once for many parallel requests', async () => {
    const res = await fetch(`${server.url}/bff/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(DEMO_USER) });
    const jar = () =>
      res.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ');
    const cookies = jar();
    expect(cookies).toMatch(/^__Host-baton_at=.+; __Host-baton_rt=rt_/);
    expect(res.headers.getSetCookie()[1]).toMatch(/HttpOnly; SameSite=Strict; Secure/);
    expect((await get('/bff/profile', undefined, { cookie: cookies })).status).toBe(200);

    clock.advance(16 * 60_000); // the access token has expired
    const before = events.filter((e) => e.type === 'refresh.rotated').length;
    const parallel = await Promise.all(Array.from({ length: 20 }, () => get('/bff/profile', undefined, { cookie: cookies })));
    for (const r of parallel) {
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ user: 'user-demo' });
    }
    expect(events.filter((e) => e.type === 'refresh.rotated').length - before).toBe(1);
    const renewed = parallel[0]?.headers.getSetCookie() ?? [];
    expect(renewed).toHaveLength(2);
    const fresh = renewed.map((c) => c.split(';')[0]).join('; ');
    expect((await get('/bff/profile', undefined, { cookie: fresh })).status).toBe(200);

    const sid = (await app.baton.verify(/baton_at=([^;]+)/.exec(fresh)?.[1] as string)).sid as string;
    await app.baton.revokeSession(sid);
    const after = await get('/bff/profile', undefined, { cookie: fresh });
    expect(after.status).toBe(401);
    expect(after.headers.getSetCookie().every((c) => /Max-Age=0/.test(c))).toBe(true);
    expect(after.headers.getSetCookie()).toHaveLength(2);
  });
});

describe('hono example without node-server (app.request, as on Bun or Workers)', () => {
  const { baton, handler } = demo('http://127.0.0.1', { refreshRateLimit: false });
  const app = honoApp(baton, handler);

  it('reads the bearer header and the query from the Web Request', async () => {
    expect((await app.request('/api/profile')).status).toBe(401);
    const login = await app.request('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...DEMO_USER, resource: DEMO_API }),
    });
    expect(login.status).toBe(200);
    const { access_token } = (await login.json()) as { access_token: string };
    const ok = await app.request('/api/profile', { headers: { authorization: `Bearer ${access_token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ user: 'user-demo' });
    const inQuery = await app.request(`/api/profile?access_token=${access_token}`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(inQuery.status).toBe(400);
  });
});

describe('adapters alike', () => {
  it('requireAuth without an audience fails when the route is made, with a sentence', async () => {
    const { baton } = demo('http://127.0.0.1');
    const adapters = [await import('baton-auth/adapters/express'), await import('baton-auth/adapters/fastify'), await import('baton-auth/adapters/hono')];
    for (const { requireAuth } of adapters) {
      expect(() => requireAuth(baton, {} as never)).toThrow(/requireAuth needs the audience this API serves/);
      expect(() => requireAuth(baton, { audience: baton.audience })).not.toThrow();
    }
  });

  it('Express: endpoints see the client at req.ip, which follows trust proxy', async () => {
    const { baton, handler } = demo('http://127.0.0.1', { refreshRateLimit: false });
    const app = expressApp(baton, handler);
    app.set('trust proxy', 1);
    const { url, close } = await listening(app.listen(0, '127.0.0.1'));
    try {
      const res = await fetch(`${url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.77' },
        body: JSON.stringify(DEMO_USER),
      });
      expect(res.status).toBe(200);
      expect((await baton.listSessions('user-demo')).map((s) => s.device.ip)).toEqual(['203.0.113.77']);
    } finally {
      await close();
    }
  });

  it('auth is typed as the claims in all three', () => {
    expectTypeOf<import('express').Request['auth']>().toEqualTypeOf<Readonly<AccessTokenClaims>>();
    expectTypeOf<import('fastify').FastifyRequest['auth']>().toEqualTypeOf<Readonly<AccessTokenClaims>>();
    expectTypeOf<import('baton-auth/adapters/hono').BatonVariables['auth']>().toEqualTypeOf<Readonly<AccessTokenClaims>>();
  });
});

describe('toWebRequest on a real socket', () => {
  /** Serves one request through `read`, and hands back what `toWebRequest` gave or threw. */
  async function oneRequest(read: (req: IncomingMessage) => Promise<Request>, send: (url: string) => void): Promise<{ body?: string; error?: unknown }> {
    let settle!: (outcome: { body?: string; error?: unknown }) => void;
    const outcome = new Promise<{ body?: string; error?: unknown }>((r) => (settle = r));
    const server = createServer((req, res) => {
      read(req)
        .then(
          async (r) => settle({ body: await r.text() }),
          (error: unknown) => settle({ error }),
        )
        .finally(() => res.end());
    });
    const { url, close } = await listening(server.listen(0, '127.0.0.1'));
    try {
      send(url);
      return await outcome;
    } finally {
      server.closeAllConnections();
      await close();
    }
  }

  it('rejects when the client goes away mid-body, instead of waiting forever', async () => {
    const got = await oneRequest(
      (req) => toWebRequest(req, { origin: 'http://localhost', maxBodyBytes: 1000 }),
      (url) => {
        const partial = request(url, { method: 'POST', headers: { 'content-length': '100' } });
        partial.on('error', () => undefined);
        partial.write('grant_type=refresh', () => setTimeout(() => partial.destroy(), 20));
      },
    );
    expect(got.error).toBeInstanceOf(Error);
  });

  it('gives an empty body when a parser has already read it', async () => {
    const drained = async (req: IncomingMessage) => {
      for await (const chunk of req) void chunk; // what express.json() or similar would have done
      return toWebRequest(req, { origin: 'http://localhost', maxBodyBytes: 1000, url: '/rewritten?x=1' });
    };
    const got = await oneRequest(drained, (url) => {
      const r = request(url, { method: 'POST' });
      r.on('error', () => undefined);
      r.end('grant_type=refresh_token');
    });
    expect(got).toEqual({ body: '' });
  });
});
