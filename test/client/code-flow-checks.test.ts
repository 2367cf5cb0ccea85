/**
 * The checks of the code flow's answer, called directly, as laws over arbitrary input (fast-check):
 * an answer is taken only with this sign-in's exact `state` (RFC 6749 §10.12) and, past that, only
 * with the issuer's exact `iss` (RFC 9207 §2.4; absent only where the server never promised it);
 * a parameter given twice is refused; an error answer is an `AuthorizationError` with the server's
 * code. The ID token's claims (OpenID Connect Core §3.1.3.7): issuer, audience, expiry and `nonce`
 * each refused when not this sign-in's. And the request's own options.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuthorizationError, BatonClientError, createTokenClient } from 'baton-auth-client';
import { signInWithBrowser } from 'baton-auth-client/node';
import { codeOf } from '../../packages/baton-auth-client/src/code-flow.ts';
import type { PendingSignIn } from '../../packages/baton-auth-client/src/code-flow.ts';
import { idTokenClaims } from '../../packages/baton-auth-client/src/id-token.ts';

const ISSUER = 'https://auth.example.com';
const pending = (over: Partial<PendingSignIn> = {}): PendingSignIn => ({
  issuer: ISSUER,
  clientId: 'app',
  redirectUri: 'http://127.0.0.1:1234/callback',
  state: 'S'.repeat(43),
  verifier: 'v'.repeat(43),
  issInResponse: true,
  ...over,
});

/** The code, or the error's code. */
function outcome(query: string, p = pending()): string {
  try {
    return `code:${codeOf(new URLSearchParams(query), p)}`;
  } catch (err) {
    expect(err).toBeInstanceOf(BatonClientError);
    return (err as BatonClientError).code;
  }
}

const q = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('the answer at the redirect URI, checked before anything is sent', () => {
  it('takes the code of an answer with the exact state and iss', () => {
    expect(outcome(q({ code: 'c1', state: pending().state, iss: ISSUER }))).toBe('code:c1');
  });

  it('law: any other state (absent, repeated, off by anything) is ERR_STATE_MISMATCH, whatever else the answer says', () => {
    fc.assert(
      fc.property(fc.option(fc.string({ maxLength: 60 })), fc.boolean(), fc.string(), (state, twice, code) => {
        fc.pre(state === null ? !twice : state !== pending().state || twice); // else exactly one right state
        const params = new URLSearchParams({ code, iss: ISSUER, error: 'access_denied' });
        if (state !== null) params.append('state', state);
        if (twice) params.append('state', pending().state);
        expect(outcome(params.toString())).toBe('ERR_STATE_MISMATCH');
      }),
    );
  });

  it('law: with the right state, any iss but the issuer is ERR_ISSUER_MISMATCH, even on an error answer', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.constantFrom(`${ISSUER}/`, 'https://AUTH.example.com', 'https://auth.example.com.', 'http://auth.example.com')),
        (iss) => {
          fc.pre(iss !== ISSUER);
          expect(outcome(q({ code: 'c', state: pending().state, iss, error: 'access_denied' }))).toBe('ERR_ISSUER_MISMATCH');
        },
      ),
    );
    expect(outcome(`code=c&state=${pending().state}&iss=${encodeURIComponent(ISSUER)}&iss=${encodeURIComponent(ISSUER)}`)).toBe('ERR_ISSUER_MISMATCH');
  });

  it('an absent iss is refused where the metadata promised it (RFC 9207 §2.4), taken where it did not', () => {
    expect(outcome(q({ code: 'c', state: pending().state }))).toBe('ERR_ISSUER_MISMATCH');
    expect(outcome(q({ code: 'c', state: pending().state }), pending({ issInResponse: false }))).toBe('code:c');
  });

  it("an error answer is an AuthorizationError with the server's code and a description fit for RFC 6749", () => {
    let err: unknown;
    try {
      codeOf(
        new URLSearchParams(q({ state: pending().state, iss: ISSUER, error: 'access_denied', error_description: 'The user said "no" — twice' })),
        pending(),
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AuthorizationError);
    expect(err).toMatchObject({ code: 'ERR_AUTHORIZATION_REFUSED', error: 'access_denied', errorDescription: "The user said 'no' - twice" });
    expect(outcome(q({ state: pending().state, iss: ISSUER }))).toBe('ERR_AUTHORIZATION_REFUSED'); // neither code nor error
    expect(outcome(`state=${pending().state}&iss=${encodeURIComponent(ISSUER)}&code=a&code=b`)).toBe('ERR_AUTHORIZATION_REFUSED');
  });
});

/** An unsigned-looking JWS with `claims` (the signature is not checked: see id-token.ts). */
const jwt = (claims: Record<string, unknown>) =>
  `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;

describe('the ID token of an openid sign-in', () => {
  const now = Date.now();
  const good = { iss: ISSUER, aud: 'app', sub: 'alice', exp: Math.floor(now / 1000) + 60, iat: Math.floor(now / 1000), nonce: 'n'.repeat(43) };
  const expect_ = { issuer: ISSUER, clientId: 'app', nonce: 'n'.repeat(43), now };
  const refused = (token: unknown) => {
    try {
      idTokenClaims(token, expect_);
      return 'taken';
    } catch (err) {
      return (err as BatonClientError).code;
    }
  };

  it("is taken with this sign-in's issuer, audience, nonce and a future exp", () => {
    expect(idTokenClaims(jwt(good), expect_)).toMatchObject({ sub: 'alice' });
    expect(idTokenClaims(jwt({ ...good, aud: ['api', 'app'], azp: 'app' }), expect_)).toMatchObject({ sub: 'alice' });
  });

  it.each([
    ['missing', undefined],
    ['not a JWS', 'abc'],
    ['another issuer', jwt({ ...good, iss: 'https://evil.example' })],
    ['another audience', jwt({ ...good, aud: 'other' })],
    ['another authorized party', jwt({ ...good, aud: ['app', 'other'], azp: 'other' })],
    ['expired', jwt({ ...good, exp: Math.floor(now / 1000) - 3600 })],
    ['without exp', jwt({ ...good, exp: undefined })],
    ['another nonce', jwt({ ...good, nonce: 'm'.repeat(43) })],
    ['without nonce', jwt({ ...good, nonce: undefined })],
  ])('is refused when %s (ERR_ID_TOKEN_INVALID)', (_what, token) => {
    expect(refused(token)).toBe('ERR_ID_TOKEN_INVALID');
  });
});

describe("the flow's options", () => {
  const client = createTokenClient({ issuer: ISSUER, clientId: 'app' });

  it.each([
    [{ extraParams: { state: 'mine' } }, 'state'],
    [{ extraParams: { code_challenge_method: 'plain' } }, 'code_challenge_method'],
    [{ extraParams: { redirect_uri: 'https://evil.example/cb' } }, 'redirect_uri'],
    [{ resource: 'not a uri' }, 'resource'],
    [{ timeoutMs: 0 }, 'timeoutMs'],
    [{ open: 'xdg-open' }, 'open'],
  ])('refuses %o with ERR_CONFIG naming %s, before listening or discovering', async (options, name) => {
    const err = await signInWithBrowser(client, options as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatonClientError);
    expect((err as BatonClientError).code).toBe('ERR_CONFIG');
    expect((err as Error).message).toContain(name);
  });

  it('refuses a value that is not a client', async () => {
    await expect(signInWithBrowser({} as never)).rejects.toMatchObject({ code: 'ERR_CONFIG' });
  });
});
