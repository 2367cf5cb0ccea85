/**
 * A resource server for any issuer: `requireAuth(remoteIssuer({ issuer, audience }), { audience })`
 * in front of an API whose tokens come from Keycloak, Auth0, Hydra, oidc-provider or another Baton
 * service. Import from `baton-auth/remote`.
 *
 * - Discovery: RFC 8414 metadata (§3.1 path insertion), then OpenID Connect Discovery; the
 *   metadata's `issuer` must be the configured one (§3.3), `jwks_uri` https (or loopback).
 * - JWT access tokens by RFC 9068: `typ` `at+jwt` (`application/at+jwt`; `allowJwtTyp` for
 *   issuers whose tokens say `JWT`), asymmetric algorithms only, `iss`, `aud`, `exp`, `iat`,
 *   `sub`, `client_id`. Keys from the issuer's JWKS through jose's `createRemoteJWKSet`: cached,
 *   an unknown `kid` refetches at most once per cooldown.
 * - A verified-token cache, as the engine's: a token seen before is decided without a promise.
 * - Opaque tokens by introspection (RFC 7662) with the resource server's client credentials, each
 *   answer cached briefly (never past the token's `exp`).
 * - A Baton issuer's revocation feed, followed with the same credentials: revoked sessions and
 *   tokens are refused within milliseconds, also from the cache.
 *
 * @example
 * ```ts
 * import { remoteIssuer } from 'baton-auth/remote';
 * const verifier = remoteIssuer({ issuer: 'https://auth.example.com', audience: 'https://api.example.com' });
 * app.get('/orders', requireAuth(verifier, { audience: 'https://api.example.com', scope: 'orders:read' }), handler);
 * ```
 */
import { randomBytes } from 'node:crypto';
import type { AccessTokenClaims } from '../core/claims.ts';
import { monotonic, steadyClock } from '../core/clock.ts';
import { BatonConfigError, BatonError } from '../core/errors.ts';
import { DpopVerifier } from '../dpop/proof.ts';
import type { OneTimeLedger } from '../core/store.ts';
import { bearerOnly, checkPresentation, isThreeSegments } from '../core/verify.ts';
import type { VerifyOptions } from '../core/verify.ts';
import type { TokenVerifier } from '../http/guard.ts';
import { namesAudience } from '../protocol/audience.ts';
import { DiscoveryError, fetchMetadata } from '../protocol/discovery.ts';
import { isSecureUrl } from '../protocol/origin.ts';
import { VerifiedTokenCache } from '../protocol/token-cache.ts';
import type { FeedEvent } from './feed.ts';
import { basic, claimsOf, Introspection } from './introspection.ts';
import { RemoteKeys } from './jwks.ts';
import { memoryLedger } from './proof-ledger.ts';
import { FeedRevocations } from './revocations.ts';

