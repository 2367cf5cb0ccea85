/**
 * Per-API audiences (RFC 8707 resource indicators, RFC 9068 §3), `client_credentials` (RFC 6749
 * §4.4) and the conformance details of the token service: a token for API A is refused by API B,
 * no client gets a token for an API it was not allowed, a failed narrowing changes nothing.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey, parseResources } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { codeOf } from '../support/baton.ts';

const ISSUER = 'https://auth.test';
const A = 'https://orders.api.test';
const B = 'https://reports.api.test';
const SECRET = 'machine-secret-of-at-least-32-characters';
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const payload = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>;

function setup(issuer = ISSUER) {
  const baton = createBaton({ issuer, keys: [generateKey('EdDSA', 'k')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
  const handler = createAuthHandler({
    baton,
    authenticate: async (u, p) => (u === 'alice' && p === 'pw' ? { userId: 'alice', scope: 'orders:read' } : null),
    resources: [A, B],
    scopes: ['orders:read', 'reports:run'],
    clients: staticClients([
      { id: 'default', scopes: ['orders:read'] },
      { id: 'orders-only', resources: [A] },
      { id: 'machine', secret: SECRET, scopes: ['reports:run'], resources: [B], grantTypes: ['client_credentials'] },
      { id: 'backend', secret: 'backend-secret-of-at-least-32-characters' },
    ]),
  });
  const post = (path: string, body: string | URLSearchParams, headers: Record<string, string> = {}) =>
    handler(new Request(`${issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body }), {
      ip: '203.0.113.9',
    });
  const login = (extra = '') => post('/auth/login', `username=alice&password=pw${extra}`);
  const refresh = (token: string, extra = '') => post('/oauth/token', `grant_type=refresh_token&refresh_token=${token}${extra}`);
  return { baton, handler, post, login, refresh };
}

describe('resource indicators (RFC 8707)', () => {
  it('a token for API A is refused by API B and by the token service itself', async () => {
    const { baton, login } = setup();
    const pair = (await (await login(`&resource=${encodeURIComponent(A)}`)).json()) as { access_token: string };
    expect(payload(pair.access_token).aud).toBe(A);
    expect((await baton.verify(pair.access_token, { audience: A })).sub).toBe('alice');
    expect(await codeOf(baton.verify(pair.access_token, { audience: B }))).toBe('ERR_TOKEN_INVALID');
    expect(await codeOf(baton.verify(pair.access_token))).toBe('ERR_TOKEN_INVALID'); // the service's own audience
    expect(() => baton.verifyLocal(pair.access_token, { audience: B })).toThrow(/invalid/);
    // The verified-token cache answers per audience: a hit for A is no pass for B.
    expect(await codeOf(baton.verify(pair.access_token, { audience: B }))).toBe('ERR_TOKEN_INVALID');
  });

  it('a login naming two resources gets both; a refresh narrows to one, then another, never beyond', async () => {
    const { baton, login, refresh } = setup();
    const first = (await (await login(`&resource=${encodeURIComponent(A)}&resource=${encodeURIComponent(B)}`)).json()) as {
      access_token: string;
      refresh_token: string;
    };
    expect(payload(first.access_token).aud).toEqual([A, B]);
    const toB = (await (await refresh(first.refresh_token, `&resource=${encodeURIComponent(B)}`)).json()) as { access_token: string; refresh_token: string };
    expect(payload(toB.access_token).aud).toBe(B);
    await baton.verify(toB.access_token, { audience: B });
    const toBoth = (await (await refresh(toB.refresh_token)).json()) as { access_token: string; refresh_token: string };
    expect(payload(toBoth.access_token).aud).toEqual([A, B]);
  });

  it('an unknown, disallowed or malformed resource is invalid_target with a sentence, and nothing is granted', async () => {
    const { login, post } = setup();
    const unknown = await login('&resource=https%3A%2F%2Fevil.test');
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({ error: 'invalid_target', error_description: 'https://evil.test is not a resource this service issues tokens for' });
    const disallowed = await post('/auth/login', `username=alice&password=pw&client_id=orders-only&resource=${encodeURIComponent(B)}`);
    expect(await disallowed.json()).toMatchObject({ error: 'invalid_target', error_description: `Client orders-only may not ask for tokens for ${B}` });
    for (const bad of [`${A}#frag`, 'not a uri', '/relative/path']) {
      const res = await login(`&resource=${encodeURIComponent(bad)}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_target');
    }
  });

  it('a refresh asking for a resource the session was not granted is refused before anything rotates', async () => {
    const { login, refresh } = setup();
    const pair = (await (await login(`&resource=${encodeURIComponent(A)}`)).json()) as { refresh_token: string };
    const wider = await refresh(pair.refresh_token, `&resource=${encodeURIComponent(B)}`);
    expect(wider.status).toBe(400);
    expect(((await wider.json()) as { error: string }).error).toBe('invalid_target');
    // The same refresh token still rotates: the refusal changed nothing (no reuse, no lost generation).
    const next = await refresh(pair.refresh_token);
    expect(next.status).toBe(200);
    expect(payload(((await next.json()) as { access_token: string }).access_token).aud).toBe(A);
  });

  it('a session without resources keeps the service as its audience, and cannot name one later', async () => {
    const { baton, login, refresh } = setup();
    const pair = (await (await login()).json()) as { access_token: string; refresh_token: string };
    expect(payload(pair.access_token).aud).toBe(ISSUER);
    await baton.verify(pair.access_token);
    const named = await refresh(pair.refresh_token, `&resource=${encodeURIComponent(A)}`);
    expect(((await named.json()) as { error: string }).error).toBe('invalid_target');
  });

  it("introspection and revocation reach a token of any of the issuer's APIs", async () => {
    const { baton, login } = setup();
    const pair = (await (await login(`&resource=${encodeURIComponent(A)}`)).json()) as { access_token: string };
    expect(await baton.introspect(pair.access_token)).toMatchObject({ active: true, aud: A });
    await baton.revoke(pair.access_token);
    expect(await codeOf(baton.verify(pair.access_token, { audience: A }))).toBe('ERR_TOKEN_REVOKED');
  });

  it('parseResources accepts absolute URIs and refuses anything with a fragment or no scheme (property)', () => {
    fc.assert(
      fc.property(fc.webUrl({ withFragments: false, withQueryParameters: true }), (url) => {
        expect(parseResources([url, url])).toEqual([url]);
      }),
    );
    fc.assert(
      fc.property(fc.webUrl(), fc.string(), (url, fragment) => {
        expect(() => parseResources(`${url}#${fragment}`.replace(/ /g, ''))).toThrow();
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9/._-]{0,20}$/), (relative) => {
        expect(() => parseResources(`/${relative}`)).toThrow();
      }),
    );
  });
});

describe('client_credentials (RFC 6749 §4.4)', () => {
  const grant = (extra = '') => `grant_type=client_credentials${extra}`;

  it('a confidential client registered for it gets a token for itself: no refresh token, no session', async () => {
    const { baton, post, handler } = setup();
    const res = await post('/oauth/token', grant(`&resource=${encodeURIComponent(B)}`), { authorization: basic('machine', SECRET) });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'reports:run' });
    const claims = await baton.verify(body.access_token as string, { audience: B });
    expect(claims).toMatchObject({ sub: 'machine', client_id: 'machine', aud: B });
    expect(claims.sid).toBeUndefined();
    // No session: the user endpoints refuse it with a reason.
    const me = await baton.issueClientToken({ clientId: 'machine' });
    const mine = await handler(new Request(`${ISSUER}/auth/me`, { headers: { authorization: `Bearer ${me.access_token}` } }));
    expect(mine.status).toBe(403);
    expect(((await mine.json()) as { error: string }).error).toBe('insufficient_scope');
    // Revocable by its jti.
    await baton.revoke(body.access_token as string);
    expect(await codeOf(baton.verify(body.access_token as string, { audience: B }))).toBe('ERR_TOKEN_REVOKED');
  });

  it('public clients, clients not registered for it, and wider scopes or resources are refused', async () => {
    const { post } = setup();
    const pub = await post('/oauth/token', grant());
    expect(pub.status).toBe(400);
    expect(((await pub.json()) as { error: string }).error).toBe('unauthorized_client');
    const backend = await post('/oauth/token', grant(), { authorization: basic('backend', 'backend-secret-of-at-least-32-characters') });
    expect(((await backend.json()) as { error: string }).error).toBe('unauthorized_client');
    const wrong = await post('/oauth/token', grant(), { authorization: basic('machine', `${SECRET}x`) });
    expect(wrong.status).toBe(401);
    const scope = await post('/oauth/token', grant('&scope=orders:read'), { authorization: basic('machine', SECRET) });
    expect(((await scope.json()) as { error: string }).error).toBe('invalid_scope');
    const target = await post('/oauth/token', grant(`&resource=${encodeURIComponent(A)}`), { authorization: basic('machine', SECRET) });
    expect(((await target.json()) as { error: string }).error).toBe('invalid_target');
  });

  it('a client token introspects as active, with no session', async () => {
    const { baton } = setup();
    const issued = await baton.issueClientToken({ clientId: 'machine' });
    expect(await baton.introspect(issued.access_token)).toMatchObject({ active: true, sub: 'machine', token_type: 'Bearer' });
    expect(await baton.introspect(issued.access_token)).not.toHaveProperty('sid');
  });

  it('staticClients refuses client_credentials for a public client', () => {
    expect(() => staticClients([{ id: 'spa', grantTypes: ['client_credentials'] }])).toThrow(/must be confidential/);
    expect(() => staticClients([{ id: 'x', resources: ['https://a.test#f'] }])).toThrow(/absolute URIs without a fragment/);
  });
});

describe('conformance details', () => {
  it('RFC 8414 §3.1: an issuer with a path has its metadata at the inserted well-known URI, with scopes_supported', async () => {
    const { handler } = setup('https://host.test/auth');
    for (const path of ['/.well-known/oauth-authorization-server/auth', '/auth/.well-known/oauth-authorization-server']) {
      const res = await handler(new Request(`https://host.test${path}`));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        issuer: 'https://host.test/auth',
        token_endpoint: 'https://host.test/auth/oauth/token',
        grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
        scopes_supported: ['orders:read', 'reports:run'],
      });
    }
  });

  it('RFC 7662 §2.2: a refresh token introspects without token_type or username', async () => {
    const { baton, login } = setup();
    const pair = (await (await login()).json()) as { refresh_token: string };
    const seen = await baton.introspect(pair.refresh_token);
    expect(seen).toMatchObject({ active: true, sub: 'alice', client_id: 'default', scope: 'orders:read' });
    expect(seen).not.toHaveProperty('token_type');
    expect(seen).not.toHaveProperty('username');
  });

  it('RFC 9110 §15.5.2: a 401 from the login carries a challenge that makes no browser prompt', async () => {
    const { post } = setup();
    const res = await post('/auth/login', 'username=alice&password=wrong');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Password realm="baton"');
  });
});
