/**
 * What the tests of a Redis that lost its data share: instances of one issuer on a Redis server
 * the test file starts (without persistence, so a restart forgets everything), and the user lena
 * signing in through the HTTP handler.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton, BatonStore } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { redisStore } from 'baton-auth/stores/redis';
import { startRedis } from './redis-servers.ts';
import type { RedisServer } from './redis-servers.ts';

export const ISSUER = 'https://auth.test';

/** `count` instances, each with a store of its own on one Redis server; filled in `beforeAll`, closed in `afterAll`. */
export function instancesOnOwnRedis(count: number): { redis: RedisServer; batons: Baton[]; stores: BatonStore[] } {
  const keys = [generateKey('EdDSA', 'ed')];
  const refreshTokenSecret = randomBytes(32);
  const it = { batons: [], stores: [] } as unknown as { redis: RedisServer; batons: Baton[]; stores: BatonStore[] };
  beforeAll(async () => {
    it.redis = await startRedis();
    for (let i = 0; i < count; i++) {
      const store = redisStore({ url: `redis://127.0.0.1:${it.redis.port}` });
      it.stores.push(store);
      it.batons.push(createBaton({ issuer: ISSUER, keys, refreshTokenSecret, store }));
    }
    await Promise.all(it.batons.map((b) => b.ready()));
  }, 30_000);
  afterAll(async () => {
    for (const b of it.batons) await b.close();
    await it.redis?.stop();
  });
  return it;
}

/** The handler of `baton` with one user (lena) and the public client `default`. */
export const lenaHandler = (baton: Baton) =>
  createAuthHandler({
    baton,
    authenticate: async (u, p) => (u === 'lena' && p === 'lena password 1' ? { userId: 'usr-lena' } : null),
    clients: staticClients([{ id: 'default' }]),
  });

/** lena signs in through `baton`'s handler (200 expected). */
export async function lenaLogin(baton: Baton): Promise<{ access_token: string; refresh_token: string; session_id: string }> {
  const res = await lenaHandler(baton)(
    new Request(`${ISSUER}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'lena', password: 'lena password 1' }),
    }),
    { ip: '203.0.113.4' },
  );
  expect(res.status).toBe(200);
  return (await res.json()) as { access_token: string; refresh_token: string; session_id: string };
}