/** Options of `remoteIssuer`. */
export interface RemoteIssuerOptions {
  /** The authorization server, exactly as its tokens' `iss` and its metadata's `issuer` say it. */
  issuer: string;
  /** The audience this API accepts when a call names none (its RFC 8707 resource URI). */
  audience: string;
  /** Accept `typ: JWT` (issuers that do not follow RFC 9068 §2.1, e.g. older Keycloak). Default false. */
  allowJwtTyp?: boolean;
  /** Accepted algorithms. Default every asymmetric one jose verifies: RS256, PS256, ES256, EdDSA and their larger siblings. */
  algorithms?: string[];
  /** Clock skew tolerated, seconds. Default 5. */
  leewaySec?: number;
  /** Introspection (RFC 7662) for opaque tokens: this API's credentials as a confidential client. */
  introspection?: { clientId: string; clientSecret: string; cacheMs?: number };
  /** Verified JWTs kept, by count. Default 10,000. */
  cacheMax?: number;
  /** How long the JWKS is trusted before it is fetched again, and the least time between two fetches for an unknown `kid`. Defaults 10 min, 30 s. */
  jwks?: { cacheMaxAgeMs?: number; cooldownMs?: number };
  /**
   * Follow the issuer's revocation feed when it offers one (a Baton service) and `introspection`
   * credentials are given: a revoked session's or token's JWT is refused within milliseconds
   * instead of when it expires. Default true.
   */
  revocations?: boolean;
  /**
   * Revocations in force kept from the feed, at most, per kind (sessions, tokens, keys). None in
   * force is ever dropped to make room: past it this verifier fails closed — every token is refused
   * with a 503 — until enough have expired, then it reads the feed's backlog again. Default 100,000
   * (about 20 MB); one session at the issuer causes at most 9.
   */
  maxRevocations?: number;
  /**
   * Told when the revocations in force of one kind reach 80% of `maxRevocations` (each time they
   * cross it going up): alert on it — past the cap every token is refused until enough expire.
   */
  onNearCap?: (state: { kind: FeedEvent['kind']; held: number; max: number }) => void;
  /** Told of each revocation the feed brings (observability). */
  onRevocation?: (event: FeedEvent) => void;
  /** Told when the feed connects (its backlog in) and when it drops or is refused, with why: log it, or alert on it. */
  onFeedState?: (connected: boolean, error?: Error) => void;
  /**
   * Fail closed: once the feed has been down this long (ms), tokens are refused with a 503 until it
   * is back, rather than accepted without their revocations. Default: never (tokens keep being
   * accepted, as by a resource server without the feed; `onFeedState` says so).
   */
  maxFeedOutageMs?: number;
  /**
   * DPoP-bound tokens (RFC 9449 §7): where each proof's `jti` is spent once — by default this
   * process's memory, a million proofs at most and never one still in force forgotten (past it, 503s until some
   * expire; a replay to another instance of this API within the proof's life passes);
   * give a store shared by the API's instances (`redisStore`, `postgresStore`) to refuse it
   * everywhere — and how long a proof is accepted after its `iat`, in seconds (default 300).
   */
  dpop?: { ledger?: Pick<OneTimeLedger, 'consumeJti'>; proofLifetimeSec?: number };
  fetch?: typeof fetch;
  /** The clock tokens are checked on, in ms since the epoch. Default the steady clock (`steadyClock`), as the engine's. */
  now?: () => number;
  /** A clock that never steps, in ms, for how long revocations are kept. Default `performance.now`. For tests. */
  monotonic?: () => number;
}

/** The issuer's endpoints, from its metadata. */
interface Metadata {
  jwksUri: string;
  introspection: string | undefined;
  /** A Baton service's revocation feed (`baton_revocation_feed_endpoint`). */
  feed: string | undefined;
}

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
/** Revocations kept from the feed at most by default, per kind (`maxRevocations`). */
const MAX_REVOCATIONS = 100_000;

function secure(url: string, what: string): string {
  const u = new URL(url);
  if (!isSecureUrl(u)) throw new BatonConfigError(`The issuer's ${what} ${u.origin} is not https (plain http is allowed on loopback only).`);
  return u.href;
}

/** A failed discovery as a resource server reports it: the issuer unreachable or failing is a 503; its metadata naming another issuer, or none, the API's configuration. */
function discoveryFailure(err: unknown): Error {
  if (!(err instanceof DiscoveryError)) return err as Error;
  switch (err.reason) {
    case 'unreachable':
      return new BatonError('ERR_STORE_UNAVAILABLE', err.message, { cause: err.cause });
    case 'wrong_issuer':
    case 'not_found':
      return new BatonConfigError(`${err.message}.`);
    case 'not_json':
      return new BatonError('ERR_STORE_UNAVAILABLE', err.message, { cause: err });
    default:
      return new BatonError('ERR_STORE_UNAVAILABLE', `the issuer's metadata answered ${err.status}`);
  }
}

