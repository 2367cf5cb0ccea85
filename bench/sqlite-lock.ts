/**
 * `npm run bench -- --only sqlite-lock`: what limits refresh rotations when two processes share
 * one SQLite file — the commit's sync or the write lock. Each process runs 16 concurrent flows of
 * what a refresh grant does: some CPU (an Ed25519 signature, the new access token), then one
 * rotation-shaped transaction (BEGIN IMMEDIATE; read the session row; update it; COMMIT) on the
 * store's pragmas (WAL). Measured: transactions per second over all processes, and the share of
 * each process's time spent blocked in BEGIN IMMEDIATE (waiting for the other's lock) and in
 * COMMIT. Variants: `synchronous` NORMAL (the store's) or FULL; the lock taken by SQLite's busy
 * handler (it sleeps the whole process 1, 2, 5, 10… ms between tries, whatever the holder does)
 * or taken without waiting and retried after yielding to the event loop (what the store does).
 */
import { fork } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { table } from './harness.ts';

interface Variant {
  synchronous: 'NORMAL' | 'FULL';
  lock: 'busy-handler' | 'yield';
}
interface Sample {
  tx: number;
  beginMs: number;
  commitMs: number;
  ms: number;
}

const FLOWS = 16;
const ROWS = 64;

/** The child: `flows` concurrent rotation-shaped loops for `seconds`. */
async function child(path: string, v: Variant, seconds: number): Promise<Sample> {
  const db = new DatabaseSync(path, { timeout: 5000 });
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${v.synchronous};`);
  if (v.lock === 'yield') db.exec('PRAGMA busy_timeout = 0');
  const get = db.prepare('SELECT id, generation, data FROM s WHERE id = ?');
  const update = db.prepare('UPDATE s SET generation = generation + 1, data = ? WHERE id = ? AND generation = ?');
  const { privateKey } = generateKeyPairSync('ed25519');
  let tx = 0;
  let beginMs = 0;
  let commitMs = 0;
  const begin = async (): Promise<void> => {
    for (let tries = 0; ; tries++) {
      const t = performance.now();
      try {
        db.exec('BEGIN IMMEDIATE');
        beginMs += performance.now() - t;
        return;
      } catch (err) {
        beginMs += performance.now() - t;
        if (!/locked|busy/i.test((err as Error).message)) throw err;
        await new Promise((r) => (tries < 8 ? setImmediate(r) : setTimeout(r, 1)));
      }
    }
  };
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: FLOWS }, async (_, f) => {
      while (performance.now() < end) {
        await new Promise((r) => setImmediate(r)); // the request arrives
        sign(null, Buffer.from(`access token ${f} ${tx}`), privateKey);
        const id = `s${(f * 7 + tx) % ROWS}`;
        await begin();
        try {
          const row = get.get(id) as { generation: number; data: string };
          update.run(`${row.data.slice(1)}x`, id, row.generation);
          const t = performance.now();
          db.exec('COMMIT');
          commitMs += performance.now() - t;
          tx++;
        } catch (err) {
          if (db.isTransaction) db.exec('ROLLBACK');
          throw err;
        }
      }
    }),
  );
  db.close();
  return { tx, beginMs, commitMs, ms: performance.now() - start };
}

if (process.argv[2] === '--child') {
  const [path, variant, seconds] = process.argv.slice(3) as [string, string, string];
  process.send?.(await child(path, JSON.parse(variant) as Variant, Number(seconds)));
  process.exit(0);
}

async function run(processes: number, v: Variant, seconds: number): Promise<{ rate: number; begin: number; commit: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-lock-'));
  const path = join(dir, 'lock.sqlite');
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; CREATE TABLE s (id TEXT PRIMARY KEY, generation INTEGER NOT NULL, data TEXT NOT NULL)');
  for (let i = 0; i < ROWS; i++) db.prepare('INSERT INTO s VALUES (?, 0, ?)').run(`s${i}`, 'x'.repeat(300));
  db.close();
  try {
    const samples = await Promise.all(
      Array.from(
        { length: processes },
        () =>
          new Promise<Sample>((resolve, reject) => {
            const c = fork(new URL(import.meta.url).pathname, ['--child', path, JSON.stringify(v), String(seconds)], { execArgv: process.execArgv });
            c.once('message', (m) => resolve(m as Sample));
            c.once('exit', (code) => code !== 0 && reject(new Error(`child exited ${code}`)));
          }),
      ),
    );
    const ms = samples.reduce((a, s) => a + s.ms, 0);
    return {
      rate: samples.reduce((a, s) => a + s.tx, 0) / seconds,
      begin: samples.reduce((a, s) => a + s.beginMs, 0) / ms,
      commit: samples.reduce((a, s) => a + s.commitMs, 0) / ms,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each variant with 1 and 2 processes, `rounds` interleaved rounds of `seconds`, medians. */
export async function benchSqliteLock(seconds = 2, rounds = 3): Promise<string> {
  const variants: Variant[] = [
    { synchronous: 'NORMAL', lock: 'busy-handler' },
    { synchronous: 'FULL', lock: 'busy-handler' },
    { synchronous: 'NORMAL', lock: 'yield' },
    { synchronous: 'FULL', lock: 'yield' },
  ];
  const samples = new Map<string, { rate: number; begin: number; commit: number }[]>();
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      for (const p of [1, 2]) {
        const key = `${JSON.stringify(v)}${p}`;
        samples.set(key, [...(samples.get(key) ?? []), await run(p, v, seconds)]);
      }
    }
  }
  const median = (key: string) =>
    [...(samples.get(key) ?? [])].sort((a, b) => a.rate - b.rate)[Math.floor(rounds / 2)] as { rate: number; begin: number; commit: number };
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const rows = variants.map((v) => {
    const [one, two] = [median(`${JSON.stringify(v)}1`), median(`${JSON.stringify(v)}2`)];
    return [
      `synchronous=${v.synchronous}, lock: ${v.lock}`,
      Math.round(one.rate).toLocaleString('en-US'),
      Math.round(two.rate).toLocaleString('en-US'),
      `${(two.rate / one.rate).toFixed(2)}×`,
      pct(two.begin),
      pct(one.commit),
      pct(two.commit),
    ];
  });
  return `${table(['WAL, rotation-shaped transactions, 16 flows per process', '1 process tx/s', '2 processes tx/s', '2 ÷ 1', 'blocked in BEGIN (2)', 'in COMMIT (1)', 'in COMMIT (2)'], rows)}

This machine: ${rounds} interleaved rounds of ${seconds} s, medians; the 2 cores are shared with whatever else runs.`;
}
