/**
 * #22: a logout whose session the store no longer has (a Redis restarted without persistence)
 * answered 200 while the access token kept working. Now what the token names is revoked in the
 * revocation log, so every instance refuses it, or the caller is told (not 200).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Baton, BatonStore } from 'baton-auth';
import { eventually } from '../support/eventually.ts';
import { instancesOnOwnRedis, ISSUER, lenaHandler, lenaLogin } from '../support/lost-redis.ts';
import type { RedisServer } from '../support/redis-servers.ts';

const env = instancesOnOwnRedis(2);
let redis: RedisServer;
let a: Baton;
let b: Baton;
let storeA: BatonStore;
beforeAll(() => {
  [redis, [a, b], [storeA]] = [env.redis, env.batons as [Baton, Baton], env.stores as [BatonStore]];
});
const handlerOf = lenaHandler;
const login = lenaLogin;
/** Whether `baton` refuses the access token (on any ground). */
const refused = (baton: Baton, token: string) =>
  baton.verify(token).then(
    () => false,
    () => true,
  );

describe('a logout after the store lost the session', () => {
  it('POST /auth/logout: the access token is refused afterwards on every instance, or the logout is not 200', async () => {
    const pair = await login(a);
    expect(await refused(b, pair.access_token)).toBe(false);
    await redis.kill();
    await redis.restart(); // empty
    // The connections come back on their own (a command may fail while they do).
    await eventually(
      () =>
        storeA.ping().then(
          () => true,
          () => false,
        ),
      { what: 'the store back', timeoutMs: 10_000 },
    );
    const res = await handlerOf(a)(new Request(`${ISSUER}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${pair.access_token}` } }), {
      ip: '203.0.113.4',
    });
    if (res.status === 200) {
      expect(await refused(a, pair.access_token)).toBe(true);
      await eventually(() => refused(b, pair.access_token), { what: 'the other instance to refuse the token', timeoutMs: 5000 });
    } else {
      expect(res.status).toBe(503);
    }
  }, 40_000);

  it('POST /oauth/revoke with the refresh token: its access tokens are refused afterwards; a forged one is still 200 and revokes nothing (RFC 7009 §2.2)', async () => {
    const pair = await login(a);
    await redis.kill();
    await redis.restart();
    await eventually(
      () =>
        storeA.ping().then(
          () => true,
          () => false,
        ),
      { what: 'the store back', timeoutMs: 10_000 },
    );
    const revoke = (token: string) =>
      handlerOf(a)(
        new Request(`${ISSUER}/oauth/revoke`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token, client_id: 'default' }),
        }),
        { ip: '203.0.113.4' },
      );
    const forged = `${pair.refresh_token.slice(0, -4)}AAAA`;
    expect((await revoke(forged)).status).toBe(200);
    expect(await refused(b, pair.access_token)).toBe(false); // a forged token names nothing
    const res = await revoke(pair.refresh_token);
    expect(res.status).toBe(200);
    await eventually(() => refused(b, pair.access_token), { what: 'the other instance to refuse the token', timeoutMs: 5000 });
  }, 40_000);

  it('is bounded: stale tokens of many lost sessions of one user log at most 16 events a revocation lifetime, then 429 (never a 200 that revoked nothing)', async () => {
    const pairs = [];
    for (let i = 0; i < 18; i++) pairs.push(await login(a));
    await redis.kill();
    await redis.restart();
    await eventually(
      () =>
        storeA.ping().then(
          () => true,
          () => false,
        ),
      { what: 'the store back', timeoutMs: 10_000 },
    );
    const statuses: number[] = [];
    for (const pair of pairs) {
      const res = await handlerOf(a)(
        new Request(`${ISSUER}/oauth/revoke`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: pair.refresh_token, client_id: 'default' }),
        }),
        { ip: '203.0.113.4' },
      );
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array<number>(16).fill(200), 429, 429]);
    expect(await refused(a, pairs[15]!.access_token)).toBe(true);
    expect(await refused(a, pairs[16]!.access_token)).toBe(false); // told (429), not revoked
  }, 60_000);
});
