/**
 * Attempt (class 2, security state pushed out): Redis with `maxmemory-policy volatile-lru`, which
 * the start-up warning recommended ("noeviction (or volatile-*)"). Every security record Baton
 * keeps in Redis has a TTL — sessions, the revocation log, the one-time ledger — so volatile-*
 * evicts exactly those, and the install record (no TTL) stays: no loss is noticed. Pressure from
 * keys with a TTL (other users' sessions and counters do that). Expected: a revoked access token
 * stays refused by an instance that starts afterwards.
 * Run: npx node --conditions=baton-source redteam/lost/volatile-eviction.ts
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { redisStore } from 'baton-auth/stores/redis';
import { startRedis } from '../../test/support/redis-servers.ts';

const redis = await startRedis(6485, ['--maxmemory', '4mb', '--maxmemory-policy', 'volatile-lru', '--appendonly', 'yes']);
const raw = new Redis({ port: 6485, host: '127.0.0.1' });
const options = { issuer: 'https://auth.test', keys: [generateKey('EdDSA', 'ed')], refreshTokenSecret: randomBytes(32) };
const storeA = redisStore({ url: 'redis://127.0.0.1:6485' });
console.info('start-up warning:', (await (storeA as { persistenceWarning?: () => Promise<string | undefined> }).persistenceWarning?.()) ?? '(none)');
const a = createBaton({ ...options, store: storeA });
await a.ready();
const handler = createAuthHandler({
  baton: a,
  authenticate: async (u, p) => (u === 'lena' && p === 'lena password 1' ? { userId: 'usr-lena' } : null),
  clients: staticClients([{ id: 'default' }]),
});
const login = await handler(
  new Request('https://auth.test/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"username":"lena","password":"lena password 1"}',
  }),
  { ip: '203.0.113.4' },
);
const pair = { accessToken: ((await login.json()) as { access_token: string }).access_token };
const logout = await handler(new Request('https://auth.test/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${pair.accessToken}` } }), {
  ip: '203.0.113.4',
});
console.info(
  'logout:',
  logout.status,
  await logout.text(),
  '; a refuses the token:',
  await a.verify(pair.accessToken).then(
    () => false,
    () => true,
  ),
);
const logKeys = async () => (await raw.keys('*')).filter((k) => !k.startsWith('other:'));
console.info('keys before pressure:', await logKeys());
for (let i = 0; i < 6000; i++) await raw.set(`other:${i}`, randomBytes(1024), 'EX', 3600);
console.info('keys after pressure:', await logKeys());
const b = createBaton({ ...options, store: redisStore({ url: 'redis://127.0.0.1:6485' }) });
await b.ready();
console.info(
  'an instance started afterwards accepts the revoked token:',
  await b.verify(pair.accessToken).then(
    () => true,
    () => false,
  ),
);
await a.close();
await b.close();
raw.disconnect();
await redis.stop();
process.exit(0);
