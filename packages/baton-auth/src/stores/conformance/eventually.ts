/**
 * Polling until a condition holds, for tests: the conformance suite's (events cross process
 * boundaries for remote stores) and Baton's own tests' (test/support/eventually.ts re-exports it).
 * It polls on the real timers, captured when this module loads, so that it still waits in a test
 * that has installed fake timers.
 */
const realSetTimeout = globalThis.setTimeout;
const realNow = performance.now.bind(performance);

/** Options of `eventually`. */
export interface EventuallyOptions {
  /** How long to keep trying, in ms. Default 5 s. */
  timeoutMs?: number;
  /** The pause between two probes, in ms. Default 20 ms. */
  intervalMs?: number;
  /** What is awaited, for the error message. */
  what?: string;
}

/**
 * Calls `probe` until it returns something other than `undefined` or `false`, and resolves to
 * that; rejects when `timeoutMs` have passed. An error thrown by `probe` ends the wait at once:
 * a probe that may fail while it waits catches its own errors.
 */
export async function eventually<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, options: EventuallyOptions = {}): Promise<T> {
  const { timeoutMs = 5000, intervalMs = 20, what = 'a condition' } = options;
  const end = realNow() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (realNow() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => realSetTimeout(resolve, intervalMs));
  }
}
