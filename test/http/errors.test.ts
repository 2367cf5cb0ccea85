/**
 * One error model over HTTP: every Baton code maps to one status, one OAuth error and one message,
 * whether a token endpoint or a guard answers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatonError, errorTable, isBatonError, httpStatusOf, oauthErrorOf } from 'baton-auth/errors';
import type { BatonErrorCode } from 'baton-auth/errors';
import { verifyRefusal } from '../../packages/baton-auth/src/http/guard.ts';
import { HttpError, httpErrorOf } from '../../packages/baton-auth/src/http/respond.ts';
import { BatonClientError } from '../../packages/baton-auth-client/src/errors.ts';

const CODES = Object.keys(oauthErrorOf) as BatonErrorCode[];

describe('httpErrorOf and the guards', () => {
  it('agree on every code: a transient answer is the same 503 or 429 with Retry-After, a token error the same 401 and message', () => {
    fc.assert(
      fc.property(fc.constantFrom(...CODES), fc.option(fc.integer({ min: 1, max: 120_000 }), { nil: undefined }), (code, retryAfterMs) => {
        const err = new BatonError(code, 'detail for logs', retryAfterMs === undefined ? undefined : { retryAfterMs });
        const http = httpErrorOf(err);
        const refusal = verifyRefusal(err);
        expect(http.error).toBe(code === 'ERR_RATE_LIMITED' ? 'slow_down' : oauthErrorOf[code]);
        expect(http.status).toBe(httpStatusOf[code]);
        if (http.status === 503 || http.status === 429 || http.status === 500) {
          expect(refusal.status).toBe(http.status);
          expect(refusal.headers['retry-after']).toBe(http.headers['retry-after']);
          if (http.status === 500) expect(http.description).toBe(code === 'ERR_CONFIG' ? 'The server is misconfigured' : 'Something went wrong on our side');
          expect(refusal.body).toEqual({ error: http.error, error_description: http.description });
        } else if (code === 'ERR_DPOP_INVALID' || code === 'ERR_DPOP_NONCE') {
          // RFC 9449 §7.1, §9: a refused proof is the DPoP challenge's own error, a 401 at a resource.
          expect(refusal.status).toBe(401);
          expect(refusal.body).toEqual({ error: http.error, error_description: http.description });
          expect(refusal.headers['www-authenticate']).toMatch(new RegExp(`^DPoP algs="[^"]*", error="${http.error}"`));
        } else {
          expect(refusal.status).toBe(401);
          expect(refusal.body.error).toBe('invalid_token');
          if (http.status === 401) expect(refusal.body.error_description).toBe(http.description);
        }
      }),
    );
  });

  it('the codes a verifier throws keep the statuses they had before the table (the wire stays the same)', () => {
    const before = [
      'ERR_INVALID_ARGUMENT',
      'ERR_TOKEN_INVALID',
      'ERR_TOKEN_EXPIRED',
      'ERR_TOKEN_NOT_YET_VALID',
      'ERR_TOKEN_REVOKED',
      'ERR_SESSION_REVOKED',
      'ERR_TOKEN_REPLAYED',
      'ERR_TOKEN_SCHEME',
      'ERR_INVALID_SCOPE',
      'ERR_INVALID_TARGET',
      'ERR_DPOP_INVALID',
      'ERR_DPOP_NONCE',
      'ERR_REFRESH_INVALID',
      'ERR_REFRESH_REUSED',
      'ERR_SESSION_ENDED',
    ] as const;
    for (const code of before) expect([code, httpStatusOf[code]]).toEqual([code, oauthErrorOf[code] === 'invalid_token' ? 401 : 400]);
    expect([httpStatusOf.ERR_CONFIG, httpStatusOf.ERR_STORE_UNAVAILABLE, httpStatusOf.ERR_RATE_LIMITED]).toEqual([500, 503, 429]);
  });

  it('every HTTP refusal is a BatonError whose code is a row of the one table, status and error read from it', () => {
    for (const code of CODES) {
      const http = new HttpError(code, 'a sentence for the client');
      expect(isBatonError(http)).toBe(true);
      expect([http.status, http.error, http.description]).toEqual([errorTable[code].status, errorTable[code].error, 'a sentence for the client']);
      expect(httpErrorOf(http)).toBe(http);
    }
  });

  it('a rate limit says when to come back, rounded up to whole seconds, never 0', () => {
    expect(httpErrorOf(new BatonError('ERR_RATE_LIMITED', undefined, { retryAfterMs: 1_500 })).headers['retry-after']).toBe('2');
    expect(httpErrorOf(new BatonError('ERR_RATE_LIMITED', undefined, { retryAfterMs: 10 })).headers['retry-after']).toBe('1');
    expect(verifyRefusal(new BatonError('ERR_RATE_LIMITED', undefined, { retryAfterMs: 30_000 })).headers['retry-after']).toBe('30');
  });

  it('use_dpop_nonce keeps its DPoP-Nonce from a DpopError of another copy of the library, as isBatonError takes it (RFC 9449 §8, §9; red team)', () => {
    // What a second copy of baton-auth (another version in node_modules, another realm) throws: the same shape, another class.
    const foreign = Object.assign(new Error('Use the DPoP nonce the server provides'), { name: 'BatonDpopError', code: 'ERR_DPOP_NONCE', nonce: 'n-123' });
    expect(isBatonError(foreign)).toBe(true);
    const http = httpErrorOf(foreign);
    expect([http.status, http.error, http.headers['dpop-nonce']]).toEqual([400, 'use_dpop_nonce', 'n-123']);
    const refusal = verifyRefusal(foreign);
    expect([refusal.status, refusal.headers['dpop-nonce']]).toEqual([401, 'n-123']);
    expect(refusal.headers['www-authenticate']).toMatch(/^DPoP .*error="use_dpop_nonce"/);
    // A nonce that is not a string is no header.
    expect(httpErrorOf({ ...foreign, name: 'BatonDpopError', nonce: 42 }).headers['dpop-nonce']).toBeUndefined();
  });

  it("the client SDK's BatonClientError is not a server's error: thrown inside a route (an authenticate callback calling another service) it is a 500 that says nothing (red team)", () => {
    const err = new BatonClientError('ERR_INVALID_ARGUMENT', 'client.fetch: http://10.0.0.7:8080/users?key=s3cr3t is not a URL');
    expect(isBatonError(err)).toBe(false);
    const http = httpErrorOf(err);
    expect([http.status, http.error]).toEqual([500, 'server_error']);
    expect(http.description).not.toMatch(/10\.0\.0\.7|s3cr3t/);
    expect(isBatonError(new BatonError('ERR_INVALID_ARGUMENT', 'x'))).toBe(true);
  });

  it("an error that is not Baton's says nothing of its cause", () => {
    const http = httpErrorOf(new Error('connect ECONNREFUSED 10.0.0.7:5432 password=hunter2'));
    expect(http.status).toBe(500);
    expect(http.description).not.toMatch(/hunter2|10\.0\.0\.7/);
    expect(verifyRefusal(new Error('secret detail')).body.error_description).toBe('The access token is invalid');
  });
});
