/**
 * Issue #25, "Done when": oauth4webapi with its defaults runs the code flow against the service as
 * users start it (`baton serve` in a child process, behind TLS), DPoP-bound (RFC 9449): discovery
 * with the default algorithm (OpenID Connect), an authorization request with PKCE, state, nonce and
 * `dpop_jkt` (§10) for a third-party client on a loopback redirect URI registered without a port
 * (RFC 8252 §7.3), the hosted sign-in and consent page in Chromium, the token request with the
 * library's `DPoP()` handle, the ID token, userinfo with the DPoP scheme, a refresh, and logout.
 * The binding is shown to hold: the access token carries the key's thumbprint, the same token as a
 * Bearer is refused, the refresh token without the key is refused, and a code bound to one key
 * cannot be redeemed with another.
 *
 * No insecure option: the issuer is https; the library gets only a fetch that trusts the test's
 * certificate authority (its `customFetch` option).
 */
import { calculateJwkThumbprint, decodeJwt, exportJWK } from 'jose';
import * as oauth from 'oauth4webapi';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAuthzService, startRelyingParty } from '../../support/authz-service.ts';
import type { AuthzService, RelyingParty } from '../../support/authz-service.ts';
import { describeInChromium, launchChromium } from '../../support/chromium.ts';
import { explained, httpsContext, signInOnHostedPage } from '../../support/hosted-sign-in.ts';

const client: oauth.Client = { client_id: 'native' };

/** oauth4webapi's documented DPoP nonce handling: one retry with the nonce the server gave. */
const retryOnNonce = async <T>(request: () => Promise<T>): Promise<T> =>
  request().catch((err: unknown) => {
    if (oauth.isDPoPNonceError(err)) return request();
    throw err;
  });

