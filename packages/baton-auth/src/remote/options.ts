/** `remoteIssuer`'s options, checked once with their defaults: a mistake fails at start-up with a sentence. */
import { monotonic, steadyClock } from '../core/clock.ts';
import { BatonConfigError } from '../core/errors.ts';
import type { OneTimeLedger } from '../core/store.ts';
import type { FeedEvent } from './feed.ts';
import { secure } from './metadata.ts';

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

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
/** Revocations kept from the feed at most by default, per kind (`maxRevocations`). */
const MAX_REVOCATIONS = 100_000;

/** The options checked, with their defaults. */
export function settings(options: RemoteIssuerOptions) {
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

export type Settings = ReturnType<typeof settings>;
