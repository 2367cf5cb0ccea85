/**
 * `remoteIssuer`'s revocation source: the issuer's revocation feed (`feed.ts`) into the protocol
 * toolkit's `RevocationCache`, bounded (`maxRevocations` per kind, a year at most each). None in
 * force is ever dropped to make room: past the cap, and (when asked) during an outage of the feed,
 * every token is refused until the verifier holds every revocation in force again.
 */
import type { AccessTokenClaims } from '../core/claims.ts';
import { BatonConfigError, BatonError } from '../core/errors.ts';
import { RevocationCache } from '../protocol/revocation-cache.ts';
import { FeedRefusedError, followFeed } from './feed.ts';
import type { FeedEvent } from './feed.ts';

/** How long the first request waits for the feed's backlog. */
const FIRST_CATCH_UP_MS = 2000;
/** The longest a revocation from the feed is kept: a hostile feed cannot grow them without end. */
const MAX_REVOCATION_MS = 366 * 86_400_000;
/** How often a verifier over its `maxRevocations` looks whether enough expired to catch up again. */
const OVERFLOW_RECHECK_MS = 1000;

export interface FeedRevocationsOptions {
  maxRevocations: number;
  maxFeedOutageMs?: number | undefined;
  onNearCap?: ((state: { kind: FeedEvent['kind']; held: number; max: number }) => void) | undefined;
  onRevocation?: ((event: FeedEvent) => void) | undefined;
  onFeedState?: ((connected: boolean, error?: Error) => void) | undefined;
  /** A key was revoked: its tokens leave the caches. */
  onKeyRevoked(): void;
  now: () => number;
  monotonic: () => number;
}

export class FeedRevocations {
  readonly #o: FeedRevocationsOptions;
  readonly #held: RevocationCache<FeedEvent>;
  #feed: { close(): void; restart(): void } | undefined;
  // More revocations in force came than maxRevocations: since when (refusing every token), and whether the backlog is being read again.
  #overflowSince: number | undefined;
  #resyncing = false;
  #nextRecheck = 0;
  // The feed's state: down since when (undefined: connected, or not followed), and refused credentials.
  #downSince: number | undefined;
  #refused: Error | undefined;

  constructor(o: FeedRevocationsOptions) {
    this.#o = o;
    this.#held = new RevocationCache<FeedEvent>({
      monotonic: o.monotonic,
      max: o.maxRevocations,
      maxLifetimeMs: MAX_REVOCATION_MS,
      ...(o.onNearCap ? { onNearCap: o.onNearCap } : {}),
    });
  }

  #remember(event: FeedEvent): void {
    const now = this.#o.now();
    this.#held.prune(now); // at most once a second
    if (!this.#held.apply(event, now)) {
      // Never drop a revocation in force to make room (a dropped one would let its token pass):
      // refuse every token instead, until enough expired to read the backlog again.
      this.#overflowSince ??= now;
      this.#resyncing = false;
    } else if (event.kind === 'key') {
      this.#o.onKeyRevoked();
    }
    this.#o.onRevocation?.(event);
  }

  #onState(connected: boolean, error: Error | undefined, ready: () => void): void {
    this.#refused = error instanceof FeedRefusedError ? error : undefined;
    if (connected || this.#refused !== undefined) ready();
    if (!connected) this.#downSince ??= this.#o.now();
    else {
      this.#downSince = undefined; // connected: not down, however long ago it connected
      if (this.#resyncing) {
        // The backlog read again after an overflow fitted: every revocation in force is held.
        this.#resyncing = false;
        this.#overflowSince = undefined;
      }
    }
    this.#o.onFeedState?.(connected, error);
  }

  /** Follows the feed at `url`; resolves once its backlog is in, or after a short wait, so that a session revoked before this API started is known. */
  follow(url: string, fetcher: typeof fetch, authorization: string): Promise<void> {
    this.#downSince = this.#o.now();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, FIRST_CATCH_UP_MS);
      const ready = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#feed ??= followFeed({
        url,
        fetch: fetcher,
        authorization,
        onEvent: (e) => this.#remember(e),
        onState: (connected, error) => this.#onState(connected, error, ready),
      });
    });
  }

  /** Whether the feed revoked the key `kid`; a token naming no key, while any key revocation is in force. */
  isKeyRevoked(kid: unknown): boolean {
    const now = this.#o.now();
    return kid === undefined ? this.#held.anyInForce('key', now) : this.#held.isRevoked('key', kid, now);
  }

  /** Past the cap: refused, and once enough expired, the backlog read again. */
  #overflowed(): never {
    const now = this.#o.now();
    if (!this.#resyncing && now >= this.#nextRecheck) {
      this.#nextRecheck = now + OVERFLOW_RECHECK_MS;
      this.#held.prune(now);
      if (this.#held.hasRoom) {
        this.#resyncing = true; // room again: read every revocation in force from the start
        this.#feed?.restart();
      }
    }
    throw new BatonError(
      'ERR_STORE_UNAVAILABLE',
      `the issuer has more revocations in force than this verifier keeps (maxRevocations ${this.#o.maxRevocations}): tokens are refused until it holds them all again`,
    );
  }

  /** `claims`, unless the feed revoked their session or token, or this verifier cannot tell. */
  check(claims: Readonly<AccessTokenClaims>): Readonly<AccessTokenClaims> {
    // Credentials the feed refuses are this API's mistake: no token passes without its revocations (a 500, not the token's fault).
    if (this.#refused !== undefined) throw new BatonConfigError(`remoteIssuer: ${this.#refused.message}`);
    if (this.#overflowSince !== undefined) this.#overflowed();
    const now = this.#o.now();
    if (this.#o.maxFeedOutageMs !== undefined && this.#downSince !== undefined && now - this.#downSince > this.#o.maxFeedOutageMs) {
      throw new BatonError('ERR_STORE_UNAVAILABLE', "the issuer's revocation feed is down: tokens are refused until it is back (maxFeedOutageMs)");
    }
    if (this.#held.isRevoked('session', claims.sid, now)) throw new BatonError('ERR_SESSION_REVOKED', 'the issuer revoked the session');
    if (this.#held.isRevoked('token', claims.jti, now)) throw new BatonError('ERR_TOKEN_REVOKED', 'the issuer revoked the token');
    return claims;
  }

  close(): void {
    this.#feed?.close();
  }
}
