/**
 * The verification pipeline, one for the engine (`Baton.verify`) and `remoteIssuer`: the token's
 * shape and length, the verified-token cache, the key source (a compact JWS) or the other formats
 * (JWE, opaque tokens, introspection), the audience (RFC 9068 §4), the revocation source, then the
 * presentation (Bearer, or DPoP, RFC 9449 §7) and the replay guard. What differs is fed in:
 *
 * - a key source: the engine's key ring, synchronous on `node:crypto` (`local-sources.ts`), or
 *   another issuer's JWKS, asynchronous through jose (`remote/jwks.ts`);
 * - a revocation source: the store's subscription into the in-process cache, or the issuer's feed
 *   (`remote/revocations.ts`);
 * - the other formats, the readiness (the revocations loaded), the clock, the replay guard.
 *
 * A token decided without anything asynchronous (a cache hit, or the synchronous key source) costs
 * no promise and no allocation beyond the one promise `verify` returns.
 */
import { SpanKind } from '@opentelemetry/api';
import type { SpanOptions } from '@opentelemetry/api';
import type { AccessTokenClaims } from './claims.ts';
import type { DpopVerifier } from '../dpop/proof.ts';
import { BatonError, isBatonError } from './errors.ts';
import type { BatonErrorCode } from './errors.ts';
import { namesAudience } from '../protocol/audience.ts';
import type { VerifiedTokenCache } from '../protocol/token-cache.ts';
import { bearerOnly, checkPresentation, isThreeSegments } from './presentation.ts';
import type { Claims, VerifyOptions } from './presentation.ts';
import { failed, traced, tracer } from './tracing.ts';

/** The span of a verification that missed the verified-token cache (never of a hit: the hot path starts none). */
const VERIFY = 'baton.verify';
const spanOf = (format: string): SpanOptions => Object.freeze({ kind: SpanKind.INTERNAL, attributes: Object.freeze({ 'baton.token.format': format }) });
const [JWS, JWE, OPAQUE] = [spanOf('jws'), spanOf('jwe'), spanOf('opaque')] as const;
/** The span options of a token's format, by its dots alone, counted without allocating (a JWS has two, a JWE four). */
function formatOf(token: string): SpanOptions {
  let dots = 0;
  for (let i = token.indexOf('.'); i !== -1 && dots < 5; i = token.indexOf('.', i + 1)) dots++;
  return dots === 2 ? JWS : dots === 4 ? JWE : OPAQUE;
}

/** What `Baton.stats()` counts since the engine started: verifications by outcome, and the verified-token cache. */
export interface VerifyStats {
  /** Tokens that verified. */
  ok: number;
  /** Of those, how many the verified-token cache answered. */
  cacheHits: number;
  /** Refusals by error code. */
  byError: Partial<Record<BatonErrorCode, number>>;
}

/** Introspection's view: any audience this issuer gave (the resource server checks `aud` itself). */
export const ANY_AUDIENCE: unique symbol = Symbol('any audience');
export type Audience = string | typeof ANY_AUDIENCE;

/** Where a compact JWS's signature is checked, and its claims but `aud` (checked by the pipeline, per call). */
export interface KeySource {
  /** Synchronously (the engine's key ring on `node:crypto`). */
  verifySync?(token: string, now: number): AccessTokenClaims;
  /** Asynchronously (a remote JWKS), when there is no `verifySync`. */
  verify?(token: string, now: number): Promise<AccessTokenClaims>;
  /** On a cache hit: what the source checks against the clock besides `exp` (the cache's), for a clock that went back. */
  recheck?(claims: Claims, now: number): void;
}

/** Revocations in force, consulted without a round trip: throws when `claims`' session or token is revoked, or when the source cannot tell. */
export interface RevocationSource {
  check(claims: Claims, now: number): unknown;
}

/** Tokens that are not a compact JWS: the engine's JWE and opaque tokens, another issuer's by introspection. */
export interface OtherFormats {
  /** The claims of `token`, checked but for `aud` and revocations; `cache` is the pipeline's, for formats worth caching. */
  verify(token: string, audience: Audience, now: number, cache: TokenMemory): Promise<Claims>;
}

/** The pipeline's verified-token cache, as a format sees it. */
export interface TokenMemory {
  cached(token: string, now: number): Claims | undefined;
  remember(token: string, claims: AccessTokenClaims): Claims;
}

/** Whether the sources can answer synchronously (the revocations in force loaded), and how to wait until they can. */
export interface Readiness {
  readonly isReady: boolean;
  ready(): Promise<unknown>;
}

