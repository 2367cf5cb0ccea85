/** `baton backup` and `baton restore`: the embedded database copied consistently, and put back. */
import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { connectStore, createEngine } from '../../server/app.ts';
import type { ServerConfig } from '../../server/config.ts';
import { defaultSecretFile, openCustody, serviceSecret, unseal } from '../../server/custody.ts';
import { checkLocalStore, checkPrivate, privateDir, sqlitePath } from '../../server/files.ts';
import { canonicalStore, readRuntime, runtimeFile } from '../../server/runtime.ts';
import { CliError, commandConfig } from '../support.ts';
import { program } from '../program.ts';

/** Where the service secret of `config` lives, for the reminder that it is backed up apart. */
function secretOrigin(config: ServerConfig): string {
  if (config.secret !== undefined) return 'BATON_SECRET';
  if (config.secretFile !== undefined) return `the secret file ${config.secretFile} (BATON_SECRET_FILE)`;
  return `the secret file ${defaultSecretFile(config.store) ?? 'BATON_SECRET'}`;
}

/** How to back up and restore a store that is not the embedded one: its own tools do it consistently. */
function storeBackupAdvice(store: string): string {
  if (store.startsWith('postgres')) {
    return 'The store is PostgreSQL: back it up with pg_dump, which copies one consistent snapshot while the service runs: `pg_dump --format=custom --file=baton.dump "$BATON_STORE"`; restore with the service stopped: `pg_restore --clean --if-exists --single-transaction --dbname="$BATON_STORE" baton.dump` (docs/backups.md). The secret (BATON_SECRET or BATON_SECRET_FILE) is backed up apart.';
  }
  return 'The store is Redis: back it up with its persistence — a snapshot of the running server with `redis-cli -u "$BATON_STORE" --rdb baton.rdb` (or BGSAVE and copy dump.rdb; with AOF, its appendonly folder); restore by stopping Redis, putting the file in its `dir` as its `dbfilename` (`redis-cli CONFIG GET dir`), and starting it (docs/backups.md). The secret (BATON_SECRET or BATON_SECRET_FILE) is backed up apart.';
}

/** The embedded database's files, loaded only by the commands that need them (node:sqlite warns on some Node versions). */
const sqliteFiles = () => import('../../server/sqlite-files.ts');

program
  .command('backup <file>')
  .description(
    'copy the embedded database to <file> while the service runs: one point in time, its WAL included, written privately (0600) and whole (PostgreSQL, Redis: see docs/backups.md)',
  )
  .option('--force', 'replace <file> if it exists')
  .action(async (file: string, opts: { force?: boolean }) => {
    const config = commandConfig();
    const db = sqlitePath(config.store);
    if (db === undefined) throw new CliError(storeBackupAdvice(config.store));
    const facts = await (await sqliteFiles()).backupDatabase(db, file, opts.force === true);
    console.info(
      `Wrote ${resolve(file)} (${facts.bytes} bytes, mode 600): ${db} as of ${facts.takenAt}, with ${facts.users} user(s) and ${facts.sessions} session(s) (schema version ${facts.version}).`,
    );
    console.info(
      `It holds the keys sealed, not the secret that opens them: back up ${secretOrigin(config)} apart, somewhere else. A restore needs both; either alone cannot mint tokens.`,
    );
  });

program
  .command('restore <file>')
  .description(
    'replace the embedded database with a backup, with the service stopped; the current one is kept beside it (docs/backups.md says what a restore means for sessions)',
  )
  .option('--revoke-sessions', 'end every session of the backup: everyone signs in again, and no session ended since the backup comes back')
  .option(
    '--keep-sessions',
    'keep the sessions of the backup: those not used since stay signed in, but sessions ended since the backup (logouts, revocations) are active again',
  )
  .action(async (file: string, opts: { revokeSessions?: boolean; keepSessions?: boolean }) => {
    if (opts.revokeSessions === opts.keepSessions) {
      throw new CliError(
        'Say what happens to the sessions in the backup: --revoke-sessions (everyone signs in again; no session ended since the backup comes back) or --keep-sessions (sessions unused since stay signed in, but logouts and revocations made since are undone). See docs/backups.md.',
      );
    }
    const config = commandConfig();
    const db = sqlitePath(config.store);
    if (db === undefined) throw new CliError(storeBackupAdvice(config.store));
    const { backupFacts, openersOf, replaceDatabase, stageCopy } = await sqliteFiles();
    refuseInUse(config, db, openersOf);
    // Every row of the backup is trusted (users and their hashes, clients): a file another user could have written is refused, as the database's own files are.
    checkPrivate(file, 'file');
    const facts = backupFacts(file);
    if (facts.sealedRing === undefined)
      throw new CliError(`${file} is a Baton database that was never started (it holds no keys): there is nothing to restore.`);
    const secret = serviceSecret(config, true);
    try {
      await unseal(secret, 'keyring', facts.sealedRing);
    } catch {
      throw new CliError(
        `${file} was sealed with another secret than ${secret.origin}: put back the secret that was backed up with it (or set BATON_SECRET / BATON_SECRET_FILE to it), then restore again. Nothing was changed.`,
      );
    }
    privateDir(dirname(db));
    checkLocalStore(config.store);
    const staged = await stageCopy(file, db);
    let revoked = 0;
    let kept: string | undefined;
    try {
      if (opts.revokeSessions) revoked = await revokeEverySession(config, staged);
      // Again, just before the rename: a service started while the copy was staged (seconds for a large one) would go on serving the old file, deleted.
      refuseInUse(config, db, openersOf);
      kept = replaceDatabase(db, staged);
    } finally {
      rmSync(staged, { force: true });
    }
    console.info(
      `Restored ${db} from ${resolve(file)}${facts.takenAt ? ` (taken ${facts.takenAt})` : ''}: ${facts.users} user(s), ${facts.sessions} session(s).${kept ? ` The database it replaced is kept as ${kept}.` : ''}`,
    );
    console.info(
      opts.revokeSessions
        ? `Revoked ${revoked} session(s): everyone signs in again, and no session ended since the backup comes back.`
        : 'Sessions kept. Those created or rotated since the backup are unknown to it: their users sign in again. Sessions ended since the backup (logouts, password changes, removed users, revocations) are active again; so are keys revoked since: revoke them again (docs/backups.md).',
    );
  });

/** Refuses a restore onto a database a service (named by the runtime file) or any process (by /proc) has open. */
function refuseInUse(config: ServerConfig, db: string, openersOf: (path: string) => number[]): void {
  const running = readRuntime(runtimeFile());
  if (running !== undefined && running.store === canonicalStore(config.store))
    throw new CliError(`The service running as process ${running.pid} serves ${db}: stop it first; a restore replaces the database under it.`);
  const openers = openersOf(db);
  if (openers.length > 0)
    throw new CliError(`${db} is open in process ${openers.join(', ')} (a service or a command): stop it first; a restore replaces the database under it.`);
}

/** Revokes every session active in the staged copy, through the engine (so the revocation log has them too); how many. */
async function revokeEverySession(config: ServerConfig, staged: string): Promise<number> {
  const store = await connectStore(`sqlite:${staged}`);
  try {
    const baton = createEngine(config, store, await openCustody(config, store));
    try {
      let count = 0;
      for (const userId of (await sqliteFiles()).activeUsers(staged)) count += (await baton.revokeUserSessions(userId, { reason: 'restored' })).length;
      return count;
    } finally {
      await baton.close();
    }
  } finally {
    await store.close();
  }
}
