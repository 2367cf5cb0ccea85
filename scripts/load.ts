/**
 * `npm run load`: a mixed workload on two service instances sharing one store — a private Redis
 * (AOF on) or a throwaway PostgreSQL database behind a loopback proxy — bounded in time, loopback
 * only, self-stopping. Each virtual client owns a session and always
 * presents its latest refresh token: API calls (most of the traffic), refreshes at expiry (5-second
 * access tokens, so expiries align into herds), logins and logouts. Options:
 *   --seconds N   duration (default 20)
 *   --clients N   virtual clients (default 40)
 *   --store redis|postgres   (default redis)
 *   --chaos       a store outage a third of the way through (Redis: SIGKILL and restart 2 s later;
 *                 PostgreSQL: the network cut for 2 s) and one instance killed at two thirds
 *   --soak        a longer run (default 300 s) that samples the memory of each instance and of the
 *                 store every 10 s, to see it stay flat
 * Reports throughput, p50/p99, errors, sessions lost (must be 0), revoked tokens accepted (must be
 * 0), and recovery time after the Redis restart.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { startInstance } from './instance.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SOAK = process.argv.includes('--soak');
const SECONDS = arg('seconds', SOAK ? 300 : 20);
const STORE_KIND = process.argv.includes('postgres') ? 'postgres' : 'redis';
const CLIENTS = arg('clients', 40);
const CHAOS = process.argv.includes('--chaos');
const REDIS_PORT = 6395;
const dir = mkdtempSync(join(tmpdir(), 'baton-load-'));

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startRedis(): ChildProcess {
  return spawn(
    'redis-server',
    [
      '--port',
      String(REDIS_PORT),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--loglevel',
      'warning',
    ],
    { stdio: 'ignore' },
  );
}

async function redisUp(): Promise<boolean> {
  try {
    const { Redis } = await import('ioredis');
    const r = new Redis(REDIS_PORT, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    await r.connect();
    const ok = (await r.ping()) === 'PONG';
    r.disconnect();
    return ok;
  } catch {
    return false;
  }
}

/** The store under load: where it is, how to take it away for a while, how much memory it holds. */
interface Backend {
  url: string;
  outage(ms: number): Promise<void>;
  memory(): Promise<number>;
  stop(): Promise<void>;
}

async function redisBackend(): Promise<Backend> {
  let server = startRedis();
  for (let i = 0; i < 50 && !(await redisUp()); i++) await wait(100);
  const { Redis } = await import('ioredis');
  return {
    url: `redis://127.0.0.1:${REDIS_PORT}`,
    async outage(ms) {
      server.kill('SIGKILL');
      await wait(ms);
      server = startRedis();
      for (let i = 0; i < 50 && !(await redisUp()); i++) await wait(100);
    },
    async memory() {
      const r = new Redis(REDIS_PORT, '127.0.0.1');
      const info = await r.info('memory').catch(() => '');
      r.disconnect();
      return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
    },
    async stop() {
      server.kill('SIGTERM');
    },
  };
}

