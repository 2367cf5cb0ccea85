/**
 * `node scripts/refused-logins.ts [count]` (Node 24: `npx node …`): how much a blocked address
 * makes the store grow. Starts `baton serve` on a fresh SQLite file (loopback only), blocks
 * 127.0.0.1 with failed logins, then sends `count` (default 10,000) more logins from it, each for
 * a different username, and prints the size of the .sqlite and -wal files and the number of
 * counter rows before and after. Stops itself (and the service) within five minutes.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { startInstance } from './instance.ts';

const COUNT = Number(process.argv[2] ?? 10_000);
const CONCURRENCY = 20;
const dir = mkdtempSync(join(tmpdir(), 'baton-refused-'));
const file = join(dir, 'baton.sqlite');

const size = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};
function measure(): { bytes: number; sqlite: number; wal: number; counters: number } {
  const db = new DatabaseSync(file, { readOnly: true });
  const { n } = db.prepare('SELECT count(*) AS n FROM baton_counters').get() as { n: number };
  db.close();
  const [sqlite, wal] = [size(file), size(`${file}-wal`)];
  return { bytes: sqlite + wal, sqlite, wal, counters: n };
}

const instance = await startInstance({ HOST: '127.0.0.1', BATON_STORE: `sqlite:${file}`, BATON_LOG_LEVEL: 'silent' });
const deadline = setTimeout(() => {
  console.error('refused-logins: still running after 5 minutes; stopping.');
  instance.child.kill('SIGKILL');
  process.exit(1);
}, 300_000);

const login = async (username: string): Promise<number> =>
  (
    await fetch(`${instance.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: 'wrong guess' }),
    })
  ).status;

try {
  // Block the address: failed logins until the service refuses one.
  let attempts = 0;
  while ((await login(`blocker${attempts}`)) !== 429) if (++attempts > 1000) throw new Error('127.0.0.1 was never blocked');
  const before = measure();
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < COUNT) {
        const status = await login(`stranger${next++}`);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  const after = measure();
  console.info(`Blocked after ${attempts + 1} failed logins; then ${COUNT} logins: ${[...statuses].map(([s, n]) => `${n} × ${s}`).join(', ')}.`);
  console.info(`before: ${before.bytes} bytes (.sqlite ${before.sqlite}, -wal ${before.wal}), ${before.counters} counter rows`);
  console.info(`after:  ${after.bytes} bytes (.sqlite ${after.sqlite}, -wal ${after.wal}), ${after.counters} counter rows`);
} finally {
  clearTimeout(deadline);
  instance.child.kill('SIGTERM');
  await new Promise((r) => instance.child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