/** Discovery (the protocol toolkit's, with its issuer check, RFC 8414 §3.3), then the endpoints this verifier uses, each https or loopback. */
async function discover(issuer: string, fetcher: typeof fetch): Promise<Metadata> {
  let meta: Readonly<Record<string, unknown>>;
  try {
    ({ metadata: meta } = await fetchMetadata(issuer, fetcher));
  } catch (err) {
    throw discoveryFailure(err);
  }
  if (typeof meta.jwks_uri !== 'string') throw new BatonConfigError(`The metadata of ${issuer} has no jwks_uri.`);
  const optional = (v: unknown, what: string) => (typeof v === 'string' ? secure(v, what) : undefined);
  return {
    jwksUri: secure(meta.jwks_uri, 'jwks_uri'),
    introspection: optional(meta.introspection_endpoint, 'introspection endpoint'),
    feed: optional(meta.baton_revocation_feed_endpoint, 'revocation feed'),
  };
}

/** The options checked, with their defaults. */
function settings(options: RemoteIssuerOptions) {
  if (!options.issuer || !options.audience) throw new BatonConfigError('remoteIssuer needs the `issuer` it trusts and the `audience` this API serves.');
  secure(options.issuer, 'URL');
  const algorithms = options.algorithms ?? ASYMMETRIC;
  if (algorithms.some((a) => /^(HS|none)/i.test(a)))
    throw new BatonConfigError('remoteIssuer verifies asymmetric signatures only: a shared secret (HS*) would let every resource server mint tokens.');
  const maxRevocations = options.maxRevocations ?? MAX_REVOCATIONS;
  if (!Number.isSafeInteger(maxRevocations) || maxRevocations < 1) {
    throw new BatonConfigError(
      `remoteIssuer's maxRevocations must be a whole number of at least 1 (revocations kept per kind), not ${String(maxRevocations)}.`,
    );
  }
  return {
    fetcher: options.fetch ?? ((...args: Parameters<typeof fetch>) => fetch(...args)),
    now: options.now ?? steadyClock(),
    mono: options.monotonic ?? monotonic,
    leeway: options.leewaySec ?? 5,
    algorithms,
    maxRevocations,
  };
}

/**
 * A verifier of another issuer's access tokens, for `requireAuth` in any adapter: the verification
 * pipeline of the engine — the verified-token cache, then the token's source, then the audience
 * and the revocations, then the presentation (Bearer, or DPoP) — fed by a key source (the issuer's
 * JWKS, `jwks.ts`; introspection for opaque tokens) and a revocation source (its feed, `revocations.ts`).
 */
export function remoteIssuer(options: RemoteIssuerOptions): TokenVerifier & { close(): void } {
  const { fetcher, now, mono, leeway, algorithms, maxRevocations } = settings(options);
  const verified = new VerifiedTokenCache<Readonly<AccessTokenClaims>>(options.cacheMax ?? 10_000);
  let keys: RemoteKeys | undefined;
  const revocations = new FeedRevocations({
    maxRevocations,
    maxFeedOutageMs: options.maxFeedOutageMs,
    onNearCap: options.onNearCap,
    onRevocation: options.onRevocation,
    onFeedState: options.onFeedState,
    now,
    monotonic: mono,
    onKeyRevoked: () => {
      verified.clear(); // tokens of that key leave the cache
      keys?.reload(); // and the key leaves the set, for tokens that name no kid
    },
  });
  const credentials = options.introspection;
  const introspection =
    credentials &&
    new Introspection({
      issuer: options.issuer,
      clientId: credentials.clientId,
      clientSecret: credentials.clientSecret,
      cacheMs: credentials.cacheMs ?? 30_000,
      cacheMax: options.cacheMax ?? 10_000,
      fetch: fetcher,
      now,
    });
  let metadata: Promise<Metadata> | undefined;
  const meta = (): Promise<Metadata> => {
    metadata ??= discover(options.issuer, fetcher).then(
      async (m) => {
        if (m.feed !== undefined && credentials !== undefined && options.revocations !== false)
          await revocations.follow(m.feed, fetcher, basic(credentials.clientId, credentials.clientSecret));
        return m;
      },
      (err: unknown) => {
        metadata = undefined; // try again on the next request
        throw err;
      },
    );
    return metadata;
  };
  /** The pipeline's last steps, for claims from any source: the audience (RFC 9068 §4), then the revocations. */
  const accept = (claims: Readonly<AccessTokenClaims>, audience: string): Readonly<AccessTokenClaims> => {
    if (!namesAudience(claims.aud, audience)) throw new BatonError('ERR_TOKEN_INVALID', 'aud does not name this audience');
    return revocations.check(claims);
  };
  const fromCache = (token: string, audience: string): Readonly<AccessTokenClaims> | undefined => {
    const claims = verified.get(token, now());
    return claims === undefined ? undefined : accept(claims, audience);
  };
  const source = async (token: string, audience: string): Promise<Readonly<AccessTokenClaims>> => {
    const m = await meta();
    if (!isThreeSegments(token)) {
      if (introspection === undefined || m.introspection === undefined)
        throw new BatonError('ERR_TOKEN_INVALID', 'an opaque token, and no introspection configured');
      const claims = await introspection.claims(m.introspection, token);
      if (typeof claims.exp === 'number' && now() >= (claims.exp + leeway) * 1000) throw new BatonError('ERR_TOKEN_EXPIRED', 'exp is in the past');
      return claims;
    }
    keys ??= new RemoteKeys(m.jwksUri, {
      issuer: options.issuer,
      algorithms,
      leewaySec: leeway,
      allowJwtTyp: options.allowJwtTyp === true,
      fetch: options.fetch,
      now,
      cacheMaxAgeMs: options.jwks?.cacheMaxAgeMs ?? 600_000,
      cooldownMs: options.jwks?.cooldownMs ?? 30_000,
      isKeyRevoked: (kid) => revocations.isKeyRevoked(kid),
    });
    const { payload } = await keys.verify(token, audience);
    const claims = claimsOf(payload);
    verified.set(token, claims, ((payload.exp as number) + leeway) * 1000);
    return claims;
  };
  return presenting(
    options,
    now,
    (token, audience) => fromCache(token, audience),
    (token, audience) => source(token, audience).then((claims) => accept(claims, audience)),
    () => {
      revocations.close();
      verified.clear();
      introspection?.clear();
    },
  );
}

