/**
 * A public client's single-page app on its own origin calls /oauth/token and /oauth/revoke
 * (authz/client-origin.ts): allowed for exactly the origin of one of that client's redirect URIs,
 * answered with CORS headers for it and no credentials; every other cross-site request refused as
 * before, 403 before anything is counted or spent.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, hashClientSecret } from 'baton-auth/http';
import type { ClientRecord } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { issueCode } from '../../packages/baton-auth/src/authz/codes.ts';
import { s256 } from '../../packages/baton-auth/src/authz/pkce.ts';
import type { HandlerContext } from '../../packages/baton-auth/src/http/context.ts';
import { createLoginProtection } from '../../packages/baton-auth/src/http/login-protection.ts';

const ISSUER = 'https://auth.test';
const SPA = 'https://spa.test';
const SECRET = 'conf-secret-of-at-least-32-characters!!';

function setup() {
  const baton = createBaton({ issuer: ISSUER, keys: [generateKey('EdDSA', 'k1')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
  const records: Record<string, ClientRecord> = {
    default: { id: 'default', type: 'public' },
    spa: { id: 'spa', type: 'public', redirectUris: [`${SPA}/cb`, 'com.example.app:/cb'], firstParty: true },
    other: { id: 'other', type: 'public', redirectUris: ['https://other.test/cb'], firstParty: true },
    conf: { id: 'conf', type: 'confidential', secretHash: hashClientSecret(SECRET), redirectUris: ['https://conf.test/cb'], firstParty: true },
  };
  let lookups = 0;
  const handler = createAuthHandler({
    baton,
    authenticate: async (u, p) => (p === 'pw' ? { userId: u } : null),
    clients: {
      get: async (id) => {
        lookups++;
        return records[id] ?? null;
      },
    },
    clientProtection: createLoginProtection({ keyPrefix: 'client', failures: { max: 3, blockMs: 3_600_000 } }),
  });
  const verifier = randomBytes(32).toString('base64url');
  const code = (clientId = 'spa', redirectUri = `${SPA}/cb`) =>
    issueCode({ baton } as HandlerContext, {
      clientId,
      redirectUri,
      codeChallenge: s256(verifier),
      userId: 'alice',
      scope: [],
      resource: [],
      authTime: 1,
    });
  const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    handler(
      new Request(`${ISSUER}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields).toString(),
      }),
      { ip: '203.0.113.5' },
    );
  const redeem = async (theCode: string, origin: string | undefined, extra: Record<string, string> = {}, headers: Record<string, string> = {}) =>
    post(
      '/oauth/token',
      { grant_type: 'authorization_code', code: theCode, redirect_uri: `${SPA}/cb`, code_verifier: verifier, client_id: 'spa', ...extra },
      { ...(origin === undefined ? {} : { origin }), ...headers },
    );
  const preflight = (path: string, origin: string) =>
    handler(
      new Request(`${ISSUER}${path}`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,dpop' },
      }),
      {},
    );
  return { baton, handler, code, post, redeem, preflight, lookups: () => lookups };
}

const cors = (res: Response) => Object.fromEntries([...res.headers].filter(([k]) => k.startsWith('access-control-') || k === 'vary'));

describe("a public client's page on the origin of its redirect URI", () => {
  it('redeems a code, refreshes and revokes at the token endpoints, and may read the answers (no credentials)', async () => {
    const { code, redeem, post } = setup();
    const res = await redeem(await code(), SPA);
    expect(res.status).toBe(200);
    expect(cors(res)).toEqual({
      vary: 'Origin',
      'access-control-allow-origin': SPA,
      'access-control-expose-headers': 'DPoP-Nonce, WWW-Authenticate, Retry-After, Date',
    });
    const pair = (await res.json()) as { refresh_token: string; access_token: string };
    const refreshed = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token, client_id: 'spa' }, { origin: SPA });
    expect(refreshed.status).toBe(200);
    expect(cors(refreshed)['access-control-allow-origin']).toBe(SPA);
    const { refresh_token } = (await refreshed.json()) as { refresh_token: string };
    const revoked = await post('/oauth/revoke', { token: refresh_token, client_id: 'spa' }, { origin: SPA });
    expect(revoked.status).toBe(200);
    expect(cors(revoked)['access-control-allow-origin']).toBe(SPA);
    // Its errors too: a page must see invalid_grant.
    const refused = await post('/oauth/token', { grant_type: 'refresh_token', refresh_token, client_id: 'spa' }, { origin: SPA });
    expect(refused.status).toBe(400);
    expect(cors(refused)['access-control-allow-origin']).toBe(SPA);
  });

  it('its preflight to the token and revocation endpoints passes without credentials or Authorization; to any other endpoint it fails', async () => {
    const { preflight } = setup();
    for (const path of ['/oauth/token', '/oauth/revoke']) {
      const res = await preflight(path, SPA);
      expect(res.status).toBe(204);
      expect(cors(res)).toMatchObject({ 'access-control-allow-origin': SPA, 'access-control-allow-headers': 'Content-Type, DPoP' });
      expect(cors(res)['access-control-allow-credentials']).toBeUndefined();
    }
    for (const path of ['/auth/login', '/auth/logout', '/oauth/introspect', '/auth/me']) expect((await preflight(path, SPA)).status).toBe(403);
    for (const origin of ['null', `${SPA}/`, 'http://spa.test', '*']) expect((await preflight('/oauth/token', origin)).status).toBe(403);
  });

  it('is refused (403, no CORS headers) for another client, no client, a confidential client, a look-alike origin; nothing spent or counted', async () => {
    const { code, redeem, post, baton } = setup();
    const theCode = await code();
    const refusedAs = async (res: Response) => {
      expect(res.status).toBe(403);
      expect(cors(res)).toEqual({ vary: 'Origin' });
    };
    await refusedAs(await redeem(theCode, SPA, { client_id: 'other' }));
    await refusedAs(await redeem(theCode, 'https://other.test')); // another client's origin naming spa
    await refusedAs(await redeem(theCode, SPA, { client_id: '' }));
    for (const origin of ['https://spa.test:8443', 'https://spa.test.evil.com', 'https://evil.test', 'https://SPA.test', 'null'])
      await refusedAs(await redeem(theCode, origin));
    // A client secret is never tried from a page's origin: no failure counted, however many.
    const basic = `Basic ${Buffer.from('conf:wrong-secret-of-at-least-32-characters').toString('base64')}`;
    for (let i = 0; i < 5; i++) {
      await refusedAs(await post('/oauth/token', { grant_type: 'client_credentials' }, { origin: 'https://conf.test', authorization: basic }));
      await refusedAs(await post('/oauth/token', { grant_type: 'client_credentials', client_id: 'conf', client_secret: 'x' }, { origin: 'https://conf.test' }));
    }
    const good = `Basic ${Buffer.from(`conf:${SECRET}`).toString('base64')}`;
    expect((await post('/oauth/revoke', { token: 'x' }, { authorization: good })).status).toBe(200); // not throttled
    // A body the page cannot send properly is refused as cross-site, not read into an error.
    const junk = await post('/oauth/token', {}, { origin: SPA, 'content-type': 'text/plain' });
    await refusedAs(junk);
    expect(await baton.listSessions('alice')).toEqual([]);
    // The code was never spent: the page of its client redeems it.
    expect((await redeem(theCode, SPA)).status).toBe(200);
  });

  it('a private-use redirect URI gives no origin; the refresh cookie stays with the allowed origins', async () => {
    const { post, lookups } = setup();
    const before = lookups();
    const res = await post('/oauth/token', { grant_type: 'refresh_token', client_id: 'spa' }, { origin: SPA, cookie: '__Host-baton_rt=rt_x.0.x' });
    expect(res.status).toBe(403); // checkCsrf: the cookie is for allowedOrigins only
    expect(lookups() - before).toBe(2); // the page's client, then client authentication
    expect((await post('/oauth/token', { grant_type: 'refresh_token', client_id: 'spa' }, { origin: 'com.example.app:' })).status).toBe(403);
  });

  it('a request without Origin (a native app, a server) and one from an allowed origin work as before', async () => {
    const { code, redeem } = setup();
    expect((await redeem(await code(), undefined)).status).toBe(200);
    expect(cors(await redeem(await code(), undefined))).toEqual({ vary: 'Origin' });
    const nav = await redeem(await code(), undefined, {}, { 'sec-fetch-site': 'cross-site' });
    expect(nav.status).toBe(403);
    expect((await redeem(await code(), ISSUER)).status).toBe(200);
  });
});

describe('UserInfo from a public client’s page (OIDC Core §5.3)', () => {
  it('is readable from the origin of a redirect URI of the client the token was issued to, and from no other', async () => {
    const { baton, handler } = setup();
    const pair = await baton.login('alice', { clientId: 'spa', scope: 'openid' });
    const info = (origin: string) =>
      handler(new Request(`${ISSUER}/oauth/userinfo`, { headers: { origin, authorization: `Bearer ${pair.access_token}` } }), {});
    const mine = await info(SPA);
    expect(mine.status).toBe(200);
    expect(cors(mine)).toMatchObject({ 'access-control-allow-origin': SPA });
    expect(cors(mine)['access-control-allow-credentials']).toBeUndefined();
    expect(await mine.json()).toEqual({ sub: 'alice' });
    // Another client's page, a look-alike, and an origin no page can have: refused, no CORS header.
    for (const origin of ['https://other.test', 'https://spa.test.evil', 'null']) {
      const res = await info(origin);
      expect(res.status, origin).toBe(403);
      expect(cors(res)['access-control-allow-origin'], origin).toBeUndefined();
    }
  });
});
