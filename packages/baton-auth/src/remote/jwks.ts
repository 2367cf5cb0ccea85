/**
 * `remoteIssuer`'s key source: the issuer's JWKS through jose's `createRemoteJWKSet` (cached, an
 * unknown `kid` refetched at most once per cooldown), and the JWT checks of RFC 9068 by jose's
 * `jwtVerify`. A key the revocation source took out of service is refused before jose picks it.
 */
import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTHeaderParameters, JWTPayload } from 'jose';
import { BatonError } from '../core/errors.ts';
import { isCanonicalBase64url } from '../core/jws.ts';

export interface RemoteKeysOptions {
  issuer: string;
  algorithms: string[];
  leewaySec: number;
  allowJwtTyp: boolean;
  cacheMaxAgeMs: number;
  cooldownMs: number;
  /** A fetch of the application's own (its redirects never followed), or jose's. */
  fetch: typeof fetch | undefined;
  now: () => number;
  /** Whether the key `kid` (undefined: a token naming none) was revoked. */
  isKeyRevoked(kid: string | undefined): boolean;
}

/** A verified JWT's payload and the key it named. */
export interface VerifiedJwt {
  payload: JWTPayload & Record<string, unknown>;
  kid: string | undefined;
}

/** jose's failure as a Baton error: expired, invalid, or the issuer's keys unreachable (a 503). */
function joseFailure(err: unknown): BatonError {
  if (err instanceof joseErrors.JWTExpired) return new BatonError('ERR_TOKEN_EXPIRED', 'exp is in the past');
  if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === 'nbf' && err.reason === 'check_failed')
    return new BatonError('ERR_TOKEN_NOT_YET_VALID', 'nbf is in the future'); // as the engine's key ring says it
  // Not jose's word on the token (a refused connection, a timeout): the issuer is unreachable, try later.
  if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError)) {
    return new BatonError('ERR_STORE_UNAVAILABLE', "the issuer's keys could not be fetched", { cause: err });
  }
  return new BatonError('ERR_TOKEN_INVALID', err.code, { cause: err });
}

export class RemoteKeys {
  readonly #o: RemoteKeysOptions;
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(jwksUri: string, o: RemoteKeysOptions) {
    this.#o = o;
    const fetcher = o.fetch;
    this.#jwks = createRemoteJWKSet(new URL(jwksUri), {
      cacheMaxAge: o.cacheMaxAgeMs,
      cooldownDuration: o.cooldownMs,
      ...(fetcher ? { [customFetch]: (url: string, init: RequestInit) => fetcher(url, { ...init, redirect: 'manual' }) } : {}),
    });
  }

  /** Fetches the key set again (a key was revoked: it leaves the set, for tokens that name no kid). */
  reload(): void {
    void this.#jwks.reload().catch(() => undefined);
  }

  /**
   * `token`'s payload, its signature by a key of the set and its claims checked, but for `aud`'s
   * value: the verification pipeline checks it per call, after the key source, for every source alike.
   */
  async verify(token: string): Promise<VerifiedJwt> {
    const o = this.#o;
    const keys = this.#jwks;
    // A key the feed revoked is refused before jose picks it, whatever the token names; without a
    // kid the key cannot be told from a revoked one: refused while any key revocation is in force.
    const resolve = (header: JWTHeaderParameters, t: Parameters<typeof keys>[1]) => {
      if (o.isKeyRevoked(header.kid))
        throw new joseErrors.JWKSNoMatchingKey(
          header.kid === undefined ? 'a token without kid, while a key is revoked' : 'the issuer took the key out of service',
        );
      return keys(header, t);
    };
    // Strict base64url, as the engine's JWS (`core/jws.ts`): jose decodes with `atob` where there
    // is no `Uint8Array.fromBase64` (Node 24), which skips whitespace and `=` and ignores the last
    // character's unused bits — 16 spellings of one signature, each a token of its own to the
    // verified-token cache. One byte string, one encoding.
    const segments = token.split('.');
    if (segments.length !== 3 || !segments.every(isCanonicalBase64url))
      throw new BatonError('ERR_TOKEN_INVALID', 'a compact JWS has three segments of canonical base64url');
    let verified: VerifiedJwt;
    try {
      const { payload, protectedHeader } = await jwtVerify(token, resolve, {
        issuer: o.issuer,
        algorithms: o.algorithms,
        clockTolerance: o.leewaySec,
        currentDate: new Date(o.now()),
        // RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti (iss by the option above, aud's value by the pipeline);
        // a `JWT`-typed token of another kind of issuer (allowJwtTyp) may lack client_id, never the
        // jti that its revocation names. §4: typ at+jwt (or application/at+jwt), unless allowed otherwise.
        requiredClaims: o.allowJwtTyp ? ['aud', 'exp', 'iat', 'sub', 'jti'] : ['aud', 'exp', 'iat', 'sub', 'jti', 'client_id'],
        ...(o.allowJwtTyp ? {} : { typ: 'at+jwt' }),
      });
      verified = { payload: payload as VerifiedJwt['payload'], kid: protectedHeader.kid };
    } catch (err) {
      throw joseFailure(err);
    }
    // Revoked while the key set was being fetched; a token naming no key, while any key revocation
    // is in force (as before the fetch): else it would reach the verified-token cache after the
    // revocation cleared it, and be served from there until its `exp`.
    if (o.isKeyRevoked(verified.kid)) throw new BatonError('ERR_TOKEN_INVALID', 'the issuer took the key out of service');
    return verified;
  }
}
