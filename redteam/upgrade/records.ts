/**
 * Attempt: rows of kind `instance` per restart. On one SQLite file, 10 starts each ended by SIGKILL
 * (a crash: no deregistration), then 10 ended by SIGTERM, one instance living throughout; then a
 * refused start (an instance with BATON_DPOP=off once DPoP is on). Expected: rows = live instances
 * (the killed ones are dead processes of this machine: dropped at once; SIGTERM deregisters; a
 * refused start leaves nothing).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

const dir = mkdtempSync(join(tmpdir(), 'rt-records-'));
const db = join(dir, 'baton.sqlite');
const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const children: ChildProcess[] = [];
process.once('exit', () => children.forEach((c) => c.kill('SIGKILL')));
let n = 0;
function serve(env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--conditions=baton-source', CLI, 'serve'], {
    env: {
      ...process.env,
      PORT: '0',
      BATON_STORE: `sqlite:${db}`,
      BATON_ISSUER: 'http://localhost:3000',
      BATON_SECRET: 'records-test-service-secret-of-32-characters',
      BATON_LOG_LEVEL: 'warn',
      BATON_HEARTBEAT: '1s',
      BATON_RUNTIME_FILE: join(dir, `rt-${++n}.json`),
      ...env,
    },
  });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (/listening on/.test(out)) {
        clearInterval(t);
        resolve(child);
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(t);
      reject(new Error(`exited ${code}: ${out.slice(0, 160)}`));
    });
  });
}
const rows = () => {
  const d = new DatabaseSync(db, { readOnly: true });
  const r = Number((d.prepare("SELECT count(*) AS n FROM baton_records WHERE kind = 'instance'").get() as { n: number }).n);
  d.close();
  return r;
};
const stop = async (c: ChildProcess, signal: NodeJS.Signals) => {
  const gone = new Promise((r) => c.once('exit', r));
  c.kill(signal);
  await gone;
};
await serve(); // lives throughout
for (let i = 0; i < 10; i++) await stop(await serve(), 'SIGKILL');
console.info('after 10 starts ended by SIGKILL: instance rows', rows());
await new Promise((r) => setTimeout(r, 2500)); // two heartbeats of the living one
console.info('two heartbeats later:', rows());
for (let i = 0; i < 10; i++) await stop(await serve(), 'SIGTERM');
console.info('after 10 starts ended by SIGTERM:', rows());
console.info(
  'a BATON_DPOP=off start once DPoP is on:',
  await serve({ BATON_DPOP: 'off' }).then(
    () => 'started',
    (e: Error) => `refused (${e.message.slice(0, 60)}…)`,
  ),
  '; rows',
  rows(),
);
process.exit(0);