export interface PipelineParts {
  keys: KeySource;
  revocations: RevocationSource;
  formats: OtherFormats;
  readiness: Readiness;
  /** The clock tokens are checked on, ms since the epoch. */
  now: () => number;
  /** The audience when a call names none. */
  audience: string;
  leewaySec: number;
  /** Longer tokens are refused before any parsing. */
  maxTokenLength: number;
  /** The verified-token cache, unless turned off. */
  cache: VerifiedTokenCache<Claims> | undefined;
  stats: VerifyStats;
  dpop: DpopVerifier;
  /** The replay guard (`oneTime`): whether this is the token's first use. Absent, `oneTime` is refused (`replayRefusal`). */
  consume?: (claims: Claims) => Promise<boolean>;
  /** Why `oneTime` is refused without a replay guard. */
  replayRefusal?: string;
}

export class VerificationPipeline implements TokenMemory {
  readonly #p: PipelineParts;
  readonly verifiesDpop = true;

  constructor(parts: PipelineParts) {
    this.#p = parts;
  }

  /** A token as a request presents it (the `Bearer` scheme, or `dpop`; `oneTime`): see `Baton.verify`. */
  verify(token: string, options?: VerifyOptions): Promise<Claims> {
    if (options?.dpop !== undefined || options?.oneTime === true) return this.#guarded(token, options);
    const audience = options?.audience ?? this.#p.audience;
    try {
      const claims = this.#sync(token, audience);
      if (claims !== undefined) return Promise.resolve(bearerOnly(claims));
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.#slow(token, audience).then(bearerOnly);
  }

  /** See `Baton.verifySync`: the claims of a Bearer token decided without a promise, else undefined. */
  verifySync(token: string, options?: VerifyOptions): Claims | undefined {
    if (options?.dpop !== undefined || options?.oneTime === true) return undefined;
    const claims = this.#sync(token, options?.audience ?? this.#p.audience);
    return claims === undefined ? undefined : bearerOnly(claims);
  }

  /** The token itself, any format, for `audience`: no scheme, no proof, no replay guard (introspection, revocation). */
  decide(token: string, audience: Audience): Promise<Claims> {
    try {
      const claims = this.#sync(token, audience);
      if (claims !== undefined) return Promise.resolve(claims);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.#slow(token, audience);
  }

  /** A compact JWS synchronously, ready or not (the synchronous key source only): see `Baton.verifyLocal`. */
  decideLocal(token: string, audience: Audience): Claims {
    return this.#inProcess(token, audience, this.#p.now(), true) as Claims; // local: a hit, the key source's claims, or a throw
  }

  /** A DPoP presentation or the replay guard: the token, then its scheme and proof, then its single use. */
  async #guarded(token: string, options: VerifyOptions): Promise<Claims> {
    const p = this.#p;
    const consume = options.oneTime === true ? (p.consume ?? this.#noReplayGuard()) : undefined;
    const claims = await this.decide(token, options.audience ?? p.audience);
    const presented = options.dpop === undefined ? bearerOnly(claims) : await checkPresentation(p.dpop, token, claims, options.dpop);
    // The replay guard spends the token only once it was presented as it must be: a copy sent
    // without its key, or with a bad proof, burns nothing of its owner's.
    if (consume !== undefined && !(await consume(presented))) this.#refused(new BatonError('ERR_TOKEN_REPLAYED', 'the jti was already consumed'));
    return presented;
  }

  /** `oneTime` asked of a pipeline without a replay guard (another issuer's tokens: their store is not ours). */
  #noReplayGuard(): never {
    throw new BatonError('ERR_INVALID_ARGUMENT', this.#p.replayRefusal ?? 'oneTime needs a replay guard');
  }

  /** Decided without a promise when the sources are ready and the token is in the cache, or a compact JWS for the synchronous key source; else undefined. */
  #sync(token: string, audience: Audience): Claims | undefined {
    return this.#p.readiness.isReady ? this.#inProcess(token, audience, this.#p.now(), false) : undefined;
  }

  /**
   * From the cache, else by the synchronous key source; counted. The cache is asked first: a token
   * it holds was verified as a JWS or a JWE, so a hit needs no look at its segments. On a miss,
   * `local` (`verifyLocal`) asks the key source whatever the token, which refuses what it cannot
   * check; otherwise only a compact JWS is asked, and undefined leaves the rest to `#slow`.
   */
  #inProcess(token: string, audience: Audience, now: number, local: boolean): Claims | undefined {
    const p = this.#p;
    let claims: Claims | undefined;
    try {
      const hit = this.#hit(this.#shaped(token), now);
      if (hit !== undefined) claims = this.#accept(hit, audience, now);
      else if (local || (p.keys.verifySync !== undefined && isThreeSegments(token))) claims = this.#missSync(token, audience, now);
    } catch (err) {
      this.#refused(err);
    }
    if (claims !== undefined) p.stats.ok++;
    return claims;
  }

