/**
 * Issue #25, "Done when": openid-client v6 with its defaults runs the whole OpenID Connect code
 * flow against the service as users start it (`baton serve` in a child process, behind TLS):
 * `discovery()` without `algorithm: 'oauth2'` (so through `/.well-known/openid-configuration`),
 * an authorization URL with PKCE (S256), state and nonce, the hosted sign-in typed in Chromium,
 * `authorizationCodeGrant` with its checks (state, RFC 9207 `iss`, PKCE, nonce, the ID token's
 * claims), `fetchUserInfo`, a refresh, and RP-initiated logout (`buildEndSessionUrl`) after which
 * the session is over.
 *
 * No insecure option anywhere: the issuer is https (./../../support/tls-proxy.ts), and the only
 * thing handed to the library is a fetch that trusts the test's own certificate authority.
 */
import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAuthzService, startRelyingParty } from '../../support/authz-service.ts';
import type { AuthzService, RelyingParty } from '../../support/authz-service.ts';
import { describeInChromium, launchChromium } from '../../support/chromium.ts';
import { explained, httpsContext, signInOnHostedPage } from '../../support/hosted-sign-in.ts';

describeInChromium('openid-client (defaults) against the service behind TLS', 'test/interop/oauth/openid-client.test.ts', () => {
  let service: AuthzService;
  let rp: RelyingParty;
  let browser: Browser;
  beforeAll(async () => {
    [service, rp] = await Promise.all([startAuthzService(), startRelyingParty()]);
    await service.addClient('rp', {
      redirectUris: [`${rp.origin}/callback`],
      postLogoutRedirectUris: [`${rp.origin}/signed-out`],
      firstParty: true,
      scopes: 'openid profile',
    });
    await service.addClient('rp-par', { redirectUris: [`${rp.origin}/callback`], firstParty: true, scopes: 'openid', par: true });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await rp?.close();
    await service?.stop();
  });

  const discover = () => client.discovery(new URL(service.issuer), 'rp', undefined, client.None(), { [client.customFetch]: service.customFetch });

  it('discovers the OpenID Provider with the default algorithm, and only over TLS it trusts', async () => {
    const meta = (await discover()).serverMetadata();
    expect(meta).toMatchObject({
      issuer: service.issuer,
      authorization_endpoint: `${service.issuer}/oauth/authorize`,
      token_endpoint: `${service.issuer}/oauth/token`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    });
    expect(meta.userinfo_endpoint).toMatch(new RegExp(`^${service.issuer}/`));
    expect(meta.end_session_endpoint).toMatch(new RegExp(`^${service.issuer}/`));
    // Without the test's authority the library's default fetch refuses the certificate, and plain http it refuses itself.
    await expect(client.discovery(new URL(service.issuer), 'rp')).rejects.toThrow();
    await expect(client.discovery(new URL(service.issuer.replace('https:', 'http:')), 'rp')).rejects.toThrow(/only requests to HTTPS are allowed/);
  });

  it('signs in with the code flow in Chromium, checks the ID token, reads userinfo, refreshes, and signs out (RP-initiated logout)', async () => {
    const config = await discover();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `${rp.origin}/callback`,
      scope: 'openid profile',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const context = await httpsContext(browser);
    const page = await context.newPage();
    try {
      const callback = await signInOnHostedPage(page, url.href, rp);
      expect(Object.fromEntries(callback.searchParams)).toMatchObject({ code: expect.any(String), state, iss: service.issuer }); // RFC 9207 iss
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      expect(claims).toMatchObject({ iss: service.issuer, aud: 'rp', nonce, sub: expect.stringMatching(/^usr_/) });
      expect(claims?.auth_time).toBeGreaterThan(Date.now() / 1000 - 120);
      expect(typeof claims?.sid).toBe('string');
      expect(tokens.scope?.split(' ').sort()).toEqual(['openid', 'profile']);
      // openid-client trusts the token endpoint's TLS for the ID token's signature (OIDC Core §3.1.3.7 allows it); checked here too, on the published keys.
      const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri as string), { [customFetch]: service.customFetch });
      const { protectedHeader } = await jwtVerify(tokens.id_token as string, jwks, { issuer: service.issuer, audience: 'rp', typ: 'JWT' });
      expect(protectedHeader.kid).toBeTruthy();

      const info = await client.fetchUserInfo(config, tokens.access_token, claims!.sub);
      expect(info).toMatchObject({ sub: claims!.sub, preferred_username: 'alice' });

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);
      expect(refreshed.access_token).not.toBe(tokens.access_token);
      expect(refreshed.refresh_token).toBeTruthy();

      // RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2–§3): back to the registered URI with the state.
      const logoutState = client.randomState();
      const endSession = client.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token as string,
        post_logout_redirect_uri: `${rp.origin}/signed-out`,
        state: logoutState,
      });
      const out = rp.next('/signed-out');
      out.catch(() => {});
      await explained(page, 'RP-initiated logout', async () => {
        await page.goto(endSession.href);
        const confirm = page.getByRole('button', { name: /sign out|log out|yes/i });
        // A confirmation page, if the provider shows one (§2: it may ask the user).
        void confirm
          .waitFor({ timeout: 10_000 })
          .then(() => confirm.click())
          .catch(() => {});
        return out;
      });
      expect((await out).searchParams.get('state')).toBe(logoutState);
      // The session is over: its refresh token is refused, and the browser is no longer signed in there.
      await expect(client.refreshTokenGrant(config, refreshed.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
      const silent = client.buildAuthorizationUrl(config, {
        redirect_uri: `${rp.origin}/callback`,
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
        state: 'silent',
        prompt: 'none',
      });
      const again = rp.next('/callback');
      await page.goto(silent.href);
      expect(Object.fromEntries((await again).searchParams)).toMatchObject({ error: 'login_required', state: 'silent', iss: service.issuer });
    } finally {
      await context.close();
    }
  }, 60_000);

  it('a client that must use PAR (RFC 9126, `clients add --par`): refused without it, signed in with buildAuthorizationUrlWithPAR', async () => {
    const config = await client.discovery(new URL(service.issuer), 'rp-par', undefined, client.None(), { [client.customFetch]: service.customFetch });
    expect(config.serverMetadata().pushed_authorization_request_endpoint).toBe(`${service.issuer}/oauth/par`);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const params = {
      redirect_uri: `${rp.origin}/callback`,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    };
    const context = await httpsContext(browser);
    const page = await context.newPage();
    try {
      // Without PAR the request is refused (§6), back at the registered redirect URI.
      const refused = rp.next('/callback');
      await page.goto(client.buildAuthorizationUrl(config, params).href);
      expect(Object.fromEntries((await refused).searchParams)).toMatchObject({ error: 'invalid_request', state, iss: service.issuer });
      // With it, the browser carries only the client and the request_uri (§4).
      const url = await client.buildAuthorizationUrlWithPAR(config, params);
      expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
      expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
      const callback = await signInOnHostedPage(page, url.href, rp);
      const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true });
      expect(tokens.claims()).toMatchObject({ iss: service.issuer, aud: 'rp-par' });
    } finally {
      await context.close();
    }
  }, 60_000);
});
