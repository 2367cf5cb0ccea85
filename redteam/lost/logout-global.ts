/**
 * Attempt: "log out everywhere" (POST /auth/logout scope=global) after the store lost the
 * user's sessions (in the service: within the ≤5 s before the install watch notices; with the
 * library and no watch: always). Expected, ideally: every session of the user ends, or not a
 * 200. Run: npx node --conditions=baton-source redteam/lost/logout-global.ts
 */
import { randomBytes } from 'node:crypto';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { redisStore } from 'baton-auth/stores/redis';
import { eventually } from '../../test/support/eventually.ts';
import { startRedis } from '../../test/support/redis-servers.ts';

const ISSUER = 'https://auth.test';
const redis = await startRedis(6485);
const store = redisStore({ url: 'redis://127.0.0.1:6485' });
const a = createBaton({ issuer: ISSUER, keys: [generateKey('EdDSA', 'ed')], refreshTokenSecret: randomBytes(32), store });
await a.ready();
const handler = createAuthHandler({
  baton: a,
  authenticate: async (u, p) => (u === 'lena' && p === 'lena password 1' ? { userId: 'usr-lena' } : null),
  clients: staticClients([{ id: 'default' }]),
});
const login = async () =>
  (await (
    await handler(
      new Request(`${ISSUER}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"username":"lena","password":"lena password 1"}',
      }),
      { ip: '203.0.113.4' },
    )
  ).json()) as { access_token: string };
const [laptop, phone, stolen] = [await login(), await login(), await login()];
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
const res = await handler(
  new Request(`${ISSUER}/auth/logout`, {
    method: 'POST',
    headers: { authorization: `Bearer ${laptop.access_token}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'scope=global',
  }),
  { ip: '203.0.113.4' },
);
console.info('logout scope=global:', res.status, await res.text());
for (const [name, t] of [
  ['laptop', laptop],
  ['phone', phone],
  ['stolen', stolen],
] as const) {
  console.info(
    `  ${name}'s access token afterwards:`,
    await a.verify(t.access_token).then(
      () => 'still accepted',
      () => 'refused',
    ),
  );
}
await a.close();
await redis.stop();
process.exit(0);
