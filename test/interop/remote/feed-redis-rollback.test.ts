/**
 * #21 round 3, B2: a Redis that loses only its last writes (a restart from RDB, an AOF `everysec`
 * crash, a failover to a lagging replica) comes back with its `:seq` counter behind cursors it
 * handed out. Simulated by DUMP/RESTORE of this test's own log keys; the revocations written after
 * the loss must still reach a follower that already passed the lost ones.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { redisStore } from 'baton-auth/stores/redis';
import { followFeed } from '../../../packages/baton-auth/src/remote/feed.ts';
import { eventually } from '../../support/eventually.ts';
import { startRedis } from '../../support/redis-servers.ts';
import type { RedisServer } from '../../support/redis-servers.ts';

let REDIS_URL = '';
let redis: RedisServer | undefined;
let raw: Redis;
const PREFIX = `baton-test-rollback-${randomBytes(4).toString('hex')}:`;
const SECRET = 'resource-server-secret-of-32-characters';
beforeAll(async () => {
  redis = await startRedis(); // this file's own
  REDIS_URL = redis.url;
  raw = new Redis(REDIS_URL);
}, 60_000);
afterAll(async () => {
  raw?.disconnect();
  await redis?.stop();
});

describe('revocation feed over a Redis that lost its last writes (B2)', () => {
  it("a cursor above the log's head (handed out before the loss) is unknown: the answer is the whole backlog in force", async () => {
    const keyPrefix = `${PREFIX}head:`;
    const store = redisStore({ url: REDIS_URL, keyPrefix });
    const baton = createBaton({ issuer: 'https://auth.test', keys: [generateKey('EdDSA', 'ed')], refreshTokenSecret: randomBytes(32), store });
    const handler = createAuthHandler({ baton, authenticate: async () => null, clients: staticClients([{ id: 'rs', secret: SECRET, introspect: true }]) });
    const get = async (query: string) =>
      (await (
        await handler(
          new Request(`https://auth.test/oauth/revocations${query}`, { headers: { authorization: `Basic ${Buffer.from(`rs:${SECRET}`).toString('base64')}` } }),
          { ip: '127.0.0.1' },
        )
      ).json()) as { events: { id: string }[]; cursor: number };
    const announce = (id: string) => store.announce({ kind: 'session', id, at: Date.now(), expiresAt: Date.now() + 900_000, reason: 'revoked' });
    try {
      await announce('kept');
      const log = `${keyPrefix}{revocations}:log`;
      const keys = [log, `${log}:order`, `${log}:seq`];
      const snapshot = await Promise.all(keys.map((k) => raw.dumpBuffer(k)));
      const ttls = await Promise.all(keys.map((k) => raw.pttl(k)));
      await announce('lost');
      const { cursor } = await get('?after=0');
      for (const [i, key] of keys.entries()) {
        await raw.del(key);
        const dump = snapshot[i];
        if (dump) await raw.restore(key, Math.max(1, ttls[i] as number), dump);
      }
      // The follower's cursor is past everything the log now holds: before, an empty answer (it waited for nothing).
      const answer = await get(`?after=${cursor}`);
      expect(answer.events.map((e) => e.id)).toEqual(['kept']);
    } finally {
      await store.close();
    }
  });

  it('a follower past the lost events still gets every revocation written after the loss', async () => {
    const store = redisStore({ url: REDIS_URL, keyPrefix: PREFIX });
    const baton = createBaton({ issuer: 'https://auth.test', keys: [generateKey('EdDSA', 'ed')], refreshTokenSecret: randomBytes(32), store });
    const handler = createAuthHandler({ baton, authenticate: async () => null, clients: staticClients([{ id: 'rs', secret: SECRET, introspect: true }]) });
    const got = new Set<string>();
    const follower = followFeed({
      url: 'https://auth.test/oauth/revocations',
      authorization: `Basic ${Buffer.from(`rs:${SECRET}`).toString('base64')}`,
      backoffMs: () => 50,
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) =>
        handler(new Request(String(input), { headers: init?.headers ?? {}, signal: init?.signal ?? null }), { ip: '127.0.0.1' })) as typeof fetch,
      onEvent: (e) => got.add(e.id),
    });
    const announce = (id: string) => store.announce({ kind: 'session', id, at: Date.now(), expiresAt: Date.now() + 900_000, reason: 'revoked' });
    try {
      await announce('before-snapshot');
      await eventually(() => got.has('before-snapshot'), { what: 'the first event' });
      const log = `${PREFIX}{revocations}:log`;
      const keys = [log, `${log}:order`, `${log}:seq`];
      const snapshot = await Promise.all(keys.map((k) => raw.dumpBuffer(k)));
      const ttls = await Promise.all(keys.map((k) => raw.pttl(k)));
      for (let i = 0; i < 5; i++) await announce(`lost-${i}`); // after the last save / not yet replicated
      await eventually(() => got.has('lost-4'), { what: 'the events about to be lost' });
      const cursorBefore = Number(await raw.get(`${log}:seq`));
      // The loss: Redis comes back with the snapshot.
      for (const [i, key] of keys.entries()) {
        await raw.del(key);
        const dump = snapshot[i];
        if (dump) await raw.restore(key, Math.max(1, ttls[i] as number), dump);
      }
      for (let i = 0; i < 3; i++) await announce(`after-${i}`);
      // Every event written after the loss has a seq past every cursor handed out before it.
      const after = await baton.revocationsAfter(cursorBefore, 100);
      expect(after.map((e) => e.id)).toEqual(['after-0', 'after-1', 'after-2']);
      await eventually(() => got.has('after-2'), { what: 'the follower to get the events written after the loss', timeoutMs: 3000 });
      expect(['after-0', 'after-1', 'after-2'].filter((id) => !got.has(id))).toEqual([]);
    } finally {
      follower.close();
      await store.close();
    }
  });
});
