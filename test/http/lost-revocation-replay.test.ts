/**
 * Red team (#22, rt-lost): the bound on revocations of sessions the store lost is "once per
 * session, at most 16 sessions per user a revocation lifetime". It counted calls, not sessions:
 * one refresh token of a lost session, revoked 17 times (by its user, or by whoever stole it),
 * spent the user's whole budget, and the user's other lost sessions could then not be revoked (429).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Baton, BatonStore } from 'baton-auth';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import { eventually } from '../support/eventually.ts';
import { instancesOnOwnRedis, ISSUER, lenaHandler, lenaLogin } from '../support/lost-redis.ts';
import type { RedisServer } from '../support/redis-servers.ts';

const env = instancesOnOwnRedis(1);
let redis: RedisServer;
let a: Baton;
let store: BatonStore;
beforeAll(() => {
  [redis, [a], [store]] = [env.redis, env.batons as [Baton], env.stores as [BatonStore]];
});
const handler = () => lenaHandler(a);
const login = () => lenaLogin(a);
const revoke = async (token: string) =>
  (
    await handler()(
      new Request(`${ISSUER}/oauth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, client_id: 'default' }),
      }),
      { ip: '198.51.100.7' },
    )
  ).status;
const refused = (token: string) =>
  a.verify(token).then(
    () => false,
    () => true,
  );

/** A login through the handler with a DPoP proof (following one use_dpop_nonce answer): a bound session, and its key. */
const boundLogin = async () => {
  const key = await dpopKey();
  const send = async (nonce?: string) =>
    handler()(
      new Request(`${ISSUER}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', dpop: await dpopProof(key, 'POST', `${ISSUER}/auth/login`, nonce === undefined ? {} : { nonce }) },
        body: JSON.stringify({ username: 'lena', password: 'lena password 1' }),
      }),
      { ip: '203.0.113.4' },
    );
  let res = await send();
  if (res.status === 400 && res.headers.get('dpop-nonce') !== null) res = await send(res.headers.get('dpop-nonce') as string);
  expect(res.status).toBe(200);
  return { key, pair: (await res.json()) as { access_token: string; refresh_token: string; token_type: string } };
};

/** `/oauth/revoke` of `token` with a proof of `key` (following one use_dpop_nonce answer). */
const revokeWithProof = async (token: string, key: Awaited<ReturnType<typeof dpopKey>>) => {
  const send = async (nonce?: string) =>
    handler()(
      new Request(`${ISSUER}/oauth/revoke`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          dpop: await dpopProof(key, 'POST', `${ISSUER}/oauth/revoke`, nonce === undefined ? {} : { nonce }),
        },
        body: new URLSearchParams({ token, client_id: 'default' }),
      }),
      { ip: '198.51.100.7' },
    );
  let res = await send();
  if (res.status === 400 && res.headers.get('dpop-nonce') !== null) res = await send(res.headers.get('dpop-nonce') as string);
  return res.status;
};

describe('a DPoP-bound session the store lost', () => {
  // A bound refresh token's MAC covers its key's thumbprint: with the session in the store (its
  // jkt), it is checked without a proof; once the store lost the session, only a proof of the key
  // tells a genuine token from a forged one. Without one, nothing is revoked and the answer is RFC
  // 7009 §2.2's 200, as for any token it cannot vouch for (a known limit in SECURITY.md). The SDK's
  // logout sends a proof.
  it('its refresh token revoked with a proof of its key: 200, and its access tokens are refused afterwards; without a proof nothing is revoked', async () => {
    const { key, pair } = await boundLogin();
    expect(pair.token_type).toBe('DPoP');
    await redis.kill();
    await redis.restart();
    await eventually(
      () =>
        store.ping().then(
          () => true,
          () => false,
        ),
      { what: 'the store back', timeoutMs: 10_000 },
    );
    expect(await revoke(pair.refresh_token)).toBe(200);
    // Introspection needs no proof of a bound token (its resource server's check does).
    expect((await a.introspect(pair.access_token)).active).toBe(true); // no proof: nothing revoked
    expect(await revokeWithProof(pair.refresh_token, key)).toBe(200);
    expect((await a.introspect(pair.access_token)).active).toBe(false);
  }, 40_000);
});

describe('revocations of lost sessions, replayed', () => {
  it('one lost session revoked again and again counts once: the user can still revoke another lost session', async () => {
    const stolen = await login();
    const other = await login();
    await redis.kill();
    await redis.restart(); // empty
    await eventually(
      () =>
        store.ping().then(
          () => true,
          () => false,
        ),
      { what: 'the store back', timeoutMs: 10_000 },
    );
    const replays: number[] = [];
    for (let i = 0; i < 20; i++) replays.push(await revoke(stolen.refresh_token));
    expect(replays).toEqual(Array<number>(20).fill(200));
    expect(await refused(stolen.access_token)).toBe(true);
    expect(await revoke(other.refresh_token)).toBe(200);
    expect(await refused(other.access_token)).toBe(true);
  }, 40_000);

  it('replayed all at once, it still counts once: each answer is 200 or 429 (never a 200 before the revocation), and the budget is left', async () => {
    const stolen = await login();
    const others = [await login(), await login()];
    await redis.kill();
    await redis.restart();
    await eventually(
      () =>
        store.ping().then(
          () => true,
          () => false,
        ),
      { what: 'the store back', timeoutMs: 10_000 },
    );
    const burst = await Promise.all(Array.from({ length: 20 }, () => revoke(stolen.refresh_token)));
    expect(burst.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(burst).toContain(200);
    expect(await refused(stolen.access_token)).toBe(true);
    for (const other of others) {
      expect(await revoke(other.refresh_token)).toBe(200);
      expect(await refused(other.access_token)).toBe(true);
    }
  }, 40_000);
});
