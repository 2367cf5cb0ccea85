/**
 * The counter port: counters with a window, which the login protection and the rate limits
 * (`baton-auth/http`) keep in the application's store. Every Baton store implements it
 * (`stores/types.ts`'s `BatonStore`); it lives in the core, beside the store port, so that http
 * depends on the core's ports and not on the stores.
 */

/** Counters with a window: what login protection is built on (through rate-limiter-flexible, `baton-auth/http`). */
export interface CounterStore {
  /**
   * Adds `points` to counter `key`, atomically. A counter starts at the first hit and resets
   * `windowMs` later; `force` starts it anew. Answers the count and when it resets.
   */
  hitCounter(key: string, points: number, windowMs: number, now: number, force?: boolean): Promise<{ count: number; resetAt: number }>;
  /** The live counter at `now`, or `null` (absent or reset). */
  getCounter(key: string, now: number): Promise<{ count: number; resetAt: number } | null>;
  /**
   * The live counters of `keys` at `now`, in their order (`null` for each absent or reset): one
   * read where the store can (the SQLite store: one statement). Optional: without it, each key is
   * read with `getCounter`.
   */
  getCounters?(keys: readonly string[], now: number): Promise<({ count: number; resetAt: number } | null)[]>;
  /** `true` when it existed. */
  deleteCounter(key: string): Promise<boolean>;
  /**
   * The keys of the counters still live at `now` (not reset yet) that start with `prefix`, taken
   * literally (no wildcard), sorted: what an administrator resetting rate limits lists.
   */
  counterKeys(prefix: string, now: number): Promise<string[]>;
}
