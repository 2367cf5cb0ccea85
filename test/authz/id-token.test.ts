/**
 * ID tokens (OIDC Core §2, §3.1.3.3): claims, header and signature, checked by oauth4webapi with its
 * defaults — `processAuthorizationCodeResponse` on a token answer carrying the ID token, the
 * algorithm taken from the discovery document's `id_token_signing_alg_values_supported` — and the
 * signature by `validateApplicationLevelSignature` against the handler's JWKS, on an EdDSA ring
 * (the service's default) and an RS256 ring.
 */
import { describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { idToken, ID_TOKEN_TTL_SECONDS } from '../../packages/baton-auth/src/authz/id-token.ts';
import { verifyIdTokenHint } from '../../packages/baton-auth/src/core/id-token.ts';
import { codeOf } from '../support/baton.ts';
import { oidcSetup } from '../support/oidc.ts';

/** A token answer (RFC 6749 §5.1) of a code exchange for alice, with `id_token` when the scope holds openid. */
async function exchange(alg: 'EdDSA' | 'RS256', nonce?: string) {
  const s = oidcSetup(alg);
  const pair = await s.baton.login('id-alice', { clientId: 'web', scope: 'openid profile' });
  const authTime = Math.floor(Date.now() / 1000) - 5;
  const id_token = await idToken(s.context, { userId: 'id-alice', clientId: 'web', nonce, authTime, sid: pair.session_id, scope: ['openid', 'profile'] });
  const body = { access_token: pair.access_token, token_type: pair.token_type, expires_in: pair.expires_in, scope: pair.scope, id_token };
  const as = (await (await s.call('/.well-known/openid-configuration')).json()) as oauth.AuthorizationServer;
  const answer = () => new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  return { ...s, pair, authTime, id_token, as, answer };
}

describe.each(['EdDSA', 'RS256'] as const)('ID token on an %s ring', (alg) => {
  it('has the claims of OIDC Core §2 and the header typ JWT with the signing key’s kid', async () => {
    const { id_token, pair, authTime, baton } = await exchange(alg, 'n-0S6_WzA2Mj');
    expect(decodeProtectedHeader(id_token)).toEqual({ alg, typ: 'JWT', kid: `${alg}-1` });
    const claims = decodeJwt(id_token);
    const now = Math.floor(baton.now() / 1000);
    expect(claims).toEqual({
      iss: 'https://auth.test',
      sub: 'id-alice',
      aud: 'web',
      exp: (claims.iat as number) + ID_TOKEN_TTL_SECONDS,
      iat: expect.any(Number),
      auth_time: authTime,
      nonce: 'n-0S6_WzA2Mj',
      sid: pair.session_id,
    });
    expect(Math.abs((claims.iat as number) - now)).toBeLessThanOrEqual(1);
    expect(claims).not.toHaveProperty('at_hash');
  });

  it('passes oauth4webapi’s processAuthorizationCodeResponse with its defaults, nonce echoed, and its signature check on the JWKS', async () => {
    const { as, answer, handler } = await exchange(alg, 'n-0S6_WzA2Mj');
    expect(as.id_token_signing_alg_values_supported).toEqual([alg]);
    const client: oauth.Client = { client_id: 'web' };
    const response = answer();
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: 'n-0S6_WzA2Mj', requireIdToken: true });
    expect(oauth.getValidatedIdTokenClaims(result)).toMatchObject({ sub: 'id-alice', aud: 'web', nonce: 'n-0S6_WzA2Mj' });
    // The signature, against the keys at jwks_uri (fetched from the handler itself).
    await oauth.validateApplicationLevelSignature(as, response, { [oauth.customFetch]: (url: string) => handler(new Request(url)) });
  });

  it('is refused by oauth4webapi for another nonce, and for one when none was sent', async () => {
    const { as, answer } = await exchange(alg, 'the-nonce');
    const client: oauth.Client = { client_id: 'web' };
    await expect(oauth.processAuthorizationCodeResponse(as, client, answer(), { expectedNonce: 'another' })).rejects.toThrow(/nonce/);
    await expect(oauth.processAuthorizationCodeResponse(as, client, answer(), { requireIdToken: true })).rejects.toThrow(/nonce/);
    const none = await exchange(alg);
    expect(decodeJwt(none.id_token)).not.toHaveProperty('nonce');
    await expect(oauth.processAuthorizationCodeResponse(none.as, client, none.answer(), { requireIdToken: true })).resolves.toBeDefined();
  });

  it('is refused by oauth4webapi for another client (aud) and when the signature was tampered with', async () => {
    const { as, answer, handler, id_token } = await exchange(alg);
    await expect(oauth.processAuthorizationCodeResponse(as, { client_id: 'other' }, answer(), { requireIdToken: true })).rejects.toThrow(/aud/);
    const [h, p, sig] = id_token.split('.') as [string, string, string];
    const flipped = `${h}.${p}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    const response = new Response(JSON.stringify({ access_token: 'x', token_type: 'Bearer', id_token: flipped }), {
      headers: { 'content-type': 'application/json' },
    });
    await oauth.processAuthorizationCodeResponse(as, { client_id: 'web' }, response, { requireIdToken: true });
    await expect(oauth.validateApplicationLevelSignature(as, response, { [oauth.customFetch]: (url: string) => handler(new Request(url)) })).rejects.toThrow(
      /signature/i,
    );
  });

  it('is never accepted as an access token (typ JWT, not at+jwt: RFC 8725 §3.11)', async () => {
    const { baton, id_token } = await exchange(alg);
    expect(await codeOf(baton.verify(id_token))).toBe('ERR_TOKEN_INVALID');
  });

  it('verifies as an id_token_hint, expired or not, and nothing else does', async () => {
    const { baton, id_token, issuer, pair } = await exchange(alg);
    expect(verifyIdTokenHint(id_token, baton.keys, issuer)).toMatchObject({ sub: 'id-alice', sid: pair.session_id });
    expect(verifyIdTokenHint(id_token, baton.keys, 'https://other.test')).toBeUndefined();
    expect(verifyIdTokenHint(pair.access_token, baton.keys, issuer)).toBeUndefined();
    const other = await exchange(alg);
    expect(verifyIdTokenHint(other.id_token, baton.keys, issuer)).toBeUndefined(); // another ring's key
    const [h, p, sig] = id_token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...decodeJwt(id_token), sub: 'id-bob' })).toString('base64url');
    expect(verifyIdTokenHint(`${h}.${forged}.${sig}`, baton.keys, issuer)).toBeUndefined();
    expect(verifyIdTokenHint(`${h}.${p}.${sig}${'A'.repeat(4096)}`, baton.keys, issuer)).toBeUndefined();
  });
});

describe('ID token refusals', () => {
  it('an HS256 ring signs no ID token (no client could check it) and has no OpenID configuration', async () => {
    const s = oidcSetup('HS256');
    expect(await codeOf(idToken(s.context, { userId: 'u', clientId: 'web', authTime: 1, sid: 's', scope: ['openid'] }))).toBe('ERR_CONFIG');
    const res = await s.call('/.well-known/openid-configuration');
    expect(res.status).toBe(404);
    expect((await res.json()).error_description).toMatch(/HS256/);
  });

  it('needs openid in the scope and a nonce of at most 256 characters', async () => {
    const s = oidcSetup('EdDSA');
    const base = { userId: 'u', clientId: 'web', authTime: 1, sid: 's' };
    expect(await codeOf(idToken(s.context, { ...base, scope: ['profile'] }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf(idToken(s.context, { ...base, scope: ['openid'], nonce: 'n'.repeat(257) }))).toBe('ERR_INVALID_ARGUMENT');
    expect(await codeOf(idToken(s.context, { ...base, scope: ['openid'], nonce: 'n'.repeat(256) }))).toBe('resolved');
  });
});
