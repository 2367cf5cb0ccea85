/**
 * A fixed-window rate limiter over a store's atomic counters (`CounterStore.hitCounter`), so that
 * the login limits are shared by every instance on the same Redis, PostgreSQL or SQLite file —
 * and over counters in this process's memory without a store. The shape of its answers is
 * rate-limiter-flexible's (`consumedPoints`, `remainingPoints`, `msBeforeNext`; a refusal rejects
 * with that answer), the library this replaces: its store base class was private.
 */
import type { CounterStore } from '../core/counter-store.ts';
import { BatonError } from '../core/errors.ts';

/** A counter's state as the limiter answers it. */
export interface RateLimitResult {
  /** Points counted in the window (or the block). */
  consumedPoints: number;
  /** Points left before refusal. */
  remainingPoints: number;
  /** Milliseconds until the window (or the block) ends. */
  msBeforeNext: number;
}

/** Far enough to mean "never resets" for a window of 0. */
const FOREVER_MS = 100 * 365 * 86_400_000;

/**
 * How many live counters `memoryCounters` keeps at most (about 800 bytes each: 80 MB). Without a
 * bound, failed logins from many addresses (an IPv6 /48 is 65,536 budgets of 100 a day) each left a
 * pair counter for 90 days, in the heap of the process.
 */
export const MAX_MEMORY_COUNTERS = 100_000;

/** A live counter `memoryCounters` may give up to make room (see there). */
export type Evictable = (key: string, counter: { count: number; resetAt: number }) => boolean;

/**
 * Counters in this process's memory, expired ones dropped as the map grows (no timer). At most
 * `maxKeys` live ones. When a new key finds the map full, expired counters go, then — oldest first, down to 90% — those `evictable` says may:
 * login protection lets only a pair's count of failures below its limit go (what that costs is
 * bounded by the address's budget, which stays). If that makes no room, the new key is refused with
 * `ERR_STORE_UNAVAILABLE` (503 with Retry-After), as a full store would be: a block and an
 * address's count are never pushed out, and the keys already counted go on counting.
 */
export function memoryCounters(
  maxKeys = MAX_MEMORY_COUNTERS,
  evictable: Evictable = () => false,
): Pick<CounterStore, 'hitCounter' | 'getCounter' | 'getCounters' | 'deleteCounter'> {
  const counters = new Map<string, { count: number; resetAt: number }>();
  let sweepAt = 1024;
  let roomMadeAt = -Infinity;
  const sweep = (now: number): void => {
    for (const [k, c] of counters) if (c.resetAt <= now) counters.delete(k);
  };
  let lastFreed = 0;
  // A pass walks every key: once a second, or again at once after one that freed a tenth (each
  // new key then pays a few steps of it, whatever the rate).
  const makeRoom = (now: number): void => {
    if (lastFreed < maxKeys / 10 && now - roomMadeAt < 1000 && now >= roomMadeAt) return;
    roomMadeAt = now;
    const before = counters.size;
    sweep(now);
    for (const [k, c] of counters) {
      if (counters.size <= maxKeys * 0.9) break;
      if (evictable(k, c)) counters.delete(k);
    }
    lastFreed = before - counters.size;
  };
  return {
    async hitCounter(key, points, windowMs, now, force = false) {
      const current = counters.get(key);
      if (current === undefined && counters.size >= maxKeys) {
        makeRoom(now);
        if (counters.size >= maxKeys)
          throw new BatonError('ERR_STORE_UNAVAILABLE', `the ${maxKeys} in-memory rate-limit counters are all live: give createLoginProtection a store`);
      }
      const next =
        force || current === undefined || current.resetAt <= now
          ? { count: points, resetAt: now + windowMs }
          : { count: current.count + points, resetAt: current.resetAt };
      counters.set(key, next);
      if (counters.size >= sweepAt) {
        sweep(now);
        sweepAt = Math.max(1024, counters.size * 2);
      }
      return { ...next };
    },
    async getCounter(key, now) {
      const current = counters.get(key);
      return current === undefined || current.resetAt <= now ? null : { ...current };
    },
    async deleteCounter(key) {
      return counters.delete(key);
    },
  };
}

