/**
 * The server decides the scope and knows its clients (RFC 6749 §2.3, §3.3, §5.2, §6; RFC 7009
 * §2.1; RFC 7662 §2.1): no client grants itself a scope, a refresh token stays with its client,
 * confidential clients authenticate, wrong credentials are a 401 with a challenge.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';

const ISSUER = 'https://auth.test';
const SECRET = 'reports-secret-of-at-least-32-characters!';
const GATEWAY_SECRET = 'gateway-secret-of-at-least-32-characters';
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

function setup() {
  const baton = createBaton({ issuer: ISSUER, keys: [generateKey('HS256', 'k')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
  const handler = createAuthHandler({
    baton,
    // alice may be granted profile and orders:read; never admin.
    authenticate: async (u, p) => (u === 'alice' && p === 'pw' ? { userId: 'alice', scope: 'profile orders:read' } : null),
    clients: staticClients([
      { id: 'default', scopes: ['profile'] },
      { id: 'shop', scopes: ['profile', 'orders:read', 'admin'] },
      { id: 'reports', secret: SECRET, scopes: ['orders:read'] },
      { id: 'gateway', secret: GATEWAY_SECRET, introspect: true },
    ]),
  });
  const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    handler(
      new Request(`${ISSUER}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields),
      }),
      { ip: '203.0.113.9' },
    );
  const login = async (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    post('/auth/login', { username: 'alice', password: 'pw', ...fields }, headers);
  return { baton, post, login };
}

describe('scope (RFC 6749 §3.3)', () => {
  it('a login asking for a scope the user may not have gets invalid_scope, never the scope', async () => {
    const { login } = setup();
    const res = await login({ client_id: 'shop', scope: 'profile admin' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_scope' });
  });

  it('a login asking for a scope the client may not ask for gets invalid_scope', async () => {
    const { login } = setup();
    expect(await (await login({ scope: 'orders:read' })).json()).toMatchObject({ error: 'invalid_scope' });
    expect(await (await login({ client_id: 'shop', scope: 'orders:read' })).json()).toMatchObject({ scope: 'orders:read' });
  });

  it('no scope asked: what both the user and the client allow; none of either: no scope member', async () => {
    const { login } = setup();
    expect(await (await login({ client_id: 'shop' })).json()).toMatchObject({ scope: 'profile orders:read' });
    const body = (await (await login({ client_id: 'reports' }, { authorization: basic('reports', SECRET) })).json()) as Record<string, unknown>;
    expect(body.scope).toBe('orders:read');
  });

  it('a refresh may narrow (RFC 6749 §6) and never widen; a wider ask changes nothing', async () => {
    const { login, post } = setup();
    const pair = (await (await login({ client_id: 'shop' })).json()) as { refresh_token: string };
    const wider = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: 'shop', scope: 'admin' });
    expect(wider.status).toBe(400);
    expect(await wider.json()).toMatchObject({ error: 'invalid_scope' });
    const narrow = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: 'shop', scope: 'profile' });
    expect(await narrow.json()).toMatchObject({ scope: 'profile' });
  });
});

describe('clients (RFC 6749 §2.3, §5.2)', () => {
  it('an unknown client is invalid_client with a challenge, at login and at the token endpoint', async () => {
    const { login, post } = setup();
    for (const res of [
      await login({ client_id: 'nobody' }),
      await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: 'rt_x', client_id: 'nobody' }),
    ]) {
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="baton"/);
      expect(await res.json()).toMatchObject({ error: 'invalid_client' });
    }
  });

  it('a confidential client must authenticate, by Basic or by post, never both, never a public client with a secret', async () => {
    const { login, post } = setup();
    expect((await login({ client_id: 'reports' })).status).toBe(401);
    expect((await login({}, { authorization: basic('reports', 'wrong-secret-wrong-secret-wrong-secret') })).status).toBe(401);
    const pair = (await (await login({}, { authorization: basic('reports', SECRET) })).json()) as { refresh_token: string };
    const refresh = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      post('/oauth/token', { grant_type: 'refresh_token', ...fields }, headers);
    expect((await refresh({ refresh_token: pair.refresh_token, client_id: 'reports' })).status).toBe(401);
    const both = await refresh({ refresh_token: pair.refresh_token, client_id: 'reports', client_secret: SECRET }, { authorization: basic('reports', SECRET) });
    expect(both.status).toBe(400);
    const viaPost = (await (await refresh({ refresh_token: pair.refresh_token, client_id: 'reports', client_secret: SECRET })).json()) as {
      refresh_token: string;
    };
    expect((await refresh({ refresh_token: viaPost.refresh_token }, { authorization: basic('reports', SECRET) })).status).toBe(200);
    expect((await login({ client_id: 'shop', client_secret: SECRET })).status).toBe(401);
  });

  it('a refresh token stays with its client: naming none or another refreshes nothing, and the session lives on', async () => {
    const { login, post } = setup();
    const pair = (await (await login({ client_id: 'shop' })).json()) as { refresh_token: string };
    for (const fields of [{}, { client_id: 'default' }]) {
      const res = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token, ...fields });
      expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    }
    expect((await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: 'shop' })).status).toBe(200);
  });

  it("RFC 7009 §2.1, §2.2: another client's valid token gets the answer of an unknown one (200, same body), and nothing is revoked", async () => {
    const { login, post, baton } = setup();
    const pair = (await (await login({ client_id: 'shop' })).json()) as { access_token: string; refresh_token: string };
    const answer = async (res: Response) => ({ status: res.status, headers: [...res.headers].filter(([h]) => h !== 'date'), body: await res.text() });
    const unknown = await answer(await post('/oauth/revoke', { token: `rt_${'A'.repeat(22)}.0.${'A'.repeat(43)}` }));
    expect(unknown.status).toBe(200);
    for (const token of [pair.refresh_token, pair.access_token]) {
      expect(await answer(await post('/oauth/revoke', { token })), 'as the default client').toEqual(unknown);
      expect(await answer(await post('/oauth/revoke', { token }, { authorization: basic('reports', SECRET) })), 'as a confidential client').toEqual(unknown);
    }
    await baton.verify(pair.access_token);
    const refreshed = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: 'shop' });
    expect(refreshed.status).toBe(200); // the session lives on
    const next = (await refreshed.json()) as { access_token: string; refresh_token: string };
    expect((await post('/oauth/revoke', { token: next.refresh_token, client_id: 'shop' })).status).toBe(200);
    await expect(baton.verify(next.access_token)).rejects.toMatchObject({ code: 'ERR_SESSION_REVOKED' });
  });

  it('RFC 7662 §2.1: introspection only for an authenticated confidential client; a resource server sees every token, another client its own', async () => {
    const { login, post } = setup();
    const pair = (await (await login({ client_id: 'shop' })).json()) as { access_token: string };
    for (const fields of [{}, { client_id: 'shop' }, { client_id: 'default' }]) {
      const res = await post('/oauth/introspect', { token: pair.access_token, ...fields });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'invalid_client' });
    }
    const gateway = await post('/oauth/introspect', { token: pair.access_token }, { authorization: basic('gateway', GATEWAY_SECRET) });
    expect(await gateway.json()).toMatchObject({ active: true, client_id: 'shop' });
    const other = await post('/oauth/introspect', { token: pair.access_token }, { authorization: basic('reports', SECRET) });
    expect(await other.json()).toEqual({ active: false });
    const own = (await (await login({}, { authorization: basic('reports', SECRET) })).json()) as { access_token: string };
    const mine = await post('/oauth/introspect', { token: own.access_token }, { authorization: basic('reports', SECRET) });
    expect(await mine.json()).toMatchObject({ active: true, client_id: 'reports' });
  });

  it('wrong client secrets are throttled at every endpoint, per client and address', async () => {
    const { post } = setup();
    const wrong = { authorization: basic('reports', 'wrong-secret-of-at-least-32-characters') };
    for (let i = 0; i < 9; i++) expect((await post('/oauth/revoke', { token: 'x' }, wrong)).status).toBe(401);
    expect((await post('/oauth/revoke', { token: 'x' }, wrong)).status).toBe(429);
    expect((await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: 'rt_x' }, { authorization: basic('reports', SECRET) })).status).toBe(429);
  });
});
