/**
 * Red team, OpenID Connect and its neighbours: what held. Each test is an attack that was tried
 * and refused — an ID token presented where an access token goes, forged and foreign
 * `id_token_hint`s, open redirects and CSRF through end-session, UserInfo with the wrong kind of
 * token, privilege through registration metadata, ids colliding, the cap under a race, hostile
 * page settings, one user's consents reached by another.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import type { BatonStore } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { remoteIssuer } from 'baton-auth/remote';
import { memoryStore } from 'baton-auth/stores/memory';
import { sqliteStore } from 'baton-auth/stores/sqlite';
import { clientMetadataDocuments } from '../../packages/baton-auth/src/authz/client-metadata.ts';
import { idToken } from '../../packages/baton-auth/src/authz/id-token.ts';
import { verifyIdTokenHint } from '../../packages/baton-auth/src/core/id-token.ts';
import { storeClients } from '../../packages/baton-auth-server/src/server/clients.ts';
import { storeConsents } from '../../packages/baton-auth-server/src/server/consents.ts';
import { pageOf } from '../../packages/baton-auth-server/src/server/settings/authorization.ts';
import { codeOf } from '../support/baton.ts';
import { startTestService } from '../support/service.ts';
import { hostedSignIn, oidcSetup } from '../support/oidc.ts';

const SECRET = 'resource-server-secret-of-32-characters';
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** alice's session of client `web`, its access token and ID token, on a handler that also has an introspecting client and a machine client. */
async function issued() {
  const s = oidcSetup('EdDSA', {
    clients: staticClients([
      { id: 'default' },
      { id: 'web', scopes: ['openid', 'profile'], redirectUris: ['https://app.test/cb'], postLogoutRedirectUris: ['https://app.test/bye'], firstParty: true },
      { id: 'other', redirectUris: ['https://other.test/cb'], postLogoutRedirectUris: ['https://other.test/bye'], firstParty: true },
      { id: 'rs', secret: SECRET, introspect: true },
      { id: 'machine', secret: SECRET, grantTypes: ['client_credentials'], scopes: ['openid'] },
    ]),
  });
  const pair = await s.baton.login('id-alice', { clientId: 'web', scope: 'openid profile' });
  const id = await idToken(s.context, { userId: 'id-alice', clientId: 'web', authTime: 1, sid: pair.session_id, scope: ['openid', 'profile'] });
  const bearer = (token: string, path: string) => s.call(path, { headers: { authorization: `Bearer ${token}` } });
  return { ...s, pair, id, bearer };
}