/** A rate limiter whose counters live in a `CounterStore` (`hitCounter`), keyed `<keyPrefix>:<key>`. */
export class StoreRateLimiter {
  /** Points allowed per window. */
  readonly points: number;
  readonly #store: Pick<CounterStore, 'hitCounter' | 'getCounter' | 'getCounters' | 'deleteCounter'>;
  readonly #now: () => number;
  readonly #prefix: string;
  readonly #windowMs: number;
  readonly #blockMs: number;

  /**
   * `duration` (the window) and `blockDuration` (how long a key that went over is refused, from
   * the attempt that went over; 0: until the window ends) are in seconds; `now` is the clock the
   * windows are measured on, in ms since the epoch (default `Date.now`).
   */
  constructor(options: {
    store: Pick<CounterStore, 'hitCounter' | 'getCounter' | 'getCounters' | 'deleteCounter'>;
    keyPrefix: string;
    points: number;
    duration: number;
    blockDuration?: number;
    now?: () => number;
  }) {
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
    this.#prefix = options.keyPrefix === '' ? '' : `${options.keyPrefix}:`;
    this.points = options.points;
    this.#windowMs = options.duration > 0 ? options.duration * 1000 : FOREVER_MS;
    this.#blockMs = (options.blockDuration ?? 0) * 1000;
  }

  #result(counter: { count: number; resetAt: number }): RateLimitResult {
    return {
      consumedPoints: counter.count,
      remainingPoints: Math.max(this.points - counter.count, 0),
      msBeforeNext: Math.max(counter.resetAt - this.#now(), 0),
    };
  }

  /**
   * Counts `points` on `key`, atomically in the store: resolves within the limit; rejects with the
   * answer past it — the attempt that goes over first starts the block, if there is one.
   */
  async consume(key: string, points = 1): Promise<RateLimitResult> {
    const k = this.#prefix + key;
    const res = this.#result(await this.#store.hitCounter(k, points, this.#windowMs, this.#now()));
    if (res.consumedPoints <= this.points) return res;
    if (this.#blockMs > 0 && res.consumedPoints <= this.points + points) {
      await this.#store.hitCounter(k, res.consumedPoints, this.#blockMs, this.#now(), true);
      res.msBeforeNext = this.#blockMs;
    }
    throw res;
  }

  /** The key's live counter, or null. */
  async get(key: string): Promise<RateLimitResult | null> {
    const counter = await this.#store.getCounter(this.#prefix + key, this.#now());
    return counter === null ? null : this.#result(counter);
  }

  /** The live counters of several limiters' keys: one read when they share a store that reads several (`getCounters`), else one each. */
  static async getAll(targets: readonly (readonly [StoreRateLimiter, string])[]): Promise<(RateLimitResult | null)[]> {
    const first = targets[0]?.[0];
    const store = first === undefined ? undefined : first.#store;
    if (first === undefined || store?.getCounters === undefined || targets.length < 2 || targets.some(([limiter]) => limiter.#store !== store))
      return Promise.all(targets.map(([limiter, key]) => limiter.get(key)));
    const counters = await store.getCounters(
      targets.map(([limiter, key]) => limiter.#prefix + key),
      first.#now(),
    );
    return targets.map(([limiter], i) => {
      const counter = counters[i];
      return counter === null || counter === undefined ? null : limiter.#result(counter);
    });
  }

  /**
   * Refuses `key` for `seconds` from now (its count set past the limit); 0 (or Infinity): for good,
   * as rate-limiter-flexible's `block` — a block of 0 ms would have ended at once, refusing nothing.
   */
  async block(key: string, seconds: number): Promise<RateLimitResult> {
    if (typeof seconds !== 'number' || !(seconds >= 0))
      throw new BatonError('ERR_INVALID_ARGUMENT', `StoreRateLimiter.block: seconds must be a number of at least 0 (0: for good), got ${String(seconds)}`, {
        public: true,
      });
    const ms = seconds === 0 || seconds === Infinity ? FOREVER_MS : seconds * 1000;
    return this.#result(await this.#store.hitCounter(this.#prefix + key, this.points + 1, ms, this.#now(), true));
  }

  /** Gives `points` back to `key`. */
  async reward(key: string, points = 1): Promise<RateLimitResult> {
    return this.#result(await this.#store.hitCounter(this.#prefix + key, -points, this.#windowMs, this.#now()));
  }

  /** Forgets `key`; `true` when it was counted. */
  async delete(key: string): Promise<boolean> {
    return this.#store.deleteCounter(this.#prefix + key);
  }
}
