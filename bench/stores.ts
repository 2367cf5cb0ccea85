/**
 * Stores: refresh rotations per second (the store operation alone, and Baton's whole `refresh`),
 * sequentially and with 50 in flight, next to each store's own floor measured in the same run on
 * the same connection; and how long a revocation takes to reach another instance.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton, BatonStore } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { postgresClient, postgresStore } from 'baton-auth/stores/postgres';
import { redisStore } from 'baton-auth/stores/redis';
import { sqliteStore } from 'baton-auth/stores/sqlite';
import { sampleSession } from 'baton-auth/stores/testing';
import { fmt, table } from './harness.ts';

const REDIS = process.env.BATON_BENCH_REDIS ?? 'redis://127.0.0.1:6379';
const PG = process.env.BATON_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
const DAY = 86_400_000;

/** Runs `op(worker)` from `inflight` workers until `ms` pass; returns operations per second. */
async function rate(op: (worker: number) => Promise<unknown>, inflight: number, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let count = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inflight }, async (_, w) => {
      while (performance.now() < end) {
        await op(w);
        count++;
      }
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

interface Backend {
  name: string;
  store: BatonStore;
  floorName: string;
  floor: (worker: number) => Promise<unknown>;
  close: () => Promise<void>;
}

async function backends(): Promise<Backend[]> {
  const out: Backend[] = [];
  out.push({ name: 'memory', store: memoryStore(), floorName: '—', floor: async () => undefined, close: async () => undefined });

  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-'));
  const sqlite = sqliteStore({ path: join(dir, 'bench.sqlite') });
  const { DatabaseSync } = await import('node:sqlite');
  const raw = new DatabaseSync(join(dir, 'bench.sqlite'));
  raw.exec(
    'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, n INTEGER); INSERT OR IGNORE INTO floor VALUES (1, 0)',
  );
  const bump = raw.prepare('UPDATE floor SET n = n + 1 WHERE id = ?');
  out.push({
    name: 'sqlite',
    store: sqlite,
    floorName: 'one-row UPDATE',
    floor: async () => bump.run(1),
    close: async () => {
      raw.close();
      await sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });

  const client = new Redis(REDIS);
  const prefix = `baton-bench-${randomBytes(3).toString('hex')}:`;
  await client.set(`${prefix}floor`, 'x');
  const redis = redisStore({ client, keyPrefix: prefix });
  out.push({
    name: 'redis',
    store: redis,
    floorName: 'GET, same connection',
    floor: () => client.get(`${prefix}floor`),
    close: async () => {
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(...keys);
      await redis.close(); // its subscriber; the client is ours
      client.disconnect();
    },
  });

  const sql = postgresClient(PG, 10);
  const pg = postgresStore({ sql });
  await pg.revocationsSince(0); // migrate before timing
  await sql`CREATE TABLE IF NOT EXISTS baton_bench_floor (id integer PRIMARY KEY, n bigint NOT NULL)`;
  await sql`INSERT INTO baton_bench_floor SELECT g, 0 FROM generate_series(1, 64) g ON CONFLICT DO NOTHING`;
  out.push({
    name: 'postgres',
    store: pg,
    floorName: 'bare one-row UPDATE, same pool',
    floor: (w) => sql`UPDATE baton_bench_floor SET n = n + 1 WHERE id = ${w + 1}`,
    close: async () => {
      await sql`DROP TABLE IF EXISTS baton_bench_floor`;
      await pg.close();
      await sql.end({ timeout: 5 });
    },
  });
  return out;
}

/** One session per worker, each rotating its own current generation. */
async function rotationOp(store: BatonStore, workers: number) {
  const now = Date.now();
  const sessions: { id: string; generation: number }[] = [];
  for (let w = 0; w < workers; w++) {
    const s = sampleSession(now, { expiresAt: now + 30 * DAY, idleExpiresAt: now + 7 * DAY });
    await store.createSession(s, { maxSessionsPerUser: 0, now, revocationTtlMs: 60_000 });
    sessions.push({ id: s.id, generation: 0 });
  }
  return async (w: number) => {
    const s = sessions[w] as { id: string; generation: number };
    const r = await store.rotate({
      sessionId: s.id,
      generation: s.generation,
      clientId: 'web',
      now: Date.now(),
      graceMs: 10_000,
      idleTtlMs: 7 * DAY,
      revocationTtlMs: 60_000,
    });
    if (r.status !== 'rotated') throw new Error(`rotation answered ${r.status}`);
    s.generation++;
  };
}

async function refreshOp(baton: Baton, workers: number) {
  const tokens: string[] = [];
  for (let w = 0; w < workers; w++) tokens.push((await baton.login(`bench-${w}`)).refresh_token);
  return async (w: number) => {
    tokens[w] = (await baton.refresh(tokens[w] as string)).refresh_token;
  };
}

/** Rotation table. */
export async function benchRotation(ms = 1500): Promise<string> {
  const rows: (string | number)[][] = [];
  for (const b of await backends()) {
    try {
      const baton = createBaton({
        issuer: 'https://bench',
        keys: [generateKey('HS256')],
        refreshTokenSecret: randomBytes(32),
        store: b.store,
        refreshRateLimit: false,
      });
      for (const inflight of [1, 50]) {
        const rotate = await rotationOp(b.store, inflight);
        const refresh = await refreshOp(baton, inflight);
        // Interleaved rounds, median of each: the machine's noise hits all three alike.
        const samples: [number[], number[], number[]] = [[], [], []];
        for (let round = 0; round < 3; round++) {
          if (b.name !== 'memory') samples[0].push(await rate(b.floor, inflight, ms / 3));
          samples[1].push(await rate(rotate, inflight, ms / 3));
          samples[2].push(await rate(refresh, inflight, ms / 3));
        }
        const [floor, rot, ref] = samples.map((x) => median(x)) as [number, number, number];
        rows.push([
          `${b.name}, ${inflight === 1 ? 'sequential' : '50 in flight'}`,
          floor ? `${fmt(floor)} (${b.floorName})` : '—',
          fmt(rot),
          floor ? (rot / floor).toFixed(2) : '—',
          fmt(ref),
          floor ? (ref / floor).toFixed(2) : '—',
        ]);
      }
      await baton.close();
    } finally {
      await b.close();
    }
  }
  return table(['store', 'floor ops/s', 'store.rotate/s', '× floor', 'Baton refresh/s', '× floor'], rows);
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted.length === 0 ? 0 : (sorted[Math.floor(sorted.length / 2)] as number);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Revoke on instance A → rejected on instance B: milliseconds, p50 and p99. */
export async function benchPropagation(samples = 200): Promise<string> {
  const rows: (string | number)[][] = [];
  const pairs: [string, () => BatonStore][] = [
    ['redis (pub/sub)', () => redisStore({ url: REDIS, keyPrefix: 'baton-bench-prop:' })],
    ['postgres (LISTEN/NOTIFY)', () => postgresStore({ url: PG })],
  ];
  for (const [name, make] of pairs) {
    const [sa, sb] = [make(), make()];
    const common = { issuer: 'https://bench', keys: [generateKey('HS256', 'k')], refreshTokenSecret: randomBytes(32), refreshRateLimit: false as const };
    const a = createBaton({ ...common, store: sa });
    const b = createBaton({ ...common, store: sb });
    await a.ready();
    await b.ready();
    const delays: number[] = [];
    for (let i = 0; i < samples; i++) {
      const pair = await a.login(`prop-${i}`);
      b.verifyLocal(pair.access_token);
      const start = performance.now();
      await a.revokeSession(pair.session_id);
      for (;;) {
        try {
          b.verifyLocal(pair.access_token);
        } catch {
          break;
        }
        if (performance.now() - start > 5000) throw new Error(`${name}: revocation did not arrive in 5 s`);
        await new Promise((r) => setImmediate(r));
      }
      delays.push(performance.now() - start);
    }
    delays.sort((x, y) => x - y);
    rows.push([name, samples, percentile(delays, 50).toFixed(2), percentile(delays, 99).toFixed(2), (delays.at(-1) ?? 0).toFixed(2)]);
    await Promise.all([a.close(), b.close()]);
    await Promise.all([sa.close(), sb.close()]);
  }
  return table(['revoke on A → rejected on B', 'samples', 'p50 ms', 'p99 ms', 'max ms'], rows);
}
