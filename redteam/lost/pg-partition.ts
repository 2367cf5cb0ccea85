/**
 * Attempt (fail fast, claim "a call that waits out its timeout marks the store down" for any
 * store): PostgreSQL behind a TCP proxy that stalls (a partition: nothing refused, nothing
 * answers). Expected: the first request waits a bounded time, then the rest answer 503 at once.
 * Run: npx node --conditions=baton-source redteam/lost/pg-partition.ts
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { startProxy } from '../../test/support/tcp-proxy.ts';

const db = `rt_lost_pg_${process.pid}`;
const admin = postgres('postgres://postgres@127.0.0.1:5432/postgres', { onnotice: () => undefined });
await admin.unsafe(`CREATE DATABASE ${db}`);
const proxy = await startProxy(5432);
const s = await startServer(
  loadConfig({
    PORT: '0',
    BATON_STORE: `postgres://postgres@127.0.0.1:${proxy.port}/${db}`,
    BATON_SECRET: randomBytes(32).toString('base64url'),
    BATON_LOG_LEVEL: 'silent',
  }),
);
await users.add(s.service.store, 'paula', 'paula password 1');
const login = async () => {
  const t = performance.now();
  const res = await fetch(`${s.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"username":"paula","password":"paula password 1"}',
    signal: AbortSignal.timeout(90_000),
  }).catch((err: Error) => ({ status: err.name }));
  return `${res.status} after ${Math.round(performance.now() - t)} ms`;
};
console.info('before:', await login());
proxy.stall();
const t0 = performance.now();
// 8 callers at once, each waiting up to 90 s: how long does each wait for its answer?
const answers = await Promise.all(
  Array.from({ length: 8 }, async () => {
    const res = await fetch(`${s.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"username":"paula","password":"paula password 1"}',
      signal: AbortSignal.timeout(90_000),
    }).catch((err: Error) => ({ status: err.name }));
    return `${res.status} after ${Math.round(performance.now() - t0)} ms`;
  }),
);
console.info('stalled, 8 at once:', answers);
console.info('stalled, then:', await login());
proxy.resume();
await new Promise((r) => setTimeout(r, 1000));
console.info('resumed (1 s later):', await login());
await s.stop().catch(() => undefined);
await proxy.close();
await admin.unsafe(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
await admin.end();
process.exit(0);
