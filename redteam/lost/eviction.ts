/**
 * Attempt (a missed loss): Redis with `maxmemory-policy allkeys-lru` (the start warns) under
 * memory pressure. Expected, ideally: a loss of users/clients/keys is noticed. The install watch
 * reads config/initialized every 5 s, which keeps that hash the most recently used key: it is the
 * last to be evicted, so the users can go while /readyz says ready. The pressure here comes from
 * another client's keys (as other tenants of a shared Redis, or many sessions, would make).
 * Run: npx node --conditions=baton-source redteam/lost/eviction.ts
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { initStore, loadConfig, startServer, users } from 'baton-auth-server';
import { startRedis } from '../../test/support/redis-servers.ts';

const redis = await startRedis(6485, ['--maxmemory', '4mb', '--maxmemory-policy', 'allkeys-lru']);
const raw = new Redis({ port: 6485, host: '127.0.0.1' });
const env = { PORT: '0', BATON_STORE: 'redis://127.0.0.1:6485', BATON_SECRET: randomBytes(32).toString('base64url'), BATON_LOG_LEVEL: 'silent' };
await initStore(loadConfig(env));
const s = await startServer(loadConfig(env));
await users.add(s.service.store, 'alice', 'alice password 1');
await new Promise((r) => setTimeout(r, 6000)); // the watch reads config/initialized (and the service its ring, clients) meanwhile
const kept = async (key: string) => (await raw.exists(key)) === 1;
// Pressure a little at a time, the service busy meanwhile (its watch, its heartbeat), until the users are gone.
for (let i = 0; i < 20_000 && (await kept('baton:{records}:users')); i++) {
  await raw.set(`other:${i}`, randomBytes(1024));
  if (i % 200 === 0) await new Promise((r) => setTimeout(r, 100));
}
console.info(
  'config (install record, ring):',
  await kept('baton:{records}:config'),
  'users:',
  await kept('baton:{records}:users'),
  'clients:',
  await kept('baton:{records}:clients'),
);
const ready = await fetch(`${s.url}/readyz`);
console.info('/readyz:', ready.status, await ready.text());
const login = await fetch(`${s.url}/auth/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: '{"username":"alice","password":"alice password 1"}',
});
console.info('login of alice:', login.status, (await login.text()).slice(0, 120));
await s.stop();
raw.disconnect();
await redis.stop();
process.exit(0);
