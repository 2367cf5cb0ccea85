/**
 * Storage failures "logged once per change, never once per request": can a caller make the
 * state flip on every request? On a full disk (a 6 MB tmpfs, as root, filled), a request whose
 * store calls include a write that changes nothing (SQLite commits it without a page: it
 * succeeds) marks the store healthy ('store.recovered'), and its next real write fails again
 * ('store.failing'). Counted: the lines per request kind, and /readyz between requests.
 *  - wrong-password logins (unauthenticated: failure counters)
 *  - successful logins (an ordinary user: the failure counters are deleted — nothing to delete —, then a session is written)
 *
 * npx node --conditions=baton-source redteam/backup/full-disk-flap.ts   (root: mounts a tmpfs)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { baton, envOf, root, serve } from './lib.ts';

const disk = mkdtempSync(join(root, 'volume-'));
execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m,mode=0700', 'tmpfs', disk]);
process.on('exit', () => execFileSync('umount', ['-l', disk]));
const dir = join(disk, 'db');
mkdirSync(dir, { mode: 0o700 });
const env = envOf(dir, {
  BATON_LOG_LEVEL: 'info',
  BATON_LOGIN_FAILURES: 'off',
  BATON_LOGIN_FAILURES_PER_IP: 'off',
  BATON_RUNTIME_FILE: join(root, 'flap.json'),
});
const service = await serve(env);
await baton(['users', 'add', 'ann', '--password-stdin'], env, 'ann password 1');
const count = (e: string) =>
  service
    .output()
    .split('\n')
    .filter((l) => l.includes(`"event":"${e}"`)).length;
const post = (body: object) =>
  fetch(`${service.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const readyz = async () => (await fetch(`${service.url}/readyz`)).status;
const { bavail, bsize } = statfsSync(disk);
writeFileSync(join(disk, 'filler'), Buffer.alloc(bavail * bsize));
for (const [name, body] of [
  ['wrong password (anyone)', { username: 'ann', password: 'wrong' }],
  ['right password (ann)', { username: 'ann', password: 'ann password 1' }],
] as const) {
  const [f0, r0] = [count('store.failing'), count('store.recovered')];
  const statuses = new Map<string, number>();
  const ready: number[] = [];
  for (let i = 0; i < 20; i++) {
    const s = `${(await post(body)).status}`;
    statuses.set(s, (statuses.get(s) ?? 0) + 1);
    ready.push(await readyz());
  }
  await new Promise((r) => setTimeout(r, 300));
  console.info(
    `${name} ×20: answers ${JSON.stringify(Object.fromEntries(statuses))}; log lines store.failing +${count('store.failing') - f0}, store.recovered +${count('store.recovered') - r0}; /readyz ${ready.join(' ')}`,
  );
}
await service.stop();
process.exit(0);
