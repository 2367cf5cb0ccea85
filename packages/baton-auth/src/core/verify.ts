/**
 * Verifying access tokens: JWTs in-process (the verified-token cache, then the `node:crypto`
 * fast path), JWEs with jose, opaque tokens in the store; revocations from the in-process view;
 * the replay guard through the store's one-time ledger.
 */
import { checkClaims, decryptJwe, hashToken, isOpaqueToken } from './access-token.ts';
import type { AccessTokenClaims } from './access-token.ts';
import { BatonError, isBatonError } from './errors.ts';
import type { DpopVerifier } from '../dpop/proof.ts';
import type { Engine } from './engine.ts';
import { namesAudience } from '../protocol/audience.ts';
import { revocationEnd } from './session-end.ts';

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

/** Introspection's view: any audience this issuer gave (the resource server checks `aud` itself). */
export const ANY_AUDIENCE: unique symbol = Symbol('any audience');

function checkAudience<T extends Readonly<AccessTokenClaims>>(claims: T, audience: string | typeof ANY_AUDIENCE): T {
  if (audience !== ANY_AUDIENCE && !namesAudience(claims.aud, audience)) throw new BatonError('ERR_TOKEN_INVALID', 'aud does not name this audience');
  return claims;
}

/** A compact JWS has two dots (a JWE four); checked without allocating. */
export function isThreeSegments(token: unknown): token is string {
  if (typeof token !== 'string') return false;
  const second = token.indexOf('.', token.indexOf('.') + 1);
  return second > 0 && token.indexOf('.', second + 1) === -1;
}

/** Counts a refusal by its code, and throws it on. */
function refused(e: Engine, err: unknown): never {
  const code = isBatonError(err) ? err.code : 'ERR_TOKEN_INVALID';
  e.stats.byError[code] = (e.stats.byError[code] ?? 0) + 1;
  throw err;
}

/**
 * A presented token's sender constraint (RFC 9449 §7): a bound token only with a proof by its key,
 * an unbound one only as Bearer. The proof's key is compared with the token's before its
 * signature is checked (§4.3: every cheap check first), so that a stolen token with a proof by
 * another key, sent again and again, costs no signature check. The proof's `jti` is spent in the
 * store, once everywhere — only once the proof is by the token's key, so a refused presentation writes nothing.
 */
export async function checkPresentation(
  verifier: DpopVerifier,
  token: string,
  claims: Readonly<AccessTokenClaims>,
  dpop: DpopPresentation,
): Promise<Readonly<AccessTokenClaims>> {
  if (claims.cnf === undefined) throw new BatonError('ERR_TOKEN_SCHEME', 'the token is not bound to a DPoP key: send it with the Bearer scheme');
  const pending = verifier.inspect(dpop.proof, { method: dpop.method, url: dpop.url, accessToken: token });
  if (pending.jkt !== claims.cnf.jkt) throw new BatonError('ERR_DPOP_INVALID', 'the DPoP proof is not by the key the token is bound to');
  await verifier.spend(pending.signed());
  return claims;
}

/** A bound token sent as Bearer: refused (RFC 9449 §7.1), what else it is. */
export function bearerOnly(claims: Readonly<AccessTokenClaims>): Readonly<AccessTokenClaims> {
  if (claims.cnf !== undefined)
    throw new BatonError('ERR_TOKEN_SCHEME', 'the token is bound to a DPoP key: send it with the DPoP scheme and a proof by that key (RFC 9449 §7.1)');
  return claims;
}

/** A token as a request presents it (the `Bearer` scheme, or `dpop`): see `Baton.verify`. */
export function verifyPresented(e: Engine, token: string, options?: VerifyOptions): Promise<Readonly<AccessTokenClaims>> {
  if (options?.dpop !== undefined || options?.oneTime === true) return verifyGuarded(e, token, options);
  return verify(e, token, options, options?.audience ?? e.o.audience, bearerOnly); // a Bearer token
}

/** A DPoP presentation or the replay guard: the token, then its scheme and proof, then its single use. */
async function verifyGuarded(e: Engine, token: string, options: VerifyOptions): Promise<Readonly<AccessTokenClaims>> {
  const claims = await verify(e, token, options);
  const presented = options.dpop === undefined ? bearerOnly(claims) : await checkPresentation(e.dpop, token, claims, options.dpop);
  // The replay guard spends the token only once it was presented as it must be: a copy sent
  // without its key, or with a bad proof, burns nothing of its owner's.
  if (options.oneTime === true && !(await e.store.consumeJti(presented.jti, (presented.exp + e.o.leewaySec) * 1000, e.now()))) {
    refused(e, new BatonError('ERR_TOKEN_REPLAYED', 'the jti was already consumed'));
  }
  return presented;
}

/**
 * The token itself, any format, for `audience`, then `accept` (`verifyPresented` adds the scheme,
 * the proof and the replay guard): no promise beyond the one returned when nothing asynchronous
 * is needed.
 */
