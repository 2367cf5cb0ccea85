import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreRateLimiter } from '../../packages/baton-auth/src/http/rate-limit.ts';
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
  ['memory', () => { const s = memoryStore(); return [s, s]; }],
  ['sqlite', () => { const path = join(dir, `${randomBytes(3).toString('hex')}.sqlite`); return [sqliteStore({ path }), sqliteStore({ path })]; }],
  ['redis', () => [redisStore({ url: (redis as RedisServer).url, keyPrefix: prefix }), redisStore({ url: (redis as RedisServer).url, keyPrefix: prefix })]],
];

describe.each(backends)('rate-limiter-flexible on the %s store', (_name, make) => {
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
    const refused = await limiter.consume('k').then(() => undefined, (res: { msBeforeNext: number }) => res);
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
