import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_MEMORY_COUNTERS, memoryCounters, StoreRateLimiter } from '../../packages/baton-auth/src/http/rate-limit.ts';
import { httpErrorOf } from '../../packages/baton-auth/src/http/respond.ts';
import { isBatonError } from '../../packages/baton-auth/src/core/errors.ts';
import { createLoginProtection, resetFailures } from '../../packages/baton-auth/src/http/login-protection.ts';
import { ManualClock } from '../support/clock.ts';
import { memoryStore } from 'baton-auth/stores/memory';
import { redisStore } from 'baton-auth/stores/redis';
import { sqliteStore } from 'baton-auth/stores/sqlite';
import type { BatonStore } from 'baton-auth';
import { startRedis } from '../support/redis-servers.ts';
import type { RedisServer } from '../support/redis-servers.ts';

const dir = mkdtempSync(join(tmpdir(), 'baton-rl-'));
let redis: RedisServer | undefined;
beforeAll(async () => {
  redis = await startRedis(); // this file's own
}, 60_000);
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await redis?.stop();
});
const prefix = `baton-rl-${randomBytes(3).toString('hex')}:`;

const backends: [string, () => [BatonStore, BatonStore]][] = [
  [
    'memory',
    () => {
      const s = memoryStore();
      return [s, s];
    },
  ],
  [
    'sqlite',
    () => {
      const path = join(dir, `${randomBytes(3).toString('hex')}.sqlite`);
      return [sqliteStore({ path }), sqliteStore({ path })];
    },
  ],
  ['redis', () => [redisStore({ url: (redis as RedisServer).url, keyPrefix: prefix }), redisStore({ url: (redis as RedisServer).url, keyPrefix: prefix })]],
];

describe.each(backends)('StoreRateLimiter on the %s store', (_name, make) => {
  it('counts across instances, refuses past the limit with msBeforeNext, and resets on delete', async () => {
    const [a, b] = make();
    const key = `user-${randomBytes(3).toString('hex')}`;
    const one = new StoreRateLimiter({ store: a, keyPrefix: 'login', points: 5, duration: 60 });
    const two = new StoreRateLimiter({ store: b, keyPrefix: 'login', points: 5, duration: 60 });
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => (i % 2 ? one : two).consume(key)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason.msBeforeNext).toBeGreaterThan(50_000);
    expect(refused.reason.remainingPoints).toBe(0);
    expect((await two.get(key))?.consumedPoints).toBe(8);
    await one.delete(key);
    await expect(two.consume(key)).resolves.toMatchObject({ remainingPoints: 4 });
    await a.close();
    if (b !== a) await b.close();
  });
});

