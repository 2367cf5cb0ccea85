/**
 * Attempts (classes 1, 5): a real service on its own Redis (password in BATON_STORE) loses the
 * store (SIGKILL + empty restart). Expected: 2,000 unauthenticated /readyz in 2 s cost at most ~3
 * install-record reads (HGET) a second; /readyz names no host, port, user or password, lost or
 * down; `store.lost` logged once; every endpoint but metadata/JWKS 503 + Retry-After; a refused
 * request writes nothing into the empty store; after a restore, ready again with `store.restored`.
 * Run: npx node --conditions=baton-source redteam/lost/readyz-loss.ts
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { initStore, loadConfig, startServer, users } from 'baton-auth-server';
import { eventually } from '../../test/support/eventually.ts';
import { startRedis } from '../../test/support/redis-servers.ts';

const PASS = 'rt-lost-redis-password-xyz';
process.env.REDISCLI_AUTH = PASS; // redis-cli's ping in startRedis
const redis = await startRedis(6483, ['--requirepass', PASS]);
const url = `redis://:${PASS}@127.0.0.1:6483`;
const raw = new Redis({ port: 6483, host: '127.0.0.1', password: PASS, maxRetriesPerRequest: 1 });
raw.on('error', () => undefined);
const lines: string[] = [];
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
  const s = chunk.toString();
  if (s.startsWith('{"level"')) {
    lines.push(...s.split('\n').filter(Boolean));
    return true;
  }
  return write(chunk, ...rest);
}) as typeof process.stdout.write;
const env = { PORT: '0', BATON_STORE: url, BATON_SECRET: randomBytes(32).toString('base64url'), BATON_LOG_LEVEL: 'info' };
await initStore(loadConfig(env));
const s = await startServer(loadConfig(env));
await users.add(s.service.store, 'alice', 'alice password 1');
const get = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${s.url}${path}`, init);
  return { status: res.status, retry: res.headers.get('retry-after'), body: await res.text() };
};
const hgets = async () => Number(/cmdstat_hget:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
const leak = (body: string) => [PASS, '6483', '127.0.0.1', 'redis://'].filter((x) => body.includes(x));

console.info('ready:', (await get('/readyz')).body);
const login = await get('/auth/login', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'alice', password: 'alice password 1' }),
});
const pair = JSON.parse(login.body) as { access_token: string; refresh_token: string };
const h0 = await hgets();
const t0 = performance.now();
const statuses = new Map<number, number>();
await Promise.all(
  Array.from({ length: 8 }, async () => {
    for (let i = 0; i < 250; i++) {
      const r = await get('/readyz');
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  }),
);
const secs = (performance.now() - t0) / 1000;
console.info(
  `2000 /readyz in ${secs.toFixed(1)} s: statuses ${JSON.stringify([...statuses])}, HGET calls ${(await hgets()) - h0} (${(((await hgets()) - h0) / secs).toFixed(1)}/s)`,
);

const dump = await Promise.all((await raw.keys('*')).map(async (k) => [k, await raw.dumpBuffer(k)] as const));
await redis.kill();
const down = await get('/readyz');
console.info('down readyz:', down.status, down.retry, down.body, 'leaks:', leak(down.body));
await redis.restart();
await eventually(async () => (await get('/readyz')).body.includes('lost its data'), { what: 'lost', timeoutMs: 15_000 });
const lost = await get('/readyz');
console.info('lost readyz:', lost.status, lost.retry, lost.body, 'leaks:', leak(lost.body));
for (const [path, init] of [
  ['/.well-known/openid-configuration', {}],
  ['/.well-known/jwks.json', {}],
  ['/.well-known/oauth-authorization-server', {}],
  ['/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"alice","password":"alice password 1"}' }],
  [
    '/oauth/token',
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&refresh_token=${pair.refresh_token}&client_id=default`,
    },
  ],
  [
    '/oauth/revoke',
    { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${pair.refresh_token}&client_id=default` },
  ],
  ['/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${pair.access_token}` } }],
  ['/auth/sessions', { headers: { authorization: `Bearer ${pair.access_token}` } }],
  ['/nope/.well-known/x', { method: 'POST' }],
  ['/auth/.well-known/../login', { method: 'POST' }],
] as [string, RequestInit][]) {
  const r = await get(path, init);
  console.info(`  ${init.method ?? 'GET'} ${path}: ${r.status} retry-after=${r.retry}`);
}
console.info('keys in the empty store after the requests:', await raw.keys('*'));
await new Promise((r) => setTimeout(r, 6000));
console.info(
  'store.lost lines:',
  lines.filter((l) => l.includes('"store.lost"')).length,
  'lines with the password:',
  lines.filter((l) => l.includes(PASS)).length,
);
console.info(lines.find((l) => l.includes('"store.lost"')));
for (const [k, v] of dump) await raw.restore(k, 0, v, 'REPLACE');
await eventually(async () => (await get('/readyz')).status === 200, { what: 'restored', timeoutMs: 15_000 });
console.info('after restore:', (await get('/readyz')).body, 'restored lines:', lines.filter((l) => l.includes('"store.restored"')).length);
await s.stop();
raw.disconnect();
await redis.stop();
process.exit(0);
