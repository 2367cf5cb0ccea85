/**
 * The embedded database as files: checked at start (`PRAGMA quick_check`), copied while the
 * service runs (`baton backup`) and put back (`baton restore`). See docs/backups.md.
 *
 * A plain `cp` of a live database is not a backup: the last writes live in its `-wal` file, and a
 * copy of one without the other misses them (#22: a copy that had the keys and no users). SQLite's
 * online backup reads the database through a connection, WAL included, as of one point in time.
 */
import { closeSync, existsSync, fsyncSync, linkSync, openSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, chmodSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { backup, DatabaseSync } from 'node:sqlite';
import { BatonConfigError } from 'baton-auth';
import { SQLITE_SCHEMA_VERSION, sqliteSchemaAt, sqliteSchemaOf } from 'baton-auth/stores/sqlite';
import { INSTANCE } from './cluster.ts';
import { batonCommand } from '../cli/command.ts';

/** What a SQLite error says, without more. */
const said = (err: unknown): string => {
  const { errstr, message } = err as { errstr?: unknown; message?: unknown };
  return typeof errstr === 'string' ? errstr : String(message);
};

/** What `PRAGMA quick_check` finds wrong with `db` (the first five problems), or nothing. */
function quickCheck(db: DatabaseSync): string[] {
  return (db.prepare('PRAGMA quick_check(5)').all() as { quick_check: string }[]).map((r) => r.quick_check).filter((r) => r !== 'ok');
}

/**
 * `PRAGMA quick_check` on the database before the service opens it: a corrupt page stops the
 * start with a sentence, rather than failing requests one by one later. It reads every page
 * (about 0.1 s for 100,000 sessions, docs/backups.md); a missing or empty file passes.
 */
export function checkIntegrity(path: string): void {
  if (!existsSync(path) || statSync(path).size === 0) return;
  let problems: string[];
  try {
    const db = new DatabaseSync(path);
    try {
      problems = quickCheck(db);
    } finally {
      db.close();
    }
  } catch (err) {
    problems = [said(err)];
  }
  if (problems.length > 0) {
    throw new BatonConfigError(
      `${path} is damaged (SQLite's quick_check: ${problems.join('; ').slice(0, 300)}). Stop here and restore it from a backup (\`${batonCommand()} restore <file> --revoke-sessions\` or \`--keep-sessions\`, docs/backups.md); the damaged file stays as it is.`,
    );
  }
}

/** A backup's contents, as `baton backup` and `baton restore` report them. */
export interface BackupFacts {
  /** Its schema version (`PRAGMA user_version`). */
  version: number;
  users: number;
  /** Sessions not revoked (some may have expired). */
  sessions: number;
  /** When the copy was made (recorded in it by `baton backup`), if known. */
  takenAt: string | undefined;
  /** The sealed key ring, if the database has one. */
  sealedRing: string | undefined;
}

const BACKUP_RECORD = { kind: 'config', key: 'backup-taken-at' };

/** Reads what a Baton database holds, or a sentence saying why it is not one this Baton can restore. */
export function backupFacts(file: string): BackupFacts {
  if (!existsSync(file)) throw new BatonConfigError(`${file} does not exist.`);
  if (!statSync(file).isFile() || statSync(file).size === 0) throw new BatonConfigError(`${file} is not a Baton backup: it is empty or not a file.`);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file, { readOnly: true });
  } catch (err) {
    throw new BatonConfigError(`${file} is not a SQLite database Baton can read (${said(err)}).`);
  }
  try {
    const one = <T>(sql: string, ...params: string[]): T | undefined => db.prepare(sql).get(...params) as T | undefined;
    let version: number;
    try {
      version = Number(one<{ user_version: number }>('PRAGMA user_version')?.user_version);
    } catch (err) {
      throw new BatonConfigError(`${file} is not a SQLite database Baton can read (${said(err)}).`);
    }
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name));
    if (version === 0 || !tables.has('baton_records') || !tables.has('baton_sessions'))
      throw new BatonConfigError(`${file} is a SQLite database, but not a Baton one (no Baton tables).`);
    if (version > SQLITE_SCHEMA_VERSION)
      throw new BatonConfigError(
        `${file} has schema version ${version}, written by a newer Baton than this one (${SQLITE_SCHEMA_VERSION}): restore it with that version, or upgrade Baton first.`,
      );
    // Only what Baton's migrations make at that version: a trigger planted in a copy would run in
    // every later write (one that un-revokes sessions makes --revoke-sessions and every logout a no-op).
    const expected = new Set(sqliteSchemaAt(version));
    const extra = sqliteSchemaOf(db).filter((o) => !expected.delete(o));
    if (extra.length > 0 || expected.size > 0) {
      const named = [...extra, ...expected].map((o) => o.slice(0, o.indexOf(':'))).join(', ');
      throw new BatonConfigError(
        `${file} holds what a Baton database never has, or lacks what it has, at schema version ${version} (${named.slice(0, 300)}): it was changed after it was written; use another backup.`,
      );
    }
    const check = quickCheck(db);
    if (check.length > 0) throw new BatonConfigError(`${file} is damaged (SQLite's quick_check: ${check.join('; ').slice(0, 300)}): use another backup.`);
    return {
      version,
      users: Number(one<{ n: number }>("SELECT count(*) AS n FROM baton_records WHERE kind = 'users'")?.n ?? 0),
      sessions: Number(one<{ n: number }>('SELECT count(*) AS n FROM baton_sessions WHERE revoked_at IS NULL')?.n ?? 0),
      takenAt: one<{ value: string }>('SELECT value FROM baton_records WHERE kind = ? AND key = ?', BACKUP_RECORD.kind, BACKUP_RECORD.key)?.value,
      sealedRing: one<{ value: string }>("SELECT value FROM baton_records WHERE kind = 'config' AND key = 'keyring'")?.value,
    };
  } finally {
    db.close();
  }
}

