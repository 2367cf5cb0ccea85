/**
 * #26: every store call the service makes has a deadline (CALL_DEADLINE_MS: a PostgreSQL query has
 * none of its own), kept on one timer for all the calls in flight rather than a timer, a race and a
 * `finally` per call. Whatever the calls' durations, each gets its own answer or, past the
 * deadline, ERR_STORE_UNAVAILABLE — never another call's, never both; the store is then known down.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import type { BatonStore } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { Deadlines, outageAware } from '../../packages/baton-auth-server/src/server/outage.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Deadlines', () => {
  it('for any durations, a call answers with its own outcome before the deadline and ERR_STORE_UNAVAILABLE after it', async () => {
    const deadlineMs = 60;
    // Durations away from the deadline by more than a loaded machine's timer lateness.
    const duration = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 150, max: 200 }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(duration, fc.boolean(), fc.integer({ min: 0, max: 30 })), { minLength: 1, maxLength: 12 }), async (calls) => {
        let late = 0;
        const d = new Deadlines(deadlineMs, () => late++);
        const outcomes = calls.map(async ([ms, fails, startAfter], i) => {
          await sleep(startAfter);
          const call = sleep(ms).then(() => (fails ? Promise.reject(new Error(`own failure ${i}`)) : `answer ${i}`));
          return d.track(call).then(
            (value) => ({ value }),
            (err: Error & { code?: string }) => ({ error: err.code ?? err.message }),
          );
        });
        const got = await Promise.all(outcomes);
        calls.forEach(([ms, fails], i) => {
          if (ms > deadlineMs) expect(got[i]).toEqual({ error: 'ERR_STORE_UNAVAILABLE' });
          else expect(got[i]).toEqual(fails ? { error: `own failure ${i}` } : { value: `answer ${i}` });
        });
        expect(late).toBe(calls.filter(([ms]) => ms > deadlineMs).length);
        expect(d.size).toBe(0);
      }),
      { numRuns: 15 },
    );
  }, 60_000);

  it('keeps one timer for any number of calls in flight (there was one per call)', async () => {
    const inner = memoryStore();
    inner.getRecord = () => new Promise<never>(() => undefined);
    const store = outageAware(inner, 10_000);
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    try {
      const pending = Array.from({ length: 200 }, () => store.getRecord('t', 'k').catch(() => undefined));
      expect(setTimeoutSpy.mock.calls.length).toBeLessThanOrEqual(1);
      void pending;
    } finally {
      setTimeoutSpy.mockRestore();
      await store.close();
    }
  });
});

describe('outageAware', () => {
  it('refuses a call that does not answer within the deadline with ERR_STORE_UNAVAILABLE, then the store is known down at once', async () => {
    const inner = memoryStore();
    let hang = true;
    const original = inner.getRecord.bind(inner);
    inner.getRecord = (...args: Parameters<BatonStore['getRecord']>) => (hang ? new Promise<never>(() => undefined) : original(...args));
    inner.ping = () => (hang ? new Promise<never>(() => undefined) : Promise.resolve());
    const store = outageAware(inner, 50);
    const started = performance.now();
    let asked = 0;
    await expect(store.getRecord('t', 'k')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(49);
    // Known down: the next call is refused at once, without asking the store.
    inner.getRecord = () => {
      asked++;
      return new Promise<never>(() => undefined);
    };
    await expect(store.getRecord('t', 'k')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    expect(asked).toBe(0);
    inner.getRecord = original;
    hang = false;
    await sleep(600); // a ping every 250 ms finds it back
    await expect(store.getRecord('t', 'k')).resolves.toBeNull();
    // The proxy hands out one wrapper per method, not a new closure at every read.
    expect(store.getRecord).toBe(store.getRecord);
    await store.close();
  });
});
