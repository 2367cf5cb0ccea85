/**
 * The server's DPoP module asked directly: what a request binds to (RFC 9449 §5, §6) and what the
 * guard asks of the DPoP scheme (§7.1). The flows through Baton, the handler and the adapters are
 * in test/core/dpop*.test.ts, test/http/dpop*.test.ts and test/adapters/.
 */
import { describe, expect, it } from 'vitest';
import { BatonError } from '../../packages/baton-auth/src/core/errors.ts';
import { confirm, loginBinding, refreshBinding, requestedKey, thumbprint, tokenType } from '../../packages/baton-auth/src/dpop/binding.ts';
import { guardDpop, isDpopScheme, proofRefusal } from '../../packages/baton-auth/src/dpop/scheme.ts';
import { HttpError } from '../../packages/baton-auth/src/http/respond.ts';
import type { AccessTokenClaims } from '../../packages/baton-auth/src/core/access-token.ts';

const JKT = 'x'.repeat(43);
const OTHER = 'y'.repeat(43);

describe('dpop/binding', () => {
  it('binds a login for life, and at a refresh the session only if it was bound', () => {
    expect(loginBinding(JKT)).toEqual({ session: JKT, access: JKT });
    expect(loginBinding(undefined)).toEqual({ session: undefined, access: undefined });
    expect(refreshBinding(true, JKT)).toEqual({ session: JKT, access: JKT });
    // A proof at the refresh of an unbound session binds the access token only.
    expect(refreshBinding(false, JKT)).toEqual({ session: undefined, access: JKT });
  });

  it('says a bound token is one: cnf.jkt and token_type DPoP', () => {
    const claims = { sub: 'u' } as AccessTokenClaims;
    confirm(claims, undefined);
    expect(claims.cnf).toBeUndefined();
    confirm(claims, JKT);
    expect(claims.cnf).toEqual({ jkt: JKT });
    expect([tokenType(undefined), tokenType(JKT)]).toEqual(['Bearer', 'DPoP']);
  });

  it("takes the proof's key before a named one, and refuses what is not a thumbprint", () => {
    expect(requestedKey({ jkt: OTHER, proof: { jkt: JKT, jti: 'j', iat: 1 } })).toBe(JKT);
    expect(requestedKey({ jkt: OTHER })).toBe(OTHER);
    expect(requestedKey({})).toBeUndefined();
    expect(() => thumbprint('not-a-thumbprint')).toThrow(BatonError);
    expect(() => thumbprint('x'.repeat(42))).toThrow(/RFC 7638/);
  });
});

describe('dpop/scheme', () => {
  it('knows the scheme whatever its case (RFC 9110 §11.1)', () => {
    expect(['DPoP', 'dpop', 'DPOP'].map(isDpopScheme)).toEqual([true, true, true]);
    expect(['Bearer', 'DPoPx', 'DPo'].map(isDpopScheme)).toEqual([false, false, false]);
  });

  it('takes the DPoP scheme only from a verifier of proofs with a reader of requests', () => {
    const read = (r: string) => ({ proof: r, method: 'GET', url: 'https://api.example/' });
    const on = guardDpop(true, read, {});
    expect(on.accepts('p')).toBe(true);
    expect(on.accepts(undefined)).toBe(false);
    expect(on.params.dpopAlgs).toContain('ES256'); // the DPoP challenge beside the Bearer one
    expect(on.read('p').proof).toBe('p');
    for (const off of [guardDpop(false, read, {}), guardDpop<string>(true, undefined, {})]) {
      expect(off.accepts('p')).toBe(false);
      expect(off.params.dpopAlgs).toBeUndefined();
      const refusal = off.notAccepted();
      expect([refusal.status, refusal.body.error]).toEqual([401, 'invalid_token']);
      expect(refusal.headers['www-authenticate']).toMatch(/^DPoP /);
    }
  });

  it('answers a refused proof with the DPoP challenge and the nonce to use (RFC 9449 §9), and nothing else', () => {
    const refusal = proofRefusal(new HttpError('ERR_DPOP_NONCE', 'use the nonce', { headers: { 'dpop-nonce': 'n1' } }), {});
    expect(refusal?.status).toBe(401);
    expect(refusal?.headers['dpop-nonce']).toBe('n1');
    expect(refusal?.headers['www-authenticate']).toMatch(/^DPoP .*error="use_dpop_nonce"/);
    expect(proofRefusal(new HttpError('ERR_TOKEN_EXPIRED', 'expired'), {})).toBeUndefined();
  });
});