describe('an ID token is never an access token', () => {
  it('refused by the engine, /auth/me, /oauth/userinfo; inactive at introspection', async () => {
    const s = await issued();
    expect(decodeProtectedHeader(s.id).typ).toBe('JWT');
    expect(await codeOf(s.baton.verify(s.id))).toBe('ERR_TOKEN_INVALID');
    expect((await s.bearer(s.id, '/auth/me')).status).toBe(401);
    expect((await s.bearer(s.id, '/oauth/userinfo')).status).toBe(401);
    expect((await s.bearer(s.pair.access_token, '/oauth/userinfo')).status).toBe(200); // the control
    const introspected = await s.call('/oauth/introspect', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`rs:${SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ token: s.id }).toString(),
    });
    expect(await introspected.json()).toEqual({ active: false });
  });

  it('refused by remoteIssuer, even with allowJwtTyp and the client id as its audience (no jti, typ JWT)', async () => {
    const s = await issued();
    for (const allowJwtTyp of [false, true]) {
      const rs = remoteIssuer({
        issuer: s.issuer,
        audience: 'web',
        allowJwtTyp,
        revocations: false,
        fetch: (input, init) => s.handler(new Request(input, init)),
      });
      try {
        const audience = decodeJwt(s.pair.access_token).aud as string;
        expect(await codeOf(rs.verify(s.pair.access_token, { audience }))).toBe('resolved'); // the control: discovery and keys work
        expect(await codeOf(rs.verify(s.id, { audience: 'web' })), `allowJwtTyp ${allowJwtTyp}`).toBe('ERR_TOKEN_INVALID');
      } finally {
        rs.close();
      }
    }
  });
});

describe('id_token_hint: only an ID token this issuer signed', () => {
  it('alg none, HS256 keyed with the public key, an unknown kid, a crit header, an access token: none is a hint', async () => {
    const s = await issued();
    const [h, p] = s.id.split('.') as [string, string];
    const header = decodeProtectedHeader(s.id);
    const key = s.baton.keys.get(header.kid as string);
    const publicBytes = Buffer.from(key?.verifyKey.export({ format: 'jwk' }).x as string, 'base64url');
    const hsInput = `${b64({ ...header, alg: 'HS256' })}.${p}`;
    const attempts = [
      `${b64({ alg: 'none', typ: 'JWT', kid: header.kid })}.${p}.`,
      `${hsInput}.${createHmac('sha256', publicBytes).update(hsInput).digest('base64url')}`,
      `${b64({ ...header, kid: 'forged' })}.${p}.${s.id.split('.')[2]}`,
      `${b64({ ...header, crit: ['exp'] })}.${p}.${s.id.split('.')[2]}`,
      s.pair.access_token,
      `${h}.${p}`,
    ];
    for (const t of attempts) expect(verifyIdTokenHint(t, s.baton.keys, s.issuer), t.slice(0, 60)).toBeUndefined();
    expect(verifyIdTokenHint(s.id, s.baton.keys, s.issuer)?.sub).toBe('id-alice'); // the control
  });

  it('on an HS256 ring even a JWT MACed with the ring’s own secret is no hint (every client of the ring could not check it)', async () => {
    const secret = randomBytes(32);
    const hs = createBaton({
      issuer: 'https://auth.test',
      keys: [{ kid: 'hs', alg: 'HS256', secret }],
      refreshTokenSecret: randomBytes(32),
      store: memoryStore(),
    });
    const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'hs' })}.${b64({ iss: 'https://auth.test', sub: 'id-alice', aud: 'web', sid: 's', exp: 9e9, iat: 1 })}`;
    expect(verifyIdTokenHint(`${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`, hs.keys, 'https://auth.test')).toBeUndefined();
    await hs.close();
  });

  it('another Baton’s ID token, its key named like ours: the browser’s user is asked, nobody signed out', async () => {
    const s = await issued();
    const foreign = oidcSetup('EdDSA'); // same kid EdDSA-1, another key
    const pair = await foreign.baton.login('id-alice', { clientId: 'web', scope: 'openid' });
    const hint = await idToken(foreign.context, { userId: 'id-alice', clientId: 'web', authTime: 1, sid: pair.session_id, scope: ['openid'] });
    expect(decodeProtectedHeader(hint).kid).toBe(decodeProtectedHeader(s.id).kid);
    const browser = await hostedSignIn(s, 'alice');
    const res = await s.call(`/oauth/end-session?${new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: 'https://app.test/bye' })}`, {
      headers: { cookie: browser.cookie },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('Sign out?');
    expect((await s.baton.listSessions('id-alice')).length).toBe(2);
  });
});

describe('end-session never redirects anywhere unregistered', () => {
  const hostile = [
    'https://app.test/bye/',
    'https://app.test/bye/..',
    'https://app.test/bye?',
    'https://app.test/bye#x',
    'https://APP.test/bye',
    'https://app.test:443/bye',
    'https://app.test/%62ye',
    'https://app.test@evil.test/bye',
    'https://evil.test\\@app.test/bye',
    ' https://app.test/bye',
    'https://app.test/bye\t',
    'https://app.test/bye\u0000',
    'https://app.test./bye',
    'http://app.test/bye',
    '//evil.test/bye',
    'javascript:alert(1)//https://app.test/bye',
    'https://other.test/bye', // another client's registered URI, with web's hint
  ];

  it('with alice’s own hint (signed out at once), no Location is one of the hostile corpus', async () => {
    for (const uri of hostile) {
      const s = await issued();
      const browser = await hostedSignIn(s, 'alice');
      const res = await s.call(`/oauth/end-session?${new URLSearchParams({ id_token_hint: s.id, post_logout_redirect_uri: uri, state: '<b>x</b>' })}`, {
        headers: { cookie: browser.cookie },
      });
      expect(res.headers.get('location'), JSON.stringify(uri)).toBeNull();
      expect(await res.text()).not.toContain('<b>x</b>');
    }
  });

  it('a hint for client web with client_id other: an error page, nobody signed out', async () => {
    const s = await issued();
    const browser = await hostedSignIn(s, 'alice');
    const res = await s.call(
      `/oauth/end-session?${new URLSearchParams({ id_token_hint: s.id, client_id: 'other', post_logout_redirect_uri: 'https://other.test/bye' })}`,
      { headers: { cookie: browser.cookie } },
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect((await s.baton.listSessions('id-alice')).length).toBe(2);
  });

  it('logout CSRF: a cross-site page posting the confirmation form is refused; without a hint nobody is signed out by a link', async () => {
    const s = await issued();
    const browser = await hostedSignIn(s, 'alice');
    const page = await s.call('/oauth/end-session?client_id=web&post_logout_redirect_uri=https%3A%2F%2Fapp.test%2Fbye', {
      headers: { cookie: browser.cookie },
    });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const logout = /name="logout" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
    const forged = await s.call('/oauth/end-session/confirm', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.test', cookie: browser.cookie },
      body: new URLSearchParams({ logout }).toString(),
    });
    expect(forged.status).toBe(403);
    expect((await s.baton.listSessions('id-alice')).length).toBe(2);
  });
});

describe('UserInfo takes a signed-in user’s token with openid only', () => {
  it('a client_credentials token (no user) is 403, whatever its scope', async () => {
    const s = await issued();
    const token = await s.call('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`machine:${SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'openid' }).toString(),
    });
    expect(token.status).toBe(200);
    const { access_token } = (await token.json()) as { access_token: string };
    expect(decodeJwt(access_token).scope).toBe('openid');
    expect((await s.bearer(access_token, '/oauth/userinfo')).status).toBe(403);
  });
});

describe('registration: ids and the cap in the service’s registry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redteam-oidc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const stores: [string, () => BatonStore][] = [
    ['memory', () => memoryStore()],
    ['SQLite', () => sqliteStore({ path: join(dir, `${randomBytes(4).toString('hex')}.sqlite`) })],
  ];

  it.each(stores)('%s: 100 racing registrations keep exactly maxClients; none overwrites default or resource-server', async (_, make) => {
    const store = make();
    const baton = createBaton({ issuer: 'https://auth.test', keys: [generateKey('EdDSA', 'e')], refreshTokenSecret: randomBytes(32), store });
    await baton.ready();
    await store.putRecord('clients', 'default', JSON.stringify({ id: 'default', type: 'public', firstParty: true }));
    const registry = storeClients(store, 0);
    const handler = createAuthHandler({ baton, authenticate: async () => null, clients: registry, authorization: { registration: { maxClients: 7 } } });
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        handler(
          new Request('https://auth.test/oauth/register', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              client_id: i % 2 ? 'default' : 'resource-server',
              redirect_uris: ['https://x.test/cb'],
              token_endpoint_auth_method: 'none',
              first_party: true,
            }),
          }),
          { ip: `198.51.${i}.1` },
        ),
      ),
    );
    const made = await Promise.all(answers.filter((r) => r.status === 201).map((r) => r.json() as Promise<{ client_id: string }>));
    expect(made).toHaveLength(7);
    for (const m of made) expect(m.client_id).toMatch(/^dyn_[A-Za-z0-9_-]{22}$/);
    expect(await registry.get('default')).toMatchObject({ firstParty: true });
    expect(await registry.get('resource-server')).toBeNull();
    expect((await store.listRecords('clients')).length).toBe(8);
    await baton.close();
  });
});

