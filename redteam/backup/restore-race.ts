/**
 * `baton restore` refuses while a service runs on the database (runtime file, /proc openers) —
 * checked once, before the slow part (staging the copy, revoking each user's sessions through
 * the engine). A service that starts meanwhile (a supervisor's restart, a second operator)?
 * Expected if unsafe: the restore renames the new file over the database under the running
 * service, which goes on serving the old, deleted inode: what it writes is lost, and the
 * `baton` commands and the next start see another database.
 *
 * The backup holds 20,000 sessions of 20,000 users (rows copied in SQL) so that --revoke-sessions
 * takes a few seconds, as a real large backup does.
 *
 * npx node --conditions=baton-source redteam/backup/restore-race.ts
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { baton, caseDir, envOf, login, serve } from './lib.ts';

const dir = caseDir();
const env = envOf(dir);
let service = await serve(env);
await baton(['users', 'add', 'ann', '--password-stdin'], env, 'ann password 1');
await login(service.url, 'ann');
const file = join(dir, 'copy.sqlite');
await baton(['backup', file], env);
await service.stop();
const db = new DatabaseSync(file);
const cols = (db.prepare('PRAGMA table_info(baton_sessions)').all() as { name: string }[]).map((c) => c.name).filter((c) => c !== 'id' && c !== 'user_id');
db.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
  INSERT INTO baton_sessions (id, user_id, ${cols.join(', ')}) SELECT 'x' || i || id, 'u' || i, ${cols.join(', ')} FROM baton_sessions, n`);
db.close();

const t0 = Date.now();
const restoring = baton(['restore', file, '--revoke-sessions'], env);
// The moment the restore has checked and started staging its copy (its temp file appears), a service starts.
while (!readdirSync(dir).some((f) => f.endsWith('.tmp'))) await new Promise((r) => setTimeout(r, 5));
console.info(`staging began after ${Date.now() - t0} ms; starting baton serve now`);
service = await serve(env);
console.info(`baton serve listening after ${Date.now() - t0} ms (pid ${service.child.pid})`);
const r = await restoring;
console.info(`restore exit ${r.code} after ${Date.now() - t0} ms: ${(r.stdout || r.stderr).trim().split('\n')[0]}`);
const fds = readdirSync(`/proc/${service.child.pid}/fd`)
  .map((fd) => {
    try {
      return readlinkSync(`/proc/${service.child.pid}/fd/${fd}`);
    } catch {
      return '';
    }
  })
  .filter((l) => l.includes('baton.sqlite'));
console.info('the running service has open:', fds);
const add = await baton(['users', 'add', 'bob', '--password-stdin'], env, 'bob password 1');
const bob = await fetch(`${service.url}/auth/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'bob', password: 'bob password 1' }),
});
console.info(`users add bob (CLI) exit ${add.code}; bob logs in on the running service: ${bob.status}`);
console.info(r.code === 0 && fds.some((l) => l.includes('(deleted)')) ? 'BROKE: the restore replaced the database under a running service' : 'held');
await service.stop();
process.exit(0);
