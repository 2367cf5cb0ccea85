/**
 * Faults and load against real servers: a store that goes away mid-refresh, a Redis that restarts
 * without persistence, and refresh storms over two instances sharing one store.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton, BatonEvent, BatonStore } from 'baton-auth';
import { postgresStore } from 'baton-auth/stores/postgres';
import { redisStore } from 'baton-auth/stores/redis';
import { startRedis } from '../support/redis-servers.ts';
import type { RedisServer } from '../support/redis-servers.ts';
import { freePort } from '../support/ports.ts';
import { startProxy } from '../support/tcp-proxy.ts';
import { useTestDatabase } from '../support/postgres-db.ts';
import { codeOf } from '../support/baton.ts';
import { eventually } from '../support/eventually.ts';

const PG_URL = useTestDatabase('baton_faults');
// The storms' Redis: this file's own, on a free port.
let redis: RedisServer | undefined;
beforeAll(async () => {
  redis = await startRedis();
}, 60_000);
afterAll(async () => {
  await redis?.stop();
});

const shared = { issuer: 'https://faults.test', keys: [generateKey('HS256', 'k')], refreshTokenSecret: randomBytes(32), refreshRateLimit: false as const };

function instance(store: BatonStore, extra: Record<string, unknown> = {}): { baton: Baton; events: BatonEvent[] } {
  const events: BatonEvent[] = [];
  return { baton: createBaton({ ...shared, store, onEvent: (e) => events.push(e), ...extra }), events };
}

/** Retries `fn` while the store is unavailable (each failed attempt must have changed nothing). */
async function whenBack<T>(fn: () => Promise<T>): Promise<T> {
  const attempt = () =>
    fn().then(
      (value) => ({ value }),
      (err: { code?: string }) => {
        if (err.code !== 'ERR_STORE_UNAVAILABLE') throw err;
        return undefined;
      },
    );
  return (await eventually(attempt, { timeoutMs: 15_000, intervalMs: 100, what: 'the store to be back' })).value;
}

describe('ping against a store that is not there', () => {
  /**
   * How long `ping` took to reject (fails the test if it resolves). A PING still queued when the
   * store closes must not become an unhandled rejection (it would crash a service).
   */
  async function rejectsIn(store: BatonStore): Promise<number> {
    const started = Date.now();
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      await store.ping();
    } catch (err) {
      if (err instanceof TypeError) throw err; // not the store's answer: no ping at all
      return Date.now() - started;
    } finally {
      await store.close();
      await new Promise((r) => setTimeout(r, 50));
      process.off('unhandledRejection', record);
      expect(unhandled).toEqual([]);
    }
    throw new Error('ping resolved against a closed port');
  }

  it('Redis at a closed port rejects within 5 s instead of hanging', async () => {
    expect(await rejectsIn(redisStore({ url: `redis://127.0.0.1:${await freePort()}` }))).toBeLessThan(5000);
  }, 15_000);

  it('Redis that accepts but never answers: the PING gives up after 3 s instead of hanging', async () => {
    const silent = createServer(() => undefined); // accepts connections, says nothing
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      expect(await rejectsIn(redisStore({ url: `redis://127.0.0.1:${(silent.address() as AddressInfo).port}` }))).toBeGreaterThanOrEqual(2900);
    } finally {
      silent.close();
    }
  }, 15_000);

  it('Redis Cluster at closed ports rejects within 5 s too (its client would queue the PING)', async () => {
    const [a, b] = [await freePort(), await freePort()];
    expect(await rejectsIn(redisStore({ url: `redis+cluster://127.0.0.1:${a},127.0.0.1:${b}` }))).toBeLessThan(5000);
  }, 15_000);

  it('PostgreSQL at a closed port rejects within 10 s', async () => {
    const closed = new URL(PG_URL);
    closed.port = String(await freePort());
    expect(await rejectsIn(postgresStore({ url: closed.toString() }))).toBeLessThan(10_000);
  }, 20_000);
});