describe('service settings and consents', () => {
  it('a logo that is not https, and a theme that leaves its declaration, are refused at start', () => {
    for (const logo of [
      'javascript:alert(1)',
      'data:image/svg+xml,<svg onload=alert(1)>',
      'http://cdn.test/l.svg',
      'https://cdn.test/l.svg" onerror="x',
      '//cdn.test/l.svg',
    ])
      expect(() => pageOf(undefined, logo, undefined), logo).toThrow(/BATON_PAGE_LOGO/);
    for (const theme of ['--a:red}</style><script>alert(1)</script>', '--a:red}body{display:none', '--a:"x"', '--a:\\3c', 'color:red', '--a:x;b{c}'])
      expect(() => pageOf(undefined, undefined, theme), theme).toThrow(/BATON_PAGE_THEME/);
  });

  it('one user’s consents are neither listed nor revoked through another user’s token', async () => {
    const store = memoryStore();
    const consents = storeConsents(store);
    const s = oidcSetup('EdDSA', { authorization: { consents } });
    await consents.put('id-alice', 'https://apps.example/notes', ['openid'], 1);
    const bob = await s.baton.login('id-bob', { clientId: 'default' });
    const headers = { authorization: `Bearer ${bob.access_token}` };
    expect(await (await s.call('/auth/consents', { headers })).json()).toEqual({ consents: [] });
    const del = await s.call(`/auth/consents/${encodeURIComponent('https://apps.example/notes')}`, { method: 'DELETE', headers });
    expect(del.status).toBe(404);
    expect(await consents.get('id-alice', 'https://apps.example/notes')).not.toBeNull();
    const alice = await s.baton.login('id-alice', { clientId: 'default' });
    const own = await s.call(`/auth/consents/${encodeURIComponent('https://apps.example/notes')}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${alice.access_token}` },
    });
    expect(own.status).toBe(200); // an https client id (a metadata document's) is revocable through its encoded path
    expect(await consents.get('id-alice', 'https://apps.example/notes')).toBeNull();
  });
});

