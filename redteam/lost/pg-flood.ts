/**
 * Attempt (class 1, the breaker): can one ordinary caller trip "the store is down" for everyone by
 * flooding endpoints that read PostgreSQL (its pool has 10 connections; a call queued behind a
 * long backlog waits)? Expected: under a flood every answer is 200 or 429, never 503, and another
 * user's login succeeds. Run: npx node --conditions=baton-source redteam/lost/pg-flood.ts [connections] [seconds]
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { loadConfig, startServer, users } from 'baton-auth-server';

const [conns, secs] = [Number(process.argv[2] ?? 200), Number(process.argv[3] ?? 10)];
const db = `rt_lost_flood_${process.pid}`;
const admin = postgres('postgres://postgres@127.0.0.1:5432/postgres', { onnotice: () => undefined });
await admin.unsafe(`CREATE DATABASE ${db}`);
const s = await startServer(
  loadConfig({
    PORT: '0',
    BATON_STORE: `postgres://postgres@127.0.0.1:5432/${db}`,
    BATON_SECRET: randomBytes(32).toString('base64url'),
    BATON_LOG_LEVEL: 'silent',
  }),
);
await users.add(s.service.store, 'mallory', 'mallory password 1');
await users.add(s.service.store, 'paula', 'paula password 1');
const login = async (u: string) =>
  fetch(`${s.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: u, password: `${u} password 1` }),
  });
const { access_token: token } = (await (await login('mallory')).json()) as { access_token: string };
const statuses = new Map<number | string, number>();
const end = performance.now() + secs * 1000;
let slowest = 0;
const flood = Promise.all(
  Array.from({ length: conns }, async () => {
    while (performance.now() < end) {
      const t = performance.now();
      const status = await fetch(`${s.url}/auth/sessions`, { headers: { authorization: `Bearer ${token}` } }).then(
        async (r) => (await r.arrayBuffer(), r.status),
        (e: Error) => e.name,
      );
      slowest = Math.max(slowest, performance.now() - t);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  }),
);
await new Promise((r) => setTimeout(r, (secs * 1000) / 2));
const t = performance.now();
const other = await login('paula');
console.info(`another user's login mid-flood: ${other.status} after ${Math.round(performance.now() - t)} ms`);
await flood;
console.info(`${conns} connections for ${secs} s: ${JSON.stringify([...statuses])}, slowest ${Math.round(slowest)} ms`);
await s.stop();
await admin.unsafe(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
await admin.end();
process.exit(0);
