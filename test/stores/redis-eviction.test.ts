/**
 * Red team (#22, rt-lost): the start-up warning named `allkeys-*` eviction and recommended
 * "noeviction (or volatile-*)". But every security record Baton keeps in Redis has a TTL —
 * sessions, the revocation log, the one-time ledger, login counters — so `volatile-*` evicts
 * exactly those under memory pressure, while the install record (no TTL) stays and no loss is
 * noticed: an instance started afterwards accepted a logged-out token
 * (redteam/lost/volatile-eviction.ts). Any policy but noeviction is warned about.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisStore } from 'baton-auth/stores/redis';
import { startRedis } from '../support/redis-servers.ts';
import type { RedisServer } from '../support/redis-servers.ts';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis(['--appendonly', 'yes', '--maxmemory', '64mb', '--maxmemory-policy', 'volatile-lru']);
}, 30_000);
afterAll(async () => {
  await redis?.stop();
});

describe('the start-up warning on Redis eviction', () => {
  it('names volatile-* eviction: it drops sessions, revocations and one-time records', async () => {
    const store = redisStore({ url: `redis://127.0.0.1:${redis.port}` });
    try {
      expect(await (store as { persistenceWarning?: () => Promise<string | undefined> }).persistenceWarning?.()).toMatch(
        /maxmemory-policy volatile-lru.*revocation.*noeviction/,
      );
    } finally {
      await store.close();
    }
  });
});
