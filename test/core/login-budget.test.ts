/**
 * #21 round 3, B1: a user's login budget (`loginRateLimit`), spent before anything is written: in
 * the store's counters when it has them, else in its one-time ledger. The service-level test is
 * test/interop/remote/login-flood.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { TokenStore } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { codeOf, makeBaton } from '../support/baton.ts';

/** The memory store without its counters: what a store that implements only the engine's port offers. */
function portOnly(): TokenStore {
  const store = memoryStore();
  return new Proxy(store, {
    get: (target, prop) => {
      if (prop === 'hitCounter') return undefined;
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as TokenStore;
}

describe('login budget per user', () => {
  it('counters: 30 logins a minute by default, then ERR_RATE_LIMITED with retryAfterMs and no session; a new window lets the user in again', async () => {
    const { baton, clock } = makeBaton({ maxSessionsPerUser: 1000 });
    for (let i = 0; i < 30; i++) await baton.login('u');
    const refused = await baton.login('u').catch((e: { code: string; retryAfterMs: number }) => e);
    expect(refused).toMatchObject({ code: 'ERR_RATE_LIMITED' });
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    expect((await baton.listSessions('u')).length).toBe(30);
    expect(await codeOf(baton.login('other'))).toBe('resolved');
    clock.advance(60_000);
    expect(await codeOf(baton.login('u'))).toBe('resolved');
  });

  it('one-time ledger (a store without counters): 10 at once, then one per window / max; at most burst + t · max / window in any time t', async () => {
    const { baton, clock } = makeBaton({ maxSessionsPerUser: 1000, store: portOnly(), loginRateLimit: { max: 30, window: '1m' } });
    let ok = 0;
    for (let i = 0; i < 15; i++) if ((await codeOf(baton.login('u'))) === 'resolved') ok++;
    expect(ok).toBe(10);
    // 60 s at 4 attempts a second: one login per 2 s gets through.
    for (let t = 0; t < 240; t++) {
      clock.advance(250);
      if ((await codeOf(baton.login('u'))) === 'resolved') ok++;
    }
    expect(ok).toBeLessThanOrEqual(10 + 30 + 1);
    expect(ok).toBeGreaterThanOrEqual(10 + 29);
  });

  it('is off with loginRateLimit: false, and a malformed one fails at start-up', async () => {
    const { baton } = makeBaton({ loginRateLimit: false, maxSessionsPerUser: 1000 });
    for (let i = 0; i < 40; i++) await baton.login('u');
    expect(() => makeBaton({ loginRateLimit: { max: 0, window: '1m' } })).toThrow(/loginRateLimit.max` must be a whole number of at least 1/);
  });
});
