/**
 * Local trust of `baton backup`'s target, its temp file and SQLite's journal beside it, and the
 * modes of what backup and restore leave. Attempts (each prints expected / got):
 *  1. target is a dangling symlink to a file another user wants written → refused, nothing written there
 *  2. target is a symlink to an existing file, with --force → the link is replaced, the file it named untouched
 *  3. SQLite's `<file>-journal` planted as a symlink (the temp copy is written in rollback mode) → does SQLite follow it?
 *  4. modes: the backup, the restored database, `<db>.before-restore-*` → 0600
 *  5. a backup file writable by other users (0666) or owned by another user → restore reads it? (it trusts every row)
 *
 * npx node --conditions=baton-source redteam/backup/backup-target.ts
 */
import { chmodSync, chownSync, existsSync, lstatSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { baton, caseDir, envOf, login, serve } from './lib.ts';

const dir = caseDir();
const env = envOf(dir);
const service = await serve(env);
await baton(['users', 'add', 'ann', '--password-stdin'], env, 'ann password 1');
await login(service.url, 'ann');
const shared = caseDir();
chmodSync(shared, 0o1777); // like /tmp

// 1
const victim = join(shared, 'victim-dangling');
symlinkSync(victim, join(shared, 'b1.sqlite'));
const r1 = await baton(['backup', join(shared, 'b1.sqlite')], env);
console.info(
  `1. dangling symlink target: exit ${r1.code} (${r1.stderr.trim().split('\n').pop()}); victim written: ${existsSync(victim)} → ${existsSync(victim) ? 'BROKE' : 'held'}`,
);
// 2
const precious = join(shared, 'precious.txt');
writeFileSync(precious, 'precious');
symlinkSync(precious, join(shared, 'b2.sqlite'));
const r2 = await baton(['backup', join(shared, 'b2.sqlite'), '--force'], env);
console.info(
  `2. symlink to a file, --force: exit ${r2.code}; the file it named: ${JSON.stringify(readFileSync(precious, 'utf8'))}; b2 is now ${lstatSync(join(shared, 'b2.sqlite')).isSymbolicLink() ? 'a symlink' : 'a file'} → ${readFileSync(precious, 'utf8') === 'precious' ? 'held' : 'BROKE'}`,
);
// 3: SQLite itself, on the journal of a rollback-mode file
const jf = join(shared, 'j.sqlite');
const target = join(shared, 'journal-victim');
writeFileSync(target, 'untouched');
symlinkSync(target, `${jf}-journal`);
let r3: string;
try {
  const d = new DatabaseSync(jf);
  d.exec('PRAGMA journal_mode = DELETE; CREATE TABLE t (x); INSERT INTO t VALUES (1)');
  d.close();
  r3 = 'wrote';
} catch (err) {
  r3 = `refused (${(err as Error).message})`;
}
console.info(
  `3. planted -journal symlink: SQLite ${r3}; the file it named: ${JSON.stringify(readFileSync(target, 'utf8'))} → ${readFileSync(target, 'utf8') === 'untouched' ? 'held' : 'BROKE'}`,
);
// 4
const file = join(dir, 'good.sqlite');
await baton(['backup', file], env);
await service.stop();
await baton(['restore', file, '--revoke-sessions'], env);
const modes = readdirSync(dir)
  .filter((f) => f.includes('sqlite'))
  .map((f) => `${f.replace(/\d{4}-.*Z$/, '<time>')} ${(statSync(join(dir, f)).mode & 0o777).toString(8)}`);
console.info(`4. modes: ${modes.join(', ')} → ${modes.every((m) => m.endsWith(' 600')) ? 'held' : 'BROKE'}`);
// 5
const open = join(shared, 'open.sqlite');
await baton(['backup', open], env);
chmodSync(open, 0o666);
const r5 = await baton(['restore', open, '--revoke-sessions'], env);
console.info(
  `5a. restore from a backup writable by others (0666): exit ${r5.code} ${(r5.stderr || r5.stdout).trim().split('\n').pop()} → ${r5.code === 0 ? 'FLAG (any local user could have planted rows)' : 'held'}`,
);
chmodSync(open, 0o600);
chownSync(open, 65534, 65534);
const r5b = await baton(['restore', open, '--revoke-sessions'], env);
console.info(
  `5b. restore from a backup owned by another user (nobody): exit ${r5b.code} ${(r5b.stderr || r5b.stdout).trim().split('\n').pop()} → ${r5b.code === 0 ? 'FLAG' : 'held'}`,
);
const d = new DatabaseSync(open, { readOnly: true });
console.info(
  `   (that file holds ${(d.prepare("SELECT count(*) AS n FROM baton_records WHERE kind = 'users'").get() as { n: number }).n} user record(s) with Argon2id hashes)`,
);
d.close();
process.exit(0);