/** A new private (0600) empty file beside `target`, for a copy to be renamed into place. */
function tempBeside(target: string): string {
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`);
  closeSync(openSync(temp, 'wx', 0o600));
  chmodSync(temp, 0o600);
  return temp;
}

/** Flushes a file, and its folder's entry for it, to disk. */
function sync(path: string): void {
  for (const p of [path, dirname(path)]) {
    const fd = openSync(p, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Drops the registrations of the instances that ran on the copied database (`cluster.ts`): they
 * are the processes of that moment, and a service started on the copy (another folder, another
 * port) would otherwise find them live and refuse its default issuer beside them.
 */
function forgetInstances(copy: DatabaseSync): void {
  copy.prepare('DELETE FROM baton_records WHERE kind = ?').run(INSTANCE);
}

/**
 * Copies the database at `source` into `target` while the service may be writing it: SQLite's
 * online backup in one step (one read transaction: one point in time, the WAL's content
 * included), into a private temp file beside the target, completed there (when it was taken, as a
 * record of the copy), flushed, then linked into place — never over an existing file unless
 * `force` — so `target` is either absent or whole.
 */
export async function backupDatabase(source: string, target: string, force = false): Promise<BackupFacts & { bytes: number }> {
  if (!existsSync(source) || statSync(source).size === 0) throw new BatonConfigError(`${source} does not exist or is empty: there is nothing to back up.`);
  if (resolve(target) === resolve(source)) throw new BatonConfigError('The backup must go to another file than the database itself.');
  if (!force && existsSync(target)) throw new BatonConfigError(`${target} exists already: choose a new name, or add --force to replace it.`);
  if (!existsSync(dirname(resolve(target)))) throw new BatonConfigError(`${dirname(resolve(target))} does not exist: create the folder first.`);
  const temp = tempBeside(resolve(target));
  try {
    const db = new DatabaseSync(source, { readOnly: true, timeout: 5000 });
    const takenAt = new Date().toISOString();
    try {
      // All pages in one step: a step that spans a write of the service would start the copy over.
      await backup(db, temp, { rate: 2 ** 30 });
    } finally {
      db.close();
    }
    const copy = new DatabaseSync(temp);
    try {
      // Rollback journal: the copy is one file, with no -wal beside it to lose.
      copy.exec('PRAGMA journal_mode = DELETE');
      copy.prepare('INSERT OR REPLACE INTO baton_records (kind, key, value) VALUES (?, ?, ?)').run(BACKUP_RECORD.kind, BACKUP_RECORD.key, takenAt);
      forgetInstances(copy);
    } finally {
      copy.close();
    }
    const facts = backupFacts(temp);
    sync(temp);
    if (force) renameSync(temp, target);
    else linkSync(temp, target); // fails if the name was taken meanwhile: never over another file
    sync(target);
    return { ...facts, bytes: statSync(target).size };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new BatonConfigError(`${target} exists already: choose a new name, or add --force to replace it.`);
    throw err;
  } finally {
    rmSync(temp, { force: true });
  }
}

/**
 * The processes that have `path` (or its -wal) open, by /proc (Linux; none elsewhere, where the
 * runtime file alone tells a running service). Only this user's processes can be read, unless root.
 */
export function openersOf(path: string): number[] {
  const names = new Set([resolve(path), `${resolve(path)}-wal`]);
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid);
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or another user's
    }
    for (const fd of fds) {
      try {
        if (names.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) {
          found.push(Number(pid));
          break;
        }
      } catch {
        // closed meanwhile
      }
    }
  }
  return found;
}

/**
 * Puts the checked copy `staged` (a private file beside `db`) in place of `db`: the current
 * database is checkpointed (its WAL folded in, so no -wal of the old file is left to be replayed
 * onto the new one), kept as `<db>.before-restore-<time>`, and the copy renamed over it in one
 * step. Returns the name the old database was kept under, if there was one.
 */
export function replaceDatabase(db: string, staged: string): string | undefined {
  let kept: string | undefined;
  if (existsSync(db) && statSync(db).size > 0) {
    const old = new DatabaseSync(db);
    try {
      old.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get();
    } finally {
      old.close();
    }
    kept = `${db}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    linkSync(db, kept);
  }
  for (const leftover of [`${db}-wal`, `${db}-shm`]) rmSync(leftover, { force: true });
  renameSync(staged, db);
  sync(db);
  return kept;
}

/** A private copy of `file` beside `db`, made with the online backup (so a backup still in WAL mode is read whole), in rollback-journal mode. */
export async function stageCopy(file: string, db: string): Promise<string> {
  const temp = tempBeside(db);
  try {
    const source = new DatabaseSync(file, { readOnly: true });
    try {
      await backup(source, temp, { rate: 2 ** 30 });
    } finally {
      source.close();
    }
    const copy = new DatabaseSync(temp);
    try {
      copy.exec('PRAGMA journal_mode = DELETE');
      forgetInstances(copy);
    } finally {
      copy.close();
    }
    return temp;
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

/** The users with a session not revoked in the database at `path`. */
export function activeUsers(path: string): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare('SELECT DISTINCT user_id FROM baton_sessions WHERE revoked_at IS NULL').all() as { user_id: string }[]).map((r) => r.user_id);
  } finally {
    db.close();
  }
}