export function verify(
  e: Engine,
  token: string,
  options?: VerifyOptions,
  audience: string | typeof ANY_AUDIENCE = options?.audience ?? e.o.audience,
  accept?: (claims: Readonly<AccessTokenClaims>) => Readonly<AccessTokenClaims>,
): Promise<Readonly<AccessTokenClaims>> {
  if (canVerifySync(e, token)) {
    try {
      const claims = verifyLocal(e, token, audience);
      return Promise.resolve(accept === undefined ? claims : accept(claims));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }
  return accept === undefined ? verifySlow(e, token, audience) : verifySlow(e, token, audience).then(accept);
}

/** Whether verifying `token` needs nothing asynchronous: a JWT, the revocations loaded. */
function canVerifySync(e: Engine, token: string): boolean {
  return e.isReady && isThreeSegments(token);
}

/** See `Baton.verifySync`: a proof to check is asynchronous. */
export function verifySync(e: Engine, token: string, options?: VerifyOptions): Readonly<AccessTokenClaims> | undefined {
  return options?.dpop === undefined && options?.oneTime !== true && canVerifySync(e, token)
    ? bearerOnly(verifyLocal(e, token, options?.audience ?? e.o.audience))
    : undefined;
}

async function verifySlow(e: Engine, token: string, audience: string | typeof ANY_AUDIENCE): Promise<Readonly<AccessTokenClaims>> {
  let claims: Readonly<AccessTokenClaims>;
  try {
    await e.ready();
    const now = e.now();
    if (typeof token === 'string' && isOpaqueToken(token)) {
      claims = await verifyOpaque(e, token, now);
    } else if (typeof token === 'string' && token.length <= e.o.maxTokenLength && token.split('.').length === 5) {
      claims = checkRevoked(e, lookup(e, token, now) ?? remember(e, token, await decryptJwe(token, e.o.ring, e.policy, now)), now);
    } else {
      claims = verifyJwt(e, token, now);
    }
    checkAudience(claims, audience);
  } catch (err) {
    refused(e, isBatonError(err) ? err : new BatonError('ERR_TOKEN_INVALID', 'verification failed', { cause: err }));
  }
  e.stats.ok++;
  return claims;
}

/** A JWT, synchronously: see `Baton.verifyLocal`. */
export function verifyLocal(e: Engine, token: string, audience: string | typeof ANY_AUDIENCE = e.o.audience): Readonly<AccessTokenClaims> {
  let claims: Readonly<AccessTokenClaims>;
  try {
    claims = checkAudience(verifyJwt(e, token, e.now()), audience);
  } catch (err) {
    return refused(e, err);
  }
  e.stats.ok++;
  return claims;
}

/** A compact JWT: the verified-token cache, else the `node:crypto` fast path; then revocations. */
function verifyJwt(e: Engine, token: string, now: number): Readonly<AccessTokenClaims> {
  if (typeof token !== 'string') throw new BatonError('ERR_TOKEN_INVALID', 'the token is not a string');
  // Refused by length before any parsing or crypto: a megabyte of token costs nothing.
  if (token.length > e.o.maxTokenLength) throw new BatonError('ERR_TOKEN_INVALID', 'the token is too long');
  let claims = e.cache === undefined ? undefined : lookup(e, token, now);
  if (claims !== undefined) e.stats.cacheHits++;
  else claims = e.cache === undefined ? e.jwt.verify(token, e.policy, now) : remember(e, token, e.jwt.verify(token, e.policy, now));
  return checkRevoked(e, claims, now);
}

/** The verified-token cache (`protocol/token-cache.ts`): a hit past its end is `ERR_TOKEN_EXPIRED`. */
function lookup(e: Engine, token: string, now: number): Readonly<AccessTokenClaims> | undefined {
  const claims = e.cache?.get(token, now);
  if (claims === undefined) return undefined;
  // A clock that went back (a step the steady clock took, or an injected clock) answers as a
  // verification without the cache would: what was valid then may not be valid yet now.
  const nowSec = Math.floor(now / 1000) + e.o.leewaySec;
  if (claims.nbf !== undefined && claims.nbf > nowSec) throw new BatonError('ERR_TOKEN_NOT_YET_VALID', 'nbf is in the future');
  if (claims.iat > nowSec) throw new BatonError('ERR_TOKEN_NOT_YET_VALID', 'iat is in the future');
  return claims;
}

function remember(e: Engine, token: string, claims: AccessTokenClaims): Readonly<AccessTokenClaims> {
  const frozen = Object.freeze(claims);
  e.cache?.set(token, frozen, (claims.exp + e.o.leewaySec) * 1000);
  return frozen;
}

function checkRevoked<T extends Readonly<AccessTokenClaims>>(e: Engine, claims: T, now: number): T {
  const ended = claims.sid === undefined ? undefined : e.revoked.sessionRevocation(claims.sid, now);
  // The signature (or the store's record) proved the caller holds a token of the session: it may know why it ended.
  if (ended !== undefined) throw new BatonError('ERR_SESSION_REVOKED', 'the session is revoked', { sessionEnd: revocationEnd(ended) });
  if (e.revoked.isTokenRevoked(claims.jti, now)) throw new BatonError('ERR_TOKEN_REVOKED', 'the jti is on the denylist');
  return claims;
}

async function verifyOpaque(e: Engine, token: string, now: number): Promise<Readonly<AccessTokenClaims>> {
  // Opaque tokens fail closed: no store, no answer.
  const record = (await e.store.findOpaqueToken?.(hashToken(token), now)) ?? null;
  if (record === null) throw new BatonError('ERR_TOKEN_INVALID', 'no such opaque token');
  return checkRevoked(e, checkClaims(record.claims, e.policy, now), now);
}