describeInChromium('oauth4webapi (defaults) with DPoP against the service behind TLS', 'test/interop/oauth/oauth4webapi.test.ts', () => {
  let service: AuthzService;
  let rp: RelyingParty;
  let browser: Browser;
  let context: BrowserContext;
  let as: oauth.AuthorizationServer;
  let options: { [oauth.customFetch]: AuthzService['customFetch'] };
  beforeAll(async () => {
    [service, rp] = await Promise.all([startAuthzService(), startRelyingParty()]);
    await service.addClient('native', {
      redirectUris: ['http://127.0.0.1/callback'],
      postLogoutRedirectUris: [`${rp.origin}/signed-out`],
      scopes: 'openid profile',
      name: 'Native app',
    });
    options = { [oauth.customFetch]: service.customFetch };
    const issuer = new URL(service.issuer);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, options));
    browser = await launchChromium();
    context = await httpsContext(browser);
  }, 60_000);
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await rp?.close();
    await service?.stop();
  });

  /**
   * An authorization request bound to `key` — by `dpop_jkt` in the request, or (`par`) by a DPoP
   * proof on the pushed request (RFC 9449 §10.1) — signed in in the browser: the callback's
   * parameters and what to redeem them with.
   */
  const authorize = async (key: CryptoKeyPair, via: 'dpop_jkt' | 'par' = 'dpop_jkt') => {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const redirectUri = `${rp.origin}/callback`;
    const request = {
      client_id: client.client_id,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid profile',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    };
    const url = new URL(as.authorization_endpoint as string);
    if (via === 'par') {
      const DPoP = oauth.DPoP(client, key);
      const pushed = await retryOnNonce(async () =>
        oauth.processPushedAuthorizationResponse(as, client, await oauth.pushedAuthorizationRequest(as, client, oauth.None(), request, { DPoP, ...options })),
      );
      url.search = new URLSearchParams({ client_id: client.client_id, request_uri: pushed.request_uri }).toString();
    } else {
      url.search = new URLSearchParams({ ...request, dpop_jkt: await calculateJwkThumbprint(await exportJWK(key.publicKey)) }).toString();
    }
    const page = await context.newPage();
    const callback = await signInOnHostedPage(page, url.href, rp);
    await page.close();
    return { params: oauth.validateAuthResponse(as, client, callback, state), verifier, nonce, redirectUri };
  };

  it('discovers the OpenID Provider metadata with DPoP algorithms, and only over TLS it trusts', async () => {
    expect(as).toMatchObject({ issuer: service.issuer, response_types_supported: ['code'], code_challenge_methods_supported: ['S256'] });
    expect(as.dpop_signing_alg_values_supported).toContain('ES256');
    await expect(oauth.discoveryRequest(new URL(service.issuer))).rejects.toThrow(); // the default fetch: the authority is not trusted
    await expect(oauth.discoveryRequest(new URL(service.issuer.replace('https:', 'http:')))).rejects.toThrow(); // http: refused by the library
  });

  it('signs in with the code flow in Chromium, DPoP-bound from the authorization request to userinfo and the refresh', async () => {
    const key = await oauth.generateKeyPair('ES256');
    const DPoP = oauth.DPoP(client, key);
    const { params, verifier, nonce, redirectUri } = await authorize(key);
    const tokens = await retryOnNonce(async () =>
      oauth.processAuthorizationCodeResponse(
        as,
        client,
        await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, { DPoP, ...options }),
        { expectedNonce: nonce, requireIdToken: true },
      ),
    );
    expect(tokens.token_type).toBe('dpop');
    const jkt = await calculateJwkThumbprint(await exportJWK(key.publicKey));
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt });
    const claims = oauth.getValidatedIdTokenClaims(tokens);
    expect(claims).toMatchObject({ iss: service.issuer, aud: 'native', nonce });

    const info = await retryOnNonce(async () =>
      oauth.processUserInfoResponse(as, client, claims!.sub, await oauth.userInfoRequest(as, client, tokens.access_token, { DPoP, ...options })),
    );
    expect(info).toMatchObject({ sub: claims!.sub, preferred_username: 'alice' });
    // The same token as a Bearer (no proof) is refused.
    await expect(
      oauth.processUserInfoResponse(as, client, claims!.sub, await oauth.userInfoRequest(as, client, tokens.access_token, options)),
    ).rejects.toBeInstanceOf(oauth.WWWAuthenticateChallengeError);

    const refresh = (handle?: oauth.DPoPHandle) =>
      retryOnNonce(async () =>
        oauth.processRefreshTokenResponse(
          as,
          client,
          await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token as string, { ...(handle ? { DPoP: handle } : {}), ...options }),
        ),
      );
    await expect(refresh()).rejects.toMatchObject({ error: 'invalid_grant' }); // bound: no proof, no refresh
    const refreshed = await refresh(DPoP);
    expect(refreshed.token_type).toBe('dpop');
    expect(decodeJwt(refreshed.access_token).cnf).toEqual({ jkt });

    // Logout: the end-session endpoint with the ID token as a hint, back to the registered URI.
    const out = rp.next('/signed-out');
    const end = new URL(as.end_session_endpoint as string);
    end.search = new URLSearchParams({
      id_token_hint: tokens.id_token as string,
      post_logout_redirect_uri: `${rp.origin}/signed-out`,
      state: 'bye',
    }).toString();
    const page = await context.newPage();
    await explained(page, 'logout', async () => {
      await page.goto(end.href);
      return out;
    });
    expect((await out).searchParams.get('state')).toBe('bye');
    await page.close();
  }, 60_000);

  it('a code bound to one key (dpop_jkt) is not redeemed with a proof by another', async () => {
    const key = await oauth.generateKeyPair('ES256');
    const thief = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
    const { params, verifier, redirectUri } = await authorize(key);
    const redeem = retryOnNonce(async () =>
      oauth.processAuthorizationCodeResponse(
        as,
        client,
        await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, { DPoP: thief, ...options }),
      ),
    );
    await expect(redeem).rejects.toMatchObject({ error: 'invalid_grant' });
  }, 60_000);

  it('PAR with a DPoP proof binds the code to that key (RFC 9449 §10.1): another key is refused without spending the code, the key redeems it', async () => {
    const key = await oauth.generateKeyPair('ES256');
    const { params, verifier, nonce, redirectUri } = await authorize(key, 'par');
    const redeem = (handle: oauth.DPoPHandle) =>
      retryOnNonce(async () =>
        oauth.processAuthorizationCodeResponse(
          as,
          client,
          await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, { DPoP: handle, ...options }),
          { expectedNonce: nonce, requireIdToken: true },
        ),
      );
    await expect(redeem(oauth.DPoP(client, await oauth.generateKeyPair('ES256')))).rejects.toMatchObject({ error: 'invalid_grant' });
    const tokens = await redeem(oauth.DPoP(client, key));
    expect(tokens.token_type).toBe('dpop');
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt: await calculateJwkThumbprint(await exportJWK(key.publicKey)) });
  }, 60_000);
});
