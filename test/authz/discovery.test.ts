/**
 * `/.well-known/openid-configuration` (OIDC Discovery 1.0 §3, §4): the fields, the location for an
 * issuer with a path (appended to it, §4.1), and openid-client's `discovery()` with its defaults
 * (OpenID Connect discovery, not `algorithm: 'oauth2'`) over a real socket. openid-client refuses
 * plain http, so this unit test serves the handler on a loopback http server and passes
 * `allowInsecureRequests`; the TLS run of the whole flow is the interop tier's. On that server,
 * openid-client also runs the code flow (`authorizationCodeGrant`, its ID token checks) and builds
 * the end-session URL that signs the user out.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import type { AuthHandler } from 'baton-auth/http';
import { toNodeListener } from 'baton-auth/adapters/node';
import { memoryStore } from 'baton-auth/stores/memory';
import { randomBytes } from 'node:crypto';
import { oidcSetup } from '../support/oidc.ts';

describe('the OpenID Provider metadata', () => {
  it('is RFC 8414’s document plus what OIDC Discovery §3 asks, public and cacheable', async () => {
    const { call } = oidcSetup('EdDSA');
    const res = await call('/.well-known/openid-configuration');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const meta = (await res.json()) as Record<string, unknown>;
    const oauth = (await (await call('/.well-known/oauth-authorization-server')).json()) as Record<string, unknown>;
    expect(meta).toMatchObject({ ...oauth, scopes_supported: expect.any(Array) });
    expect(meta).toMatchObject({
      issuer: 'https://auth.test',
      jwks_uri: 'https://auth.test/.well-known/jwks.json',
      userinfo_endpoint: 'https://auth.test/oauth/userinfo',
      end_session_endpoint: 'https://auth.test/oauth/end-session',
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['EdDSA'],
      scopes_supported: ['openid', 'profile', 'email'],
      claims_parameter_supported: false,
      request_parameter_supported: false,
      request_uri_parameter_supported: false,
    });
    // The ID token's claims only: this handler's application says of no other claim that it returns it.
    expect(meta.claims_supported).toEqual(['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'sid']);
  });

  it('claims_supported adds the claims the application says its claims function returns, never one of a scope alone', async () => {
    const { call } = oidcSetup('EdDSA', { authorization: { claims: async () => ({ email: 'a@example.com' }), claimsSupported: ['email', 'email_verified'] } });
    const meta = (await (await call('/.well-known/openid-configuration')).json()) as Record<string, unknown>;
    expect(meta.claims_supported).toEqual(['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'sid', 'email', 'email_verified']);
    expect(meta.claims_supported).not.toContain('name'); // profile is a scope here, and no answer carries name
  });

  it('scopes_supported holds openid even when the handler advertises no scopes', async () => {
    const { call } = oidcSetup('EdDSA', { scopes: undefined as never });
    const meta = (await (await call('/.well-known/openid-configuration')).json()) as Record<string, unknown>;
    expect(meta.scopes_supported).toEqual(['openid']);
  });

  it('lists the algorithm of the active key, then those of the keys published for the next rotation; follows a rotation', async () => {
    const baton = createBaton({
      issuer: 'https://auth.test',
      keys: [generateKey('EdDSA', 'ed'), { ...generateKey('ES256', 'es'), status: 'next' }],
      refreshTokenSecret: randomBytes(32),
      store: memoryStore(),
    });
    const handler = createAuthHandler({ baton, authenticate: async () => null });
    const algs = async () =>
      ((await (await handler(new Request('https://auth.test/.well-known/openid-configuration'))).json()) as Record<string, unknown>)
        .id_token_signing_alg_values_supported;
    expect(await algs()).toEqual(['EdDSA', 'ES256']);
    await baton.rotateKeys('sig', 'ES256');
    expect(await algs()).toEqual(['ES256']);
  });

  it('for an issuer with a path: at <issuer>/.well-known/openid-configuration (§4.1), every endpoint under the path', async () => {
    const { handler } = oidcSetup('EdDSA', { issuer: 'https://auth.test/tenant-a' });
    const res = await handler(new Request('https://auth.test/tenant-a/.well-known/openid-configuration'));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      issuer: 'https://auth.test/tenant-a',
      token_endpoint: 'https://auth.test/tenant-a/oauth/token',
      userinfo_endpoint: 'https://auth.test/tenant-a/oauth/userinfo',
      end_session_endpoint: 'https://auth.test/tenant-a/oauth/end-session',
      jwks_uri: 'https://auth.test/tenant-a/.well-known/jwks.json',
    });
    // RFC 8414's location (inserted before the path) is not OIDC's.
    expect((await handler(new Request('https://auth.test/.well-known/openid-configuration/tenant-a'))).status).toBe(404);
  });
});

describe('openid-client discovery() with its defaults', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  /** A loopback http server serving a handler whose issuer is its own URL (plus `path`). */
  async function serve(path: string): Promise<{ issuer: string; handler: AuthHandler; baton: ReturnType<typeof createBaton> }> {
    const box: { handler?: AuthHandler } = {};
    const server = createServer((req, res) => toNodeListener(box.handler as AuthHandler)(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    close = () => new Promise((resolve) => server.close(() => resolve()));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
    const baton = createBaton({ issuer, keys: [generateKey('EdDSA')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
    const handler = createAuthHandler({
      baton,
      authenticate: async (u, p) => (u === 'alice' && p === 'correct horse' ? { userId: 'id-alice', scope: 'profile' } : null),
      clients: staticClients([
        { id: 'web', scopes: ['openid', 'profile'], redirectUris: ['http://127.0.0.1/cb'], postLogoutRedirectUris: ['http://127.0.0.1/bye'], firstParty: true },
      ]),
      scopes: ['openid', 'profile'],
      cookie: { secure: false },
      authorization: { claims: async (userId) => ({ preferred_username: userId }) },
    });
    box.handler = handler;
    return { issuer, handler, baton };
  }

  for (const path of ['', '/tenant-a']) {
    it(`accepts the document${path ? ' of an issuer with a path' : ''}, and its UserInfo endpoint answers fetchUserInfo`, async () => {
      const { issuer, baton } = await serve(path);
      const config = await client.discovery(new URL(issuer), 'web', undefined, client.None(), { execute: [client.allowInsecureRequests] });
      const meta = config.serverMetadata();
      expect(meta.issuer).toBe(issuer);
      expect(meta.userinfo_endpoint).toBe(`${issuer}/oauth/userinfo`);
      expect(meta.end_session_endpoint).toBe(`${issuer}/oauth/end-session`);
      expect(meta.id_token_signing_alg_values_supported).toEqual(['EdDSA']);
      const { access_token } = await baton.login('id-alice', { clientId: 'web', scope: 'openid profile' });
      expect(await client.fetchUserInfo(config, access_token, 'id-alice')).toEqual({ sub: 'id-alice', preferred_username: 'id-alice' });
      await expect(client.fetchUserInfo(config, access_token, 'id-bob')).rejects.toThrow(/unexpected JSON attribute value/);
    });
  }

  it('runs the code flow with the ID token checked by its defaults (state, PKCE, nonce, iss, aud, alg from the metadata), then builds the end-session URL', async () => {
    const { issuer, baton } = await serve('');
    const config = await client.discovery(new URL(issuer), 'web', undefined, client.None(), { execute: [client.allowInsecureRequests] });
    const verifier = client.randomPKCECodeVerifier();
    const [state, nonce] = [client.randomState(), client.randomNonce()];
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1/cb',
      scope: 'openid profile',
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    // The browser: the sign-in page, then its form posted back with the CSRF cookie and this site's Origin.
    const page = await fetch(url);
    const txn = /name="txn" value="([^"]+)"/.exec(await page.text())?.[1] as string;
    const csrf = (page.headers.getSetCookie().find((h) => h.startsWith('baton_csrf=')) ?? '').split(';')[0] as string;
    const signedIn = await fetch(`${issuer}/oauth/authorize/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: issuer, cookie: csrf },
      body: new URLSearchParams({ txn, username: 'alice', password: 'correct horse' }),
    });
    expect(signedIn.status).toBe(303);
    const tokens = await client.authorizationCodeGrant(config, new URL(signedIn.headers.get('location') as string), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    expect(tokens.claims()).toMatchObject({ iss: issuer, sub: 'id-alice', aud: 'web', nonce });
    const end = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token as string, post_logout_redirect_uri: 'http://127.0.0.1/bye', state: 'x' });
    expect(end.href.startsWith(`${issuer}/oauth/end-session?`)).toBe(true);
    const as = (signedIn.headers.getSetCookie().find((h) => h.startsWith('baton_as=')) ?? '').split(';')[0] as string;
    const out = await fetch(end, { redirect: 'manual', headers: { cookie: `${csrf}; ${as}` } });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('http://127.0.0.1/bye?state=x');
    expect(await baton.listSessions('id-alice')).toEqual([]);
  });
});