describe('addresses as login protection counts them', () => {
  it('one spelling per address, zone indexes dropped, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', async () => {
    const { budgetAddress, canonicalAddress } = await import('../../packages/baton-auth/src/http/login-protection.ts');
    expect(canonicalAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(canonicalAddress('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(canonicalAddress('fe80::1%eth0')).toBe('fe80::1');
    expect(canonicalAddress('2001:DB8:0:0::1')).toBe('2001:db8::1');
    expect(canonicalAddress('unknown')).toBe('unknown');
    expect(budgetAddress('2001:db8:0:1:aaaa::1')).toBe(budgetAddress('2001:db8:0:1::ffff'));
    expect(budgetAddress('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64');
    expect(budgetAddress('::1')).toBe('0:0:0:0::/64');
    expect(budgetAddress('203.0.113.7')).toBe('203.0.113.7');
  });
});

describe('on an injected clock', () => {
  // Years before the real time: a window measured on Date.now() instead of the clock has long ended.
  const start = Date.UTC(2001, 0, 1);

  it('StoreRateLimiter opens and closes its windows on the clock', async () => {
    const clock = new ManualClock(start);
    const limiter = new StoreRateLimiter({ store: memoryStore(), keyPrefix: 'clocked', points: 1, duration: 60, now: clock.now });
    await limiter.consume('k');
    const refused = await limiter.consume('k').then(
      () => undefined,
      (res: { msBeforeNext: number }) => res,
    );
    expect(refused?.msBeforeNext).toBe(60_000);
    clock.advance(59_999);
    await expect(limiter.consume('k')).rejects.toMatchObject({ msBeforeNext: 1 });
    clock.advance(1);
    await expect(limiter.consume('k')).resolves.toMatchObject({ remainingPoints: 0 });
  });

  it('login protection on a store blocks and forgives on its clock; resetFailures finds its counters on it', async () => {
    const clock = new ManualClock(start);
    const store = memoryStore();
    const protection = createLoginProtection({ store, now: clock.now, failures: { max: 2, blockMs: 3_600_000 }, failuresPerIp: false });
    const attempt = () => protection.check('u', '192.0.2.1');
    await (await attempt()).failed(); // the pair's count, for 90 days of the clock
    expect(await resetFailures(store, 'login', 'u', clock.now)).toBe(1);
    expect(await store.counterKeys('login:', clock.ms)).toEqual([]);
    await (await attempt()).failed();
    expect(await (await attempt()).failed()).toBe(3_600_000);
    expect((await attempt()).retryAfterMs).toBe(3_600_000);
    clock.advance(3_599_999);
    expect((await attempt()).retryAfterMs).toBe(1);
    clock.advance(1);
    expect((await attempt()).retryAfterMs).toBe(0);
  });
});

describe('without a store', () => {
  const start = Date.UTC(2001, 0, 1);

  it('login protection keeps the same bounds in memory: max failures in a row, then blocked for blockMs; the address per window', async () => {
    const clock = new ManualClock(start);
    const protection = createLoginProtection({ now: clock.now, failures: { max: 3, blockMs: 60_000 }, failuresPerIp: { max: 5, windowMs: 3_600_000 } });
    for (let i = 0; i < 2; i++) expect(await (await protection.check('u', '192.0.2.1')).failed()).toBe(0);
    expect(await (await protection.check('u', '192.0.2.1')).failed()).toBe(60_000);
    expect((await protection.check('u', '192.0.2.1')).retryAfterMs).toBe(60_000);
    clock.advance(60_000);
    // The pair's block is over; the address has 3 of its 5 failures: two more, then it is refused for its window.
    expect(await (await protection.check('u', '192.0.2.1')).failed()).toBe(0);
    expect(await (await protection.check('v', '192.0.2.1')).failed()).toBe(3_600_000);
    expect((await protection.check('w', '192.0.2.1')).retryAfterMs).toBe(3_600_000);
    expect((await protection.check('w', '192.0.2.2')).retryAfterMs).toBe(0);
  });

  it('memory counters drop expired ones as they grow (no timer, bounded by live keys)', async () => {
    const counters = memoryCounters();
    for (let i = 0; i < 5000; i++) await counters.hitCounter(`k${i}`, 1, 10, i);
    // Every counter but the last few has reset: a sweep ran, and a dropped one reads as absent.
    expect(await counters.getCounter('k0', 5000)).toBeNull();
    expect(await counters.deleteCounter('k0')).toBe(false);
    expect(await counters.getCounter('k4999', 5000)).toEqual({ count: 1, resetAt: 5009 });
  });

  it('StoreRateLimiter.block(key, 0) refuses the key for good, as rate-limiter-flexible (and the limiter on it) did; a negative or NaN block is refused, never a block that ends at once (red team)', async () => {
    const clock = new ManualClock(start);
    const limiter = new StoreRateLimiter({ store: memoryCounters(), keyPrefix: 'x', points: 3, duration: 60, now: clock.now });
    await limiter.block('k', 0);
    clock.advance(365 * 86_400_000);
    await expect(limiter.consume('k')).rejects.toMatchObject({ remainingPoints: 0 });
    expect((await limiter.get('k'))?.msBeforeNext).toBeGreaterThan(50 * 365 * 86_400_000);
    for (const bad of [-1, Number.NaN]) {
      const err = await limiter.block('j', bad).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isBatonError(err) && err.code).toBe('ERR_INVALID_ARGUMENT');
    }
    await limiter.block('j', 2);
    await expect(limiter.consume('j')).rejects.toMatchObject({ msBeforeNext: 2000 });
  });

  it('memory counters are bounded: past maxKeys live ones a new key is refused as a store outage (503), none is dropped, the counted ones go on (red team)', async () => {
    const counters = memoryCounters(1000);
    for (let i = 0; i < 1000; i++) await counters.hitCounter(`k${i}`, 1, 60_000, 0);
    const full = await counters.hitCounter('k1000', 1, 60_000, 10).then(
      () => null,
      (err: unknown) => err,
    );
    expect(isBatonError(full) && full.code).toBe('ERR_STORE_UNAVAILABLE');
    expect(httpErrorOf(full).status).toBe(503);
    // No live counter was dropped to make room; a counted key still counts.
    expect(await counters.getCounter('k0', 20)).toEqual({ count: 1, resetAt: 60_000 });
    expect(await counters.hitCounter('k999', 1, 60_000, 20)).toEqual({ count: 2, resetAt: 60_000 });
    // Once they expire, there is room again.
    expect(await counters.hitCounter('k1000', 1, 60_000, 60_000)).toEqual({ count: 1, resetAt: 120_000 });
  });

  it('memory counters at the bound make room from what may give way, oldest first, and refuse a new key only when nothing may (red team)', async () => {
    const counters = memoryCounters(1000, (key) => key.startsWith('soft:'));
    for (let i = 0; i < 500; i++) await counters.hitCounter(`soft:${i}`, 1, 60_000, 0);
    for (let i = 0; i < 500; i++) await counters.hitCounter(`hard:${i}`, 1, 60_000, 0);
    await counters.hitCounter('new', 1, 60_000, 10);
    // Down to 90%: the 101 oldest soft ones went, every hard one stayed.
    expect(await counters.getCounter('soft:0', 20)).toBeNull();
    expect(await counters.getCounter('soft:101', 20)).toEqual({ count: 1, resetAt: 60_000 });
    for (let i = 0; i < 500; i++) expect(await counters.getCounter(`hard:${i}`, 20)).not.toBeNull();
  });

  it('login protection without a store stays within MAX_MEMORY_COUNTERS under failed logins from ever new /64s: pairs below their limit give way, blocks and addresses never, and past what may give way a new key is a 503, never an open gate (red team)', async () => {
    const clock = new ManualClock(start);
    const protection = createLoginProtection({ now: clock.now });
    // A pair blocked first: it must stay blocked however many counters come after it.
    for (let i = 0; i < 10; i++) await (await protection.check('victim', '192.0.2.1')).failed();
    let refused: unknown;
    let attempts = 0;
    for (let i = 0; refused === undefined && i < 2 * MAX_MEMORY_COUNTERS; i++, attempts++) {
      clock.advance(1); // the room is made at most once a second of this clock
      const attempt = await protection.check(`user${i}`, `2001:db8:${(i >> 16) & 0xffff}:${i & 0xffff}::1`).catch((err: unknown) => {
        refused = err;
      });
      await attempt?.failed();
    }
    // Each attempt leaves its /64's count, which never gives way: the map is full of those after MAX_MEMORY_COUNTERS attempts or so.
    expect(attempts).toBeGreaterThan(0.9 * MAX_MEMORY_COUNTERS);
    expect(isBatonError(refused) && refused.code).toBe('ERR_STORE_UNAVAILABLE');
    expect((await protection.check('victim', '192.0.2.1')).retryAfterMs).toBeGreaterThan(0);
    // What 1,100 addresses can do — each its 100 failures of a day, 110,000 in all, past the bound — refuses no one else.
    const other = createLoginProtection({ now: clock.now });
    for (let a = 0; a < 1100; a++) {
      clock.advance(10);
      for (let i = 0; i < 100; i++) await (await other.check(`guess${i}`, `198.18.${a >> 8}.${a & 255}`)).failed();
    }
    expect((await other.check('alice', '203.0.113.50')).retryAfterMs).toBe(0);
  }, 120_000);
});