async function postgresBackend(): Promise<Backend> {
  const { default: postgres } = await import('postgres');
  const { createConnection, createServer } = await import('node:net');
  const admin = postgres('postgres://postgres@127.0.0.1:5432/postgres', { onnotice: () => undefined });
  const db = `baton_load_${process.pid}`;
  await admin.unsafe(`DROP DATABASE IF EXISTS ${db}`);
  await admin.unsafe(`CREATE DATABASE ${db}`);
  // A loopback proxy in front of PostgreSQL: the outage is a network cut, the shared server stays up.
  const sockets = new Set<import('node:net').Socket>();
  const proxy = createServer((c) => {
    const u = createConnection({ port: 5432, host: '127.0.0.1' });
    for (const x of [c, u]) {
      sockets.add(x);
      x.on('close', () => sockets.delete(x));
      x.on('error', () => undefined);
    }
    c.pipe(u).pipe(c);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const port = (proxy.address() as { port: number }).port;
  let cut = false;
  proxy.on('connection', (c) => cut && c.destroy());
  return {
    url: `postgres://postgres@127.0.0.1:${port}/${db}`,
    async outage(ms) {
      cut = true;
      for (const x of sockets) x.destroy();
      await wait(ms);
      cut = false;
    },
    async memory() {
      const [row] = await admin`SELECT pg_database_size(${db}) AS size`;
      return Number(row?.size ?? 0);
    },
    async stop() {
      proxy.close();
      for (const x of sockets) x.destroy();
      await admin.unsafe(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await admin.end();
    },
  };
}

const backend = STORE_KIND === 'postgres' ? await postgresBackend() : await redisBackend();
const STORE = backend.url;
const ENV = {
  BATON_STORE: STORE,
  BATON_SECRET: 'load-test-service-secret-of-32-characters',
  BATON_ACCESS_TTL: '5',
  BATON_REFRESH_TTL: '1h',
  BATON_REFRESH_RATE: 'off',
  BATON_LOGIN_FAILURES: 'off',
  BATON_LOGIN_FAILURES_PER_IP: 'off',
  BATON_ISSUER: 'https://baton.load.test',
};

const { initStore, loadConfig, openStore, users } = await import('baton-auth-server');
await initStore(loadConfig(ENV)); // a new Redis is set up on purpose, once (`baton store init`)
const setup = await openStore(STORE);
await users.add(setup, 'load', 'load password 1').catch(() => undefined);
await setup.close();
const instances = [await startInstance(ENV), await startInstance(ENV)];
let alive = [...instances];

const latencies: number[] = [];
const counts = { api: 0, refresh: 0, login: 0, logout: 0, errors: 0, outageErrors: 0 };
const revokedAt = new Map<string, number>(); // sid → when our logout returned
let acceptedAfterRevoke = 0;
let sessionsLost = 0;
let outageAt = 0;
let backAt = 0;
let firstWriteAfterBack = 0;
/** Notes the first request after the outage that needed the store (login, refresh, logout). */
const wrote = (): void => {
  if (backAt > 0 && firstWriteAfterBack === 0) firstWriteAfterBack = Date.now();
};

async function call(path: string, init: RequestInit): Promise<Response | undefined> {
  const target = alive[Math.floor(Math.random() * alive.length)] as { url: string };
  const t = performance.now();
  try {
    const res = await fetch(`${target.url}${path}`, init);
    latencies.push(performance.now() - t);
    return res;
  } catch (err) {
    counts.errors++;
    if (process.env.BATON_LOAD_DEBUG && counts.errors < 5)
      console.error(`network error ${Date.now() - started} ms: ${(err as Error).message} ${String((err as { cause?: unknown }).cause)}`);
    return undefined;
  }
}

interface Session {
  access: string;
  refresh: string;
  sid: string;
  expiresAt: number;
}

async function login(): Promise<Session | undefined> {
  const res = await call('/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'load', password: 'load password 1' }),
  });
  if (res?.status !== 200) {
    if (res) counts.errors++;
    return undefined;
  }
  counts.login++;
  wrote();
  const b = (await res.json()) as { access_token: string; refresh_token: string; session_id: string; expires_in: number };
  return { access: b.access_token, refresh: b.refresh_token, sid: b.session_id, expiresAt: Date.now() + b.expires_in * 1000 };
}

const end = Date.now() + SECONDS * 1000;
async function client(): Promise<void> {
  let s: Session | undefined;
  while (Date.now() < end) {
    s ??= await login();
    if (s === undefined) {
      await wait(100);
      continue;
    }
    if (s.expiresAt - Date.now() < 1000) {
      const res = await call('/oauth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=refresh_token&refresh_token=${s.refresh}`,
      });
      if (res?.status === 200) {
        counts.refresh++;
        wrote();
        const b = (await res.json()) as { access_token: string; refresh_token: string; expires_in: number };
        s = { ...s, access: b.access_token, refresh: b.refresh_token, expiresAt: Date.now() + b.expires_in * 1000 };
      } else if (res?.status === 400) {
        sessionsLost++; // invalid_grant for a session we never revoked
        console.error(`lost session ${s.sid}: ${await res.text()}`);
        s = undefined;
      } else {
        if (res) counts.outageErrors++;
        if (res && process.env.BATON_LOAD_DEBUG && counts.outageErrors < 5)
          console.error(`refresh ${res.status} ${Date.now() - started} ms: ${await res.text()}`);
        await wait(200);
      }
      continue;
    }
    const dice = Math.random();
    if (dice < 0.0005) {
      const res = await call('/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${s.access}` } });
      if (res?.status === 200) {
        counts.logout++;
        wrote();
        revokedAt.set(s.sid, Date.now());
        const stale = s.access;
        s = undefined;
        await wait(500); // the propagation bound after a lost subscription (a 250 ms catch-up poll), then the token must be refused everywhere
        const probe = await call('/auth/me', { headers: { authorization: `Bearer ${stale}` } });
        if (probe?.status === 200) {
          acceptedAfterRevoke++;
          if (process.env.BATON_LOAD_DEBUG)
            console.error(`accepted ${Date.now() - started} ms into the run (outage at ${outageAt - started}, back at ${backAt - started})`);
        }
      }
      continue;
    }
    const res = await call('/auth/me', { headers: { authorization: `Bearer ${s.access}` } });
    if (res?.status === 200) counts.api++;
    else if (res !== undefined && res.status !== 401) counts.outageErrors++;
    await res?.arrayBuffer();
  }
}

const chaos = CHAOS
  ? (async () => {
      await wait((SECONDS * 1000) / 3);
      outageAt = Date.now();
      await backend.outage(2000);
      backAt = Date.now();
      await wait((SECONDS * 1000) / 3 - 2000);
      const victim = alive[1];
      alive = alive.slice(0, 1);
      victim?.child.kill('SIGKILL');
    })()
  : Promise.resolve();

/** Resident memory of a process, from /proc (Linux). */
async function rss(pid: number | undefined): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}
const samples: { t: number; instances: number[]; store: number }[] = [];
const sampler = SOAK
  ? (async () => {
      while (Date.now() < end) {
        samples.push({ t: Date.now(), instances: await Promise.all(instances.map((i) => rss(i.child.pid))), store: await backend.memory() });
        await wait(10_000);
      }
    })()
  : Promise.resolve();

const started = Date.now();
await Promise.all([...Array.from({ length: CLIENTS }, () => client()), chaos, sampler]);
const seconds = (Date.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const q = (p: number) => (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(1);
const total = counts.api + counts.refresh + counts.login + counts.logout;
console.log(
  `# npm run load — ${SECONDS} s, ${CLIENTS} clients, 2 instances on ${STORE_KIND === 'redis' ? 'Redis (AOF)' : 'PostgreSQL'}, 5-second access tokens${CHAOS ? ', chaos' : ''}\n`,
);
console.log('| measure | value |\n| --- | ---: |');
console.log(`| requests (2xx) | ${total.toLocaleString('en-US')} (${Math.round(total / seconds).toLocaleString('en-US')}/s) |`);
console.log(`| API calls / refreshes / logins / logouts | ${counts.api} / ${counts.refresh} / ${counts.login} / ${counts.logout} |`);
console.log(`| latency p50 / p99 (ms) | ${q(0.5)} / ${q(0.99)} |`);
console.log(`| failed requests (network) / 5xx during outages | ${counts.errors} / ${counts.outageErrors} |`);
console.log(`| error rate | ${((100 * (counts.errors + counts.outageErrors)) / Math.max(1, total + counts.errors + counts.outageErrors)).toFixed(2)} % |`);
console.log(`| **sessions lost** | **${sessionsLost}** |`);
console.log(`| revoked tokens accepted after 500 ms | ${acceptedAfterRevoke} of ${revokedAt.size} |`);
if (SOAK && samples.length > 1) {
  const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
  const [first, last] = [samples[1] ?? samples[0], samples.at(-1)] as [(typeof samples)[0], (typeof samples)[0]];
  console.log(`| memory, instance 1: after 10 s → end | ${mb(first.instances[0] ?? 0)} → ${mb(last.instances[0] ?? 0)} |`);
  console.log(`| memory, store: after 10 s → end | ${mb(first.store)} → ${mb(last.store)} |`);
}
if (CHAOS)
  console.log(
    `| recovery: store back → first successful login, refresh or logout | ${firstWriteAfterBack ? `${firstWriteAfterBack - backAt} ms (outage ${backAt - outageAt} ms)` : 'none'} |`,
  );
for (const i of instances) i.child.kill('SIGTERM');
await backend.stop();
await wait(300);
rmSync(dir, { recursive: true, force: true });
process.exit(sessionsLost === 0 && acceptedAfterRevoke === 0 ? 0 : 1);