/**
 * The verifier `requireAuth` calls, around the pipeline: the token's shape and the audience asked
 * for, the cache without a promise when it can, and the presentation (RFC 9449 §7: Bearer, or a
 * DPoP proof; nonces are not asked for here — one this verifier did not make is answered with one it did, §9).
 */
function presenting(
  options: RemoteIssuerOptions,
  now: () => number,
  cached: (token: string, audience: string) => Readonly<AccessTokenClaims> | undefined,
  verify: (token: string, audience: string) => Promise<Readonly<AccessTokenClaims>>,
  close: () => void,
): TokenVerifier & { close(): void } {
  const proofs = new DpopVerifier({
    nonceSecret: randomBytes(32),
    ledger: options.dpop?.ledger ?? memoryLedger(),
    now,
    iatWindowSec: options.dpop?.proofLifetimeSec ?? 300,
  });
  const audienceOf = (o: VerifyOptions | undefined): string => (typeof o?.audience === 'string' ? o.audience : options.audience);
  const verifyToken = (token: string, o: VerifyOptions | undefined): Promise<Readonly<AccessTokenClaims>> => {
    if (o?.oneTime) return Promise.reject(new BatonError('ERR_INVALID_ARGUMENT', "oneTime needs the issuer's store: a remote issuer cannot guard replays"));
    if (typeof token !== 'string' || token.length > 16_384) return Promise.reject(new BatonError('ERR_TOKEN_INVALID', 'not a token'));
    const audience = audienceOf(o);
    try {
      const hit = isThreeSegments(token) ? cached(token, audience) : undefined;
      if (hit !== undefined) return Promise.resolve(hit);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return verify(token, audience);
  };
  return {
    verifiesDpop: true,
    verify(token, o) {
      return verifyToken(token, o).then((claims) => (o?.dpop === undefined ? bearerOnly(claims) : checkPresentation(proofs, token, claims, o.dpop)));
    },
    verifySync(token, o) {
      if (o?.oneTime || o?.dpop !== undefined || !isThreeSegments(token)) return undefined;
      const claims = cached(token, audienceOf(o));
      return claims === undefined ? undefined : bearerOnly(claims);
    },
    close,
  };
}