  /** Anything asynchronous: the sources made ready, a key source elsewhere, another format. */
  async #slow(token: string, audience: Audience): Promise<Claims> {
    const p = this.#p;
    let claims: Claims;
    try {
      // Its type and length before the sources are made ready: junk waits for no discovery and
      // is refused for itself, not with the issuer's outage (a 503).
      const shaped = this.#shaped(token);
      await p.readiness.ready();
      const now = p.now();
      // A JWE is cached as a JWS is; an opaque token never is (its store's record is its state): no lookup for it.
      const format = formatOf(shaped);
      const hit = format === JWS ? this.#hit(shaped, now) : format === JWE ? this.cached(shaped, now) : undefined;
      claims = hit === undefined ? await traced(VERIFY, format, this.#missed, shaped, audience, now) : this.#accept(hit, audience, now);
    } catch (err) {
      this.#refused(isBatonError(err) ? err : new BatonError('ERR_TOKEN_INVALID', 'verification failed', { cause: err }));
    }
    p.stats.ok++;
    return claims;
  }

  /** A token the cache did not hold, from its source, then accepted, as `traced` calls it (one function for the pipeline, not one per call): its span is active (an opaque token's store call is its child). */
  readonly #missed = async (_span: unknown, token: string, audience: Audience, now: number): Promise<Claims> => {
    const { keys, formats } = this.#p;
    if (!isThreeSegments(token)) return this.#accept(await formats.verify(token, audience, now, this), audience, now);
    const claims = this.remember(token, keys.verifySync === undefined ? await this.#fromKeys(token, now) : keys.verifySync(token, now));
    return this.#accept(claims, audience, now);
  };

  /** A compact JWS the cache did not hold, by the synchronous key source, in a span of its own (a leaf: nothing in it waits). */
  #missSync(token: string, audience: Audience, now: number): Claims {
    const span = tracer.startSpan(VERIFY, JWS);
    try {
      return this.#accept(this.remember(token, this.#fromKeysSync(token, now)), audience, now);
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  /** The synchronous key source (the engine's `verifyLocal`). */
  #fromKeysSync(token: string, now: number): AccessTokenClaims {
    const { keys } = this.#p;
    if (keys.verifySync === undefined) throw new BatonError('ERR_INVALID_ARGUMENT', 'this verifier checks no signature synchronously: use verify');
    return keys.verifySync(token, now);
  }

  /** The asynchronous key source (a remote JWKS). */
  async #fromKeys(token: string, now: number): Promise<AccessTokenClaims> {
    const { keys } = this.#p;
    if (keys.verify === undefined) throw new BatonError('ERR_INVALID_ARGUMENT', 'the key source verifies nothing');
    return keys.verify(token, now);
  }

  /** The checks every token gets whatever its source: the audience (RFC 9068 §4), then the revocations. */
  #accept(claims: Claims, audience: Audience, now: number): Claims {
    if (audience !== ANY_AUDIENCE && !namesAudience(claims.aud, audience)) throw new BatonError('ERR_TOKEN_INVALID', 'aud does not name this audience');
    this.#p.revocations.check(claims, now);
    return claims;
  }

  /** Refused by type and length before any parsing or crypto: a megabyte of token costs nothing. */
  #shaped(token: unknown): string {
    if (typeof token !== 'string') throw new BatonError('ERR_TOKEN_INVALID', 'the token is not a string');
    if (token.length > this.#p.maxTokenLength) throw new BatonError('ERR_TOKEN_INVALID', 'the token is too long');
    return token;
  }

  #hit(token: string, now: number): Claims | undefined {
    const claims = this.cached(token, now);
    if (claims !== undefined) this.#p.stats.cacheHits++;
    return claims;
  }

  /** The verified-token cache (`protocol/token-cache.ts`): a hit past its end is `ERR_TOKEN_EXPIRED`, one the source would refuse now (`recheck`) refused. */
  cached(token: string, now: number): Claims | undefined {
    const claims = this.#p.cache?.get(token, now);
    if (claims !== undefined) this.#p.keys.recheck?.(claims, now);
    return claims;
  }

  /** Frozen, and held until its `exp` and the leeway. */
  remember(token: string, claims: AccessTokenClaims): Claims {
    const frozen = Object.freeze(claims);
    this.#p.cache?.set(token, frozen, (claims.exp + this.#p.leewaySec) * 1000);
    return frozen;
  }

  /** Counts a refusal by its code, and throws it on. */
  #refused(err: unknown): never {
    const code = isBatonError(err) ? err.code : 'ERR_TOKEN_INVALID';
    this.#p.stats.byError[code] = (this.#p.stats.byError[code] ?? 0) + 1;
    throw err;
  }
}
