/**
 * The whole OpenID Connect code flow as oauth4webapi runs it with its defaults, against the handler
 * in-process (its `customFetch` hands each request to the handler): OpenID discovery, the
 * authorization request (PKCE, state, nonce), the hosted sign-in, the code exchange and its ID
 * token (claims, nonce, signature on the JWKS), UserInfo, then RP-initiated logout with that ID
 * token — on an EdDSA ring and an RS256 ring.
 */
import { describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { codeOf } from '../support/baton.ts';
import { hostedSignIn, oidcSetup } from '../support/oidc.ts';

describe.each(['EdDSA', 'RS256'] as const)('the OpenID Connect code flow on an %s ring', (alg) => {
  it('oauth4webapi: discovery, code + PKCE + nonce, ID token, UserInfo; then end-session with the ID token signs the browser and the client out', async () => {
    const s = oidcSetup(alg, {
      authorization: { claims: async (userId, scope) => (scope.includes('profile') ? { preferred_username: userId.slice(3) } : {}) },
    });
    const options = { [oauth.customFetch]: (url: string, init: object) => s.handler(new Request(url, init as RequestInit)) };
    const as = await oauth.processDiscoveryResponse(new URL(s.issuer), await oauth.discoveryRequest(new URL(s.issuer), { ...options, algorithm: 'oidc' }));
    expect(as.id_token_signing_alg_values_supported).toEqual([alg]);
    const client: oauth.Client = { client_id: 'web' };
    const verifier = oauth.generateRandomCodeVerifier();
    const [state, nonce] = [oauth.generateRandomState(), oauth.generateRandomNonce()];
    const url = new URL(as.authorization_endpoint as string);
    for (const [k, v] of Object.entries({
      client_id: 'web',
      redirect_uri: 'https://app.test/cb',
      response_type: 'code',
      scope: 'openid profile',
      state,
      nonce,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    }))
      url.searchParams.set(k, v);

    const browser = await hostedSignIn(s, 'alice', undefined, url);
    const params = oauth.validateAuthResponse(as, client, new URL(browser.location as string), state);
    const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, 'https://app.test/cb', verifier, options);
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce, requireIdToken: true });
    const claims = oauth.getValidatedIdTokenClaims(tokens) as oauth.IDToken & { sid: string };
    expect(claims).toMatchObject({ iss: s.issuer, sub: 'id-alice', aud: 'web', nonce, sid: (tokens as { session_id?: string }).session_id });
    expect(claims.exp - claims.iat).toBe(300);
    expect(Math.abs((claims.auth_time as number) - Math.floor(Date.now() / 1000))).toBeLessThan(30);
    await oauth.validateApplicationLevelSignature(as, response, options);

    const info = await oauth.processUserInfoResponse(as, client, 'id-alice', await oauth.userInfoRequest(as, client, tokens.access_token, options));
    expect(info).toEqual({ sub: 'id-alice', preferred_username: 'alice' });

    // RP-initiated logout with the ID token just received.
    const end = new URL(as.end_session_endpoint as string);
    end.search = new URLSearchParams({ id_token_hint: tokens.id_token as string, post_logout_redirect_uri: 'https://app.test/bye', state: 'after' }).toString();
    const out = await s.handler(new Request(end, { headers: { cookie: browser.cookie } }));
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('https://app.test/bye?state=after');
    expect(await s.baton.listSessions('id-alice')).toEqual([]);
    expect(await codeOf(s.baton.verify(tokens.access_token))).toBe('ERR_SESSION_REVOKED');
    const refreshed = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token as string, options);
    await expect(oauth.processRefreshTokenResponse(as, client, refreshed)).rejects.toThrow();
  });
});