describe('the store goes away while a refresh arrives', () => {
  it('Redis with AOF killed and restarted: 503-class error, then the same token rotates exactly once', async () => {
    const server = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
    const store = redisStore({ url: server.url });
    const { baton, events } = instance(store);
    const opaque = instance(store, { tokenFormat: 'opaque' }).baton;
    try {
      const pair = await baton.login('alice');
      const opaquePair = await opaque.login('bob');
      await baton.verify(pair.access_token);
      await server.kill();
      const err = await baton.refresh(pair.refresh_token).catch((e: { code: string; oauthError: string }) => e);
      expect(err).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', oauthError: 'temporarily_unavailable' });
      expect((await baton.verify(pair.access_token)).sub).toBe('alice'); // JWTs: local, keeps working
      expect(await codeOf(opaque.verify(opaquePair.access_token))).toBe('ERR_STORE_UNAVAILABLE'); // opaque: fails closed
      await server.restart();
      const next = await whenBack(() => baton.refresh(pair.refresh_token));
      expect(next.refresh_token).toMatch(/\.1\./);
      const again = await baton.refresh(pair.refresh_token); // a retry of the lost response
      expect(again.refresh_token).toBe(next.refresh_token);
      expect(events.filter((e) => e.type === 'refresh.rotated')).toHaveLength(1);
      expect((await opaque.verify(opaquePair.access_token)).sub).toBe('bob');
    } finally {
      await baton.close();
      await opaque.close();
      await store.close();
      await server.stop();
    }
  }, 60_000);

  it('Redis without persistence restarts: sessions are gone, refresh says invalid_grant, nothing crashes', async () => {
    const server = await startRedis();
    const store = redisStore({ url: server.url });
    const { baton } = instance(store);
    try {
      const pair = await baton.login('carol');
      await server.kill();
      await server.restart();
      const err = await whenBack(() => baton.refresh(pair.refresh_token).then(() => undefined)).catch((e: { code: string; oauthError: string }) => e);
      expect(err).toMatchObject({ code: 'ERR_REFRESH_INVALID', oauthError: 'invalid_grant' });
      expect((await baton.verify(pair.access_token)).sub).toBe('carol'); // until it expires
      const fresh = await baton.login('carol'); // logging in again works
      await baton.refresh(fresh.refresh_token);
    } finally {
      await baton.close();
      await store.close();
      await server.stop();
    }
  }, 60_000);

  it('PostgreSQL unreachable (network cut): 503-class error, then the same token rotates exactly once', async () => {
    const proxy = await startProxy(5432);
    const store = postgresStore({ url: PG_URL.replace(':5432/', `:${proxy.port}/`) });
    const { baton, events } = instance(store);
    try {
      const pair = await baton.login('dave');
      await proxy.down();
      expect(await codeOf(baton.refresh(pair.refresh_token))).toBe('ERR_STORE_UNAVAILABLE');
      expect((await baton.verify(pair.access_token)).sub).toBe('dave');
      await proxy.up();
      const next = await whenBack(() => baton.refresh(pair.refresh_token));
      expect(next.refresh_token).toMatch(/\.1\./);
      expect((await baton.refresh(pair.refresh_token)).refresh_token).toBe(next.refresh_token);
      expect(events.filter((e) => e.type === 'refresh.rotated')).toHaveLength(1);
    } finally {
      await baton.close();
      await store.close();
      await proxy.close();
    }
  }, 60_000);
});

const backends: [string, () => BatonStore][] = [
  ['redis', () => redisStore({ url: (redis as RedisServer).url, keyPrefix: `baton-storm-${process.pid}:` })],
  ['postgres', () => postgresStore({ url: PG_URL })],
];

/** Two engines on two clients of one store, as two instances would be; closed afterwards. */
async function twoInstances(
  makeStore: () => BatonStore,
  body: (a: ReturnType<typeof instance>, b: ReturnType<typeof instance>) => Promise<void>,
): Promise<void> {
  const [s1, s2] = [makeStore(), makeStore()];
  const a = instance(s1);
  const b = instance(s2);
  try {
    await body(a, b);
  } finally {
    await Promise.all([a.baton.close(), b.baton.close()]);
    await Promise.all([s1.close(), s2.close()]);
  }
}

describe.each(backends)('refresh storms over two instances on %s', (_name, makeStore) => {
  it('100 concurrent refreshes of one token: one rotation, one child for everyone, the session lives', async () => {
    await twoInstances(makeStore, async (a, b) => {
      const pair = await a.baton.login(`storm-${randomBytes(4).toString('hex')}`);
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).baton.refresh(pair.refresh_token)));
      expect(new Set(results.map((r) => r.refresh_token)).size).toBe(1);
      const answers = [...a.events, ...b.events].filter((e) => e.type === 'refresh.rotated' || e.type === 'refresh.grace');
      expect(answers.filter((e) => e.type === 'refresh.rotated')).toHaveLength(1);
      expect(answers).toHaveLength(100);
      expect([...a.events, ...b.events].some((e) => e.type === 'refresh.reused')).toBe(false);
      const next = await b.baton.refresh(results[0]?.refresh_token as string);
      await a.baton.verify(next.access_token);
    });
  }, 60_000);

  it('10 sessions refreshing at once, 20 racers each: exactly one rotation per session', async () => {
    await twoInstances(makeStore, async (a, b) => {
      const logins = await Promise.all(Array.from({ length: 10 }, (_, i) => a.baton.login(`herd-${i}-${randomBytes(3).toString('hex')}`)));
      const racers = logins.flatMap((p) => Array.from({ length: 20 }, (_, i) => ({ p, via: i % 2 ? a : b })));
      racers.sort(() => Math.random() - 0.5);
      const results = await Promise.all(racers.map(({ p, via }) => via.baton.refresh(p.refresh_token).then((r) => [p.session_id, r.refresh_token] as const)));
      const children = new Map<string, Set<string>>();
      for (const [sid, token] of results) children.set(sid, (children.get(sid) ?? new Set()).add(token));
      expect([...children.values()].map((s) => s.size)).toEqual(Array(10).fill(1));
      const rotated = [...a.events, ...b.events].filter((e) => e.type === 'refresh.rotated');
      expect(rotated).toHaveLength(10);
      expect(new Set(rotated.map((e) => (e as { sessionId: string }).sessionId)).size).toBe(10);
    });
  }, 60_000);
});
