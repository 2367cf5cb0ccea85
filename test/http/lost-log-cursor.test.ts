/**
 * Red team (#22, rt-lost), an attempt that held: a logout answered 200 must stop the token on every instance, also when
 * the store lost the session (its revocation is then logged anew). But a Redis that lost its data
 * lost its revocation log too, and the log's cursor starts again at 1, while every instance's
 * cursor (the last `seq` it read) stays where the old log was: an instance whose subscriber was
 * reconnecting when the revocation was published re-reads "after" its old cursor and never sees it.
 * Held on main: the log's cursor is never below Redis's clock in µs (#21 round 3), so a new log's
 * first event is past every cursor the old one handed out. Kept as a regression test.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Baton, BatonStore } from 'baton-auth';
import { eventually } from '../support/eventually.ts';
import { instancesOnOwnRedis, ISSUER, lenaHandler, lenaLogin } from '../support/lost-redis.ts';
import type { RedisServer } from '../support/redis-servers.ts';

const env = instancesOnOwnRedis(2);
let redis: RedisServer;
let raw: Redis;
let a: Baton;
let b: Baton;
let storeA: BatonStore;
beforeAll(() => {
  [redis, [a, b], [storeA]] = [env.redis, env.batons as [Baton, Baton], env.stores as [BatonStore]];
  raw = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  raw.on('error', () => undefined);
});
afterAll(() => raw?.disconnect());
const handlerOf = lenaHandler;
const login = lenaLogin;
const logout = (baton: Baton, token: string) =>
  handlerOf(baton)(new Request(`${ISSUER}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } }), { ip: '203.0.113.4' });
const refused = (baton: Baton, token: string) =>
  baton.verify(token).then(
    () => false,
    () => true,
  );

describe('the revocation log after the store lost its data', () => {
  it('a logout of a lost session reaches an instance whose subscriber was reconnecting, although the old log had events', async () => {
    // The old log has events: the instances' cursors are past 1.
    for (let i = 0; i < 3; i++) {
      const old = await login(a);
      expect((await logout(a, old.access_token)).status).toBe(200);
      await eventually(() => refused(b, old.access_token), { what: 'b to see the old logout', timeoutMs: 5000 });
    }
    const pair = await login(a);
    await redis.kill();
    await redis.restart(); // empty, its log's cursor back at 0
    await eventually(
      () =>
        storeA.ping().then(
          () => true,
          () => false,
        ),
      { what: 'the store back', timeoutMs: 10_000 },
    );
    await eventually(
      () =>
        b.ready().then(
          () => true,
          () => false,
        ),
      { what: 'b back', timeoutMs: 10_000 },
    );
    // The subscribers drop, and come back only after the logout is published (their reconnection
    // refused meanwhile, as when theirs lags behind the other connection's after a restart).
    await raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    const connected = String(await raw.client('LIST'))
      .trim()
      .split('\n').length;
    await raw.config('SET', 'maxclients', String(connected));
    try {
      expect((await logout(a, pair.access_token)).status).toBe(200);
      // No subscriber was there to hear it: b learns of it from the log alone.
      expect(
        String(await raw.call('CLIENT', 'LIST'))
          .split('\n')
          .filter((l) => / sub=[1-9]/.test(l)),
      ).toEqual([]);
    } finally {
      await raw.config('SET', 'maxclients', '10000');
    }
    await eventually(() => refused(b, pair.access_token), { what: 'the other instance to refuse the token', timeoutMs: 5000 });
  }, 40_000);
});
