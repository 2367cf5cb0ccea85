/**
 * A token's presentation (RFC 9449 §7): a bound token only with a proof by its key, an unbound one
 * only as Bearer; and the options a verification is asked with. The last step of the verification
 * pipeline (`pipeline.ts`), for the engine and `remoteIssuer` alike.
 */
import type { AccessTokenClaims } from './claims.ts';
import type { DpopVerifier } from '../dpop/proof.ts';
import { BatonError } from './errors.ts';

export type Claims = Readonly<AccessTokenClaims>;

/** Options of `verify`. */
export interface VerifyOptions {
  /** Replay guard: accept this token once; a second use fails with `ERR_TOKEN_REPLAYED`. */
  oneTime?: boolean;
  /**
   * The audience the caller serves: `aud` must name it (RFC 9068 §4), so that a token for another
   * API is refused here. Default the Baton's `audience` (the token service's own endpoints).
   */
  audience?: string;
  /**
   * The token came with the `DPoP` scheme (RFC 9449 §7): the request's `DPoP` header, method and
   * URL. The token must be bound to a key (`cnf.jkt`) and the proof be by that key, for this
   * request and this token (`ath`), and unused. Absent (the `Bearer` scheme), a bound token is
   * refused (§7.1): a copied token without its key is worth nothing.
   */
  dpop?: DpopPresentation;
}

/** What a request presenting a token with the `DPoP` scheme carries besides it. */
export interface DpopPresentation {
  /** The `DPoP` header. */
  proof: string | null | undefined;
  /** The HTTP method (`GET` for a WebSocket's upgrade and its re-authentications). */
  method: string;
  /** The request's URL as the client addressed it (query and fragment ignored), or the URLs it is known by. */
  url: string | readonly string[];
}

/** A compact JWS has two dots (a JWE four); checked without allocating. */
export function isThreeSegments(token: unknown): token is string {
  if (typeof token !== 'string') return false;
  const second = token.indexOf('.', token.indexOf('.') + 1);
  return second > 0 && token.indexOf('.', second + 1) === -1;
}

/**
 * A presented token's sender constraint (RFC 9449 §7): a bound token only with a proof by its key,
 * an unbound one only as Bearer. The proof's key is compared with the token's before its
 * signature is checked (§4.3: every cheap check first), so that a stolen token with a proof by
 * another key, sent again and again, costs no signature check. The proof's `jti` is spent in the
 * store, once everywhere — only once the proof is by the token's key, so a refused presentation writes nothing.
 */
export async function checkPresentation(verifier: DpopVerifier, token: string, claims: Claims, dpop: DpopPresentation): Promise<Claims> {
  if (claims.cnf === undefined) throw new BatonError('ERR_TOKEN_SCHEME', 'the token is not bound to a DPoP key: send it with the Bearer scheme');
  const pending = verifier.inspect(dpop.proof, { method: dpop.method, url: dpop.url, accessToken: token });
  if (pending.jkt !== claims.cnf.jkt) throw new BatonError('ERR_DPOP_INVALID', 'the DPoP proof is not by the key the token is bound to');
  await verifier.spend(pending.signed());
  return claims;
}

/** A bound token sent as Bearer: refused (RFC 9449 §7.1), what else it is. */
export function bearerOnly(claims: Claims): Claims {
  if (claims.cnf !== undefined)
    throw new BatonError('ERR_TOKEN_SCHEME', 'the token is bound to a DPoP key: send it with the DPoP scheme and a proof by that key (RFC 9449 §7.1)');
  return claims;
}
