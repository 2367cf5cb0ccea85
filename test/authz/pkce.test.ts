/**
 * PKCE (RFC 7636): the Appendix B vector, S256 only, the verifier's alphabet and length (§4.1).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkChallenge, s256, verifierMatches } from '../../packages/baton-auth/src/authz/pkce.ts';

// RFC 7636 Appendix B.
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';

describe('PKCE', () => {
  it('RFC 7636 Appendix B: the verifier matches its S256 challenge', () => {
    expect(s256(VERIFIER)).toBe(CHALLENGE);
    expect(checkChallenge(CHALLENGE, 'S256')).toBe(CHALLENGE);
    expect(verifierMatches(VERIFIER, CHALLENGE)).toBe(true);
  });

  it('the challenge must be S256 and 43 base64url characters; plain and a missing method are refused', () => {
    const refused = (c: string | undefined, m: string | undefined) => {
      try {
        checkChallenge(c, m);
        return 'accepted';
      } catch (err) {
        return (err as { error: string }).error;
      }
    };
    expect(refused(CHALLENGE, 'plain')).toBe('invalid_request');
    expect(refused(CHALLENGE, undefined)).toBe('invalid_request');
    expect(refused(CHALLENGE, 's256')).toBe('invalid_request');
    expect(refused(undefined, 'S256')).toBe('invalid_request');
    expect(refused('', 'S256')).toBe('invalid_request');
    expect(refused(`${CHALLENGE}=`, 'S256')).toBe('invalid_request');
    expect(refused(CHALLENGE.slice(1), 'S256')).toBe('invalid_request');
    expect(refused(`${CHALLENGE.slice(1)}+`, 'S256')).toBe('invalid_request');
    expect(refused(VERIFIER, 'plain')).toBe('invalid_request'); // a verifier sent as a plain challenge
  });

  it('the verifier is refused when it is wrong, missing, the challenge itself, or outside 43–128 unreserved characters (§4.1)', () => {
    expect(verifierMatches(undefined, CHALLENGE)).toBe(false);
    expect(verifierMatches('', CHALLENGE)).toBe(false);
    expect(verifierMatches(CHALLENGE, CHALLENGE)).toBe(false); // plain
    expect(verifierMatches(`${VERIFIER.slice(0, -1)}l`, CHALLENGE)).toBe(false);
    const short = 'a'.repeat(42);
    expect(verifierMatches(short, s256(short))).toBe(false);
    const long = 'a'.repeat(129);
    expect(verifierMatches(long, s256(long))).toBe(false);
    const odd = `${'a'.repeat(43)}+`;
    expect(verifierMatches(odd, s256(odd))).toBe(false);
  });

  it('law: every well-formed verifier matches its own challenge and no other verifier does', () => {
    const verifier = fc.string({ unit: fc.constantFrom(...UNRESERVED), minLength: 43, maxLength: 128 });
    fc.assert(
      fc.property(verifier, verifier, (v, w) => {
        expect(verifierMatches(v, s256(v))).toBe(true);
        expect(verifierMatches(w, s256(v))).toBe(v === w);
      }),
    );
  });
});
