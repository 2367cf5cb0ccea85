/**
 * Beside a Redis that holds someone else's data (127.0.0.1:6379, where another engineer's or
 * another run's data may live), Baton's Redis store touches only the keys under its prefix: the
 * store conformance suite runs against that Redis, and every key of "someone else" — written by
 * this test first, under a prefix of its own, in databases 0 and 5 — is there afterwards, with
 * its value and its time to live. Then the test deletes its own keys, and only those (no FLUSH).
 *
 * Where nothing answers at 6379, a Redis of this test's own stands in for the shared one.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisStore } from 'baton-auth/stores/redis';
import { runStoreConformance } from 'baton-auth/stores/testing';
import { startRedis } from '../support/redis-servers.ts';
import type { RedisServer } from '../support/redis-servers.ts';

const SHARED = 'redis://127.0.0.1:6379';
const run = randomBytes(4).toString('hex');
const foreign = `someone-else-${run}:`; // "someone else": data this test did not let Baton write
const ours = `baton-shared-${run}:`; // the store's keys in this test
const DATABASES = [0, 5]; // 5: where the suite once flushed whatever answered at 6379

let url = SHARED;
let standIn: RedisServer | undefined;
const clients = new Map<number, Redis>();

/** Whether a Redis answers at `target` within a second. */
async function answers(target: string): Promise<boolean> {
  const probe = new Redis(target, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Deletes the keys under `prefix` in one database, by SCAN (never KEYS on a shared server). */
async function deleteOwn(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** What someone else keeps: a string, a hash, a list and a key with a time to live, per database. */
const theirs = (db: number) => ({
  string: `value in db ${db}`,
  hash: { owner: 'someone else', db: String(db) },
  list: ['a', 'b', 'c'],
  expiring: 'kept for an hour',
});

beforeAll(async () => {
  if (!(await answers(SHARED))) {
    standIn = await startRedis();
    url = standIn.url;
  }
  for (const db of DATABASES) {
    const redis = new Redis(`${url}/${db}`);
    clients.set(db, redis);
    const data = theirs(db);
    await redis.set(`${foreign}string`, data.string);
    await redis.hset(`${foreign}hash`, data.hash);
    await redis.rpush(`${foreign}list`, ...data.list);
    await redis.set(`${foreign}expiring`, data.expiring, 'PX', 3_600_000);
  }
}, 60_000);

afterAll(async () => {
  for (const redis of clients.values()) {
    await deleteOwn(redis, foreign);
    await deleteOwn(redis, ours);
    redis.disconnect();
  }
  await standIn?.stop();
});

describe("Baton's Redis store beside someone else's data", () => {
  runStoreConformance(
    { describe, it },
    {
      name: 'redis shared with someone else',
      createStore: () => redisStore({ url, keyPrefix: ours }),
      createPeer: () => redisStore({ url, keyPrefix: ours }),
      numRuns: 10,
      capabilities: { revocationHead: true, subscribed: true },
    },
  );

  it('left every key of someone else as it was, in every database', async () => {
    for (const db of DATABASES) {
      const redis = clients.get(db) as Redis;
      const data = theirs(db);
      expect(await redis.get(`${foreign}string`)).toBe(data.string);
      expect(await redis.hgetall(`${foreign}hash`)).toEqual(data.hash);
      expect(await redis.lrange(`${foreign}list`, 0, -1)).toEqual(data.list);
      expect(await redis.get(`${foreign}expiring`)).toBe(data.expiring);
      expect(await redis.pttl(`${foreign}expiring`)).toBeGreaterThan(3_000_000);
    }
    // The store wrote under its prefix only, and in database 0 only.
    expect((await (clients.get(0) as Redis).scan('0', 'MATCH', `${ours}*`, 'COUNT', 100_000))[1].length).toBeGreaterThan(0);
    expect((await (clients.get(5) as Redis).scan('0', 'MATCH', `${ours}*`, 'COUNT', 100_000))[1]).toEqual([]);
  });
});
