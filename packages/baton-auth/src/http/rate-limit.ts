/**
 * rate-limiter-flexible on a Baton store: the library's limiter logic (points, duration,
 * blocking, insurance) over the store's atomic counters, so that the login limits are shared by
 * every instance on the same Redis, PostgreSQL or SQLite file.
 */
import { createRequire } from 'node:module';
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { RateLimiterStoreAbstract as StoreAbstract } from 'rate-limiter-flexible';
import type { CounterStore } from '../core/counter-store.ts';

// The base class of stores is the library's extension point (its own stores extend it), typed in
// its declarations but not exported from its index.
const RateLimiterStoreAbstract = createRequire(import.meta.url)('rate-limiter-flexible/lib/RateLimiterStoreAbstract.js') as typeof StoreAbstract;

interface Counter {
  count: number;
  resetAt: number;
}

/** A rate limiter whose counters live in a `CounterStore` (`hitCounter`). */
export class StoreRateLimiter extends RateLimiterStoreAbstract {
  readonly #store: CounterStore;
  readonly #now: () => number;

  /**
   * `duration` and `blockDuration` are in seconds (rate-limiter-flexible's units); `now` is the
   * clock the counters' windows are measured on, in ms since the epoch (default `Date.now`).
   */
  constructor(options: { store: CounterStore; keyPrefix: string; points: number; duration: number; blockDuration?: number; now?: () => number }) {
    const { store, now, ...rest } = options;
    super({ ...rest, storeClient: store });
    this.#store = store;
    this.#now = now ?? Date.now;
  }

  // The four methods below are rate-limiter-flexible's extension points for a store.
  _getRateLimiterRes(_key: string, changedPoints: number, result: Counter): RateLimiterRes {
    const points = (this as unknown as { points: number }).points;
    return new RateLimiterRes(Math.max(points - result.count, 0), Math.max(result.resetAt - this.#now(), 0), result.count, result.count === changedPoints);
  }

  _upsert(key: string, points: number, msDuration: number, forceExpire = false): Promise<Counter> {
    // A duration of 0 means "never resets" to rate-limiter-flexible.
    return this.#store.hitCounter(key, points, msDuration > 0 ? msDuration : 100 * 365 * 86_400_000, this.#now(), forceExpire);
  }

  _get(key: string): Promise<Counter | null> {
    return this.#store.getCounter(key, this.#now());
  }

  _delete(key: string): Promise<boolean> {
    return this.#store.deleteCounter(key);
  }
}