describe('client ID metadata documents: what a listed host can make the service spend', () => {
  it('a gzip bomb (200 KB on the wire, 200 MB inflated) through the real fetch: refused at the bound, memory back', async () => {
    const bomb = gzipSync(Buffer.alloc(200 * 1024 * 1024), { level: 9 });
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(bomb.length) });
      res.end(bomb);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    // The global fetch (undici, which inflates gzip), reaching the loopback server in place of https://apps.example.
    const viaLoopback: typeof fetch = (input, init) => fetch(String(input).replace('https://apps.example', `http://127.0.0.1:${port}`), init);
    const reasons: string[] = [];
    const logger = { info: () => {}, warn: (o: object) => void reasons.push((o as { reason: string }).reason), error: () => {} };
    const r = clientMetadataDocuments({ hosts: ['apps.example'], fetch: viaLoopback, logger });
    const before = process.memoryUsage().rss;
    const started = performance.now();
    expect(await r.get('https://apps.example/bomb')).toBeNull();
    expect(reasons).toEqual(['the document is larger than 5120 bytes']);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
    server.closeAllConnections();
    server.close();
  });
});

describe('the service: open registration per address', () => {
  it('X-Forwarded-For without BATON_TRUST_PROXY changes nothing: the 11th registration of the hour is 429', async () => {
    const service = await startTestService({ BATON_CLIENT_REGISTRATION: 'open' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) {
        const res = await fetch(`${service.url}/oauth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': `198.51.100.${i + 1}` },
          body: JSON.stringify({ redirect_uris: ['https://notes.example/cb'], token_endpoint_auth_method: 'none', first_party: true, firstParty: true }),
        });
        statuses.push(res.status);
        if (res.status === 201) {
          const { client_id } = (await res.json()) as { client_id: string };
          expect(JSON.parse((await service.server.service.store.getRecord('clients', client_id)) ?? '{}')).toMatchObject({
            firstParty: false,
            registered: true,
          });
        } else await res.body?.cancel();
      }
      expect(statuses).toEqual([...Array(10).fill(201), 429]);
    } finally {
      await service.stop();
    }
  });
});

describe('cost of refused requests (2,000 of each, no credentials)', () => {
  it('end-session with a forged hint naming our key, UserInfo with a junk token, a forged confirmation, a non-JSON registration: no store write, under 2 ms each', async () => {
    const calls: string[] = [];
    let recording = false;
    const inner = memoryStore();
    const store = new Proxy(inner, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (recording) calls.push(String(name));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const baton = createBaton({ issuer: 'https://auth.test', keys: [generateKey('RS256', 'rs-1')], refreshTokenSecret: randomBytes(32), store });
    await baton.ready();
    const handler = createAuthHandler({
      baton,
      authenticate: async () => null,
      authorization: { registration: { maxClients: 10 } },
      clients: storeClients(store),
    });
    const forged = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'rs-1' })}.${b64({ iss: 'https://auth.test', sub: 'u', aud: 'default', sid: 's' })}.${randomBytes(256).toString('base64url')}`;
    const kinds: [string, () => Request][] = [
      ['end-session', () => new Request(`https://auth.test/oauth/end-session?${new URLSearchParams({ id_token_hint: forged, client_id: 'nobody' })}`)],
      ['userinfo', () => new Request('https://auth.test/oauth/userinfo', { headers: { authorization: `Bearer ${forged}` } })],
      [
        'confirm',
        () =>
          new Request('https://auth.test/oauth/end-session/confirm', {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://auth.test' },
            body: 'logout=junk',
          }),
      ],
      ['register', () => new Request('https://auth.test/oauth/register', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' })],
    ];
    for (const [kind, make] of kinds) {
      calls.length = 0;
      recording = true;
      const started = performance.now();
      for (let i = 0; i < 2000; i++) {
        const res = await handler(make(), { ip: '203.0.113.5' });
        expect(res.status, kind).toBeGreaterThanOrEqual(kind === 'end-session' ? 200 : 400);
        await res.body?.cancel();
      }
      const perRequest = (performance.now() - started) / 2000;
      recording = false;
      const writes = calls.filter((n) => !/^(get|list|read|has|ready|peek|is|counterKeys|revocationHead)/i.test(n));
      expect(writes, kind).toEqual([]);
      if (kind === 'end-session') expect(calls).toContain('getRecord'); // the control: the proxy sees the store's calls
      expect(perRequest, kind).toBeLessThan(2);
    }
    await baton.close();
  });
});
