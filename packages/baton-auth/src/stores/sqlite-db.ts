/**
 * The SQLite database of `sqlite.ts`: the file created privately and opened in WAL mode, its write transactions, its
 * schema migrated, and the schema a backup may hold (`baton restore`). Internal, but for what `sqlite.ts` re-exports.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';
import { BatonConfigError } from '../core/errors.ts';
import { MIGRATIONS } from './sqlite-schema.ts';
import type { Row } from './sqlite-schema.ts';

/**
 * Creates the database file 0600 in a 0700 folder, whatever the umask (sessions and the sealed
 * keys are nobody else's business); SQLite gives its -wal and -shm files the database's mode.
 * Existing files and folders are left as they are.
 */
function createPrivately(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }
  if (!existsSync(path)) {
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);
  }
}

/** Opens the database (creating it privately) in WAL mode. */
export function openDatabase(path: string, busyTimeoutMs: number): DatabaseSync {
  if (path !== ':memory:') createPrivately(path);
  const db = new DatabaseSync(path, { timeout: busyTimeoutMs });
  // synchronous = NORMAL in WAL mode: a commit is not synced, the WAL is at checkpoints. A
  // committed transaction survives a crash of the process (the WAL is in the OS's page cache),
  // and may be lost only to a power loss or an OS crash: "WAL mode is always consistent with
  // synchronous=NORMAL, but WAL mode does lose durability. A transaction committed in WAL mode
  // with synchronous=NORMAL might roll back following a power loss or system crash.
  // Transactions are durable across application crashes regardless of the synchronous setting
  // or journal mode." (https://www.sqlite.org/pragma.html#pragma_synchronous; tested with
  // SIGKILL mid-burst in test/stores/sqlite.test.ts). FULL syncs every commit: about twenty
  // times fewer rotations here, for the power-loss case only (docs/workers.md).
  // journal_size_limit: a WAL that once grew large (a long reader held checkpoints back, a disk
  // filled) is cut back to 4 MiB at its next reset, instead of holding that disk space forever.
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA journal_size_limit = 4194304;');
  return db;
}

/** The write transactions of one database. */
export class Transactions {
  readonly #db: DatabaseSync;
  readonly #busyTimeoutMs: number;

  constructor(db: DatabaseSync, busyTimeoutMs: number) {
    this.#db = db;
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  /** Runs `body` in one IMMEDIATE transaction, waiting for the write lock with SQLite's busy handler (at start-up only). */
  now<T>(body: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    return this.#inTx(body);
  }

  #inTx<T>(body: () => T): T {
    try {
      const result = body();
      this.#db.exec('COMMIT');
      return result;
    } catch (err) {
      // SQLite rolls back by itself on some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY): a
      // ROLLBACK then fails with "no transaction is active" and would hide the error that says why.
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  /**
   * Runs `body` in an IMMEDIATE transaction (write lock first), resolving once it is committed.
   * Bodies that arrive in the same turn of the event loop (the requests of one poll phase) share
   * one transaction, each in a savepoint of its own — group commit: a commit is a write of the WAL,
   * the largest single cost of a rotation on SQLite in a profile of the refresh grant (2026-12-07),
   * and now one per batch of up to 64. A body that throws rolls back to its savepoint and rejects
   * alone; an error SQLite rolled the whole transaction back on (SQLITE_FULL, SQLITE_IOERR), or a
   * failed COMMIT, rejects every body of the batch, none of whose writes were kept. Bodies run in
   * the order they arrived, each seeing the writes of those before it, as separate transactions
   * would.
   *
   * When another process holds the write lock, this one yields to the event loop and tries again,
   * up to `busyTimeoutMs`: SQLite's busy handler would sleep the whole process 1, 2, 5, 10… ms
   * between tries, whatever the holder does (a rotation holds the lock for tens of µs), and every
   * other request of the process with it — the limit of two processes on one file
   * (docs/workers.md). BEGIN, the bodies and COMMIT run in one synchronous stretch: no other call
   * of this process can slip into the transaction.
   */
  run<T>(body: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ body, resolve: resolve as (value: unknown) => void, reject });
      if (this.#queue.length === 1) setImmediate(() => void this.#flush());
    });
  }

  readonly #queue: Pending[] = [];

  /** Takes the write lock, yielding between tries while another process holds it. */
  async #begin(): Promise<void> {
    const deadline = performance.now() + this.#busyTimeoutMs;
    for (let tries = 0; ; tries++) {
      try {
        // Parsed each time, not prepared once: SQLite applies PRAGMA busy_timeout when it compiles
        // the statement, and the first step of a prepared one does not recompile it — the first
        // BEGIN of a store ran with the busy handler on and slept the thread (red team rt2). Once a batch.
        this.#db.exec('PRAGMA busy_timeout = 0');
        try {
          this.#db.exec('BEGIN IMMEDIATE');
        } finally {
          this.#db.exec(`PRAGMA busy_timeout = ${this.#busyTimeoutMs}`);
        }
        return;
      } catch (err) {
        // SQLITE_BUSY (5): another connection holds the write lock.
        if ((err as { errcode?: number }).errcode !== 5 || performance.now() > deadline) throw err;
        await new Promise((resolve) => (tries < 8 ? setImmediate(resolve) : setTimeout(resolve, 1)));
      }
    }
  }

  async #flush(): Promise<void> {
    // The batch is what arrived until the lock is held: those arriving while this one waits join it.
    try {
      await this.#begin();
    } catch (err) {
      for (const p of this.#queue.splice(0)) p.reject(err);
      return;
    }
    const batch = this.#queue.splice(0, MAX_BATCH);
    if (this.#queue.length > 0) setImmediate(() => void this.#flush());
    const settle: (() => void)[] = [];
    try {
      if (batch.length === 1) {
        const only = batch[0] as Pending;
        const value = this.#inTx(only.body);
        return only.resolve(value);
      }
      this.#savepoint ??= {
        set: this.#db.prepare('SAVEPOINT baton_batch'),
        release: this.#db.prepare('RELEASE baton_batch'),
        undo: this.#db.prepare('ROLLBACK TO baton_batch'),
      };
      const sp = this.#savepoint;
      for (const p of batch) {
        sp.set.run();
        try {
          const value = p.body();
          sp.release.run();
          settle.push(() => p.resolve(value));
        } catch (err) {
          // SQLite rolled the whole transaction back: the bodies before lost their writes too.
          if (!this.#db.isTransaction) throw err;
          sp.undo.run();
          sp.release.run();
          settle.push(() => p.reject(err));
        }
      }
      this.#db.exec('COMMIT');
    } catch (err) {
      if (batch.length === 1) return (batch[0] as Pending).reject(err);
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      for (const p of batch) p.reject(err);
      return;
    }
    for (const done of settle) done();
  }

  #savepoint: { set: StatementSync; release: StatementSync; undo: StatementSync } | undefined;
}

/** A body waiting for its batch (`Transactions.run`). */
interface Pending {
  body: () => unknown;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/** The most bodies one transaction holds: a batch holds the write lock for tens of µs each. */
const MAX_BATCH = 64;

/** Applies pending migrations, each in its own transaction, and records the version in `PRAGMA user_version`. */
export function migrate(db: DatabaseSync, transactions: Transactions): void {
  const version = Number((db.prepare('PRAGMA user_version').get() as Row).user_version);
  if (version > MIGRATIONS.length) {
    throw new BatonConfigError(`The SQLite database has schema version ${version}, newer than this Baton knows (${MIGRATIONS.length}); upgrade Baton.`);
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    transactions.now(() => {
      db.exec(MIGRATIONS[v] as string);
      db.exec(`PRAGMA user_version = ${v + 1}`);
    });
  }
}

/** The schema version (`PRAGMA user_version`) this Baton writes: a database above it was written by a newer one. */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The schema objects (type, name and SQL of each table and index, SQLite's own left out) that a
 * database at `version` has, sorted: `baton restore` accepts a backup holding these and nothing
 * else (a trigger or view planted in a copy would run inside every later write of the service).
 */
export function sqliteSchemaAt(version: number): string[] {
  const db = new DatabaseSync(':memory:');
  try {
    for (const migration of MIGRATIONS.slice(0, version)) db.exec(migration);
    return sqliteSchemaOf(db);
  } finally {
    db.close();
  }
}

/** The schema objects of an open database, as `sqliteSchemaAt` lists them (whitespace collapsed: migrations were re-indented over time). */
export function sqliteSchemaOf(db: DatabaseSync): string[] {
  return (
    db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name").all() as {
      type: string;
      name: string;
      sql: string | null;
    }[]
  ).map((o) => `${o.type} ${o.name}: ${(o.sql ?? '').replace(/\s+/g, ' ')}`);
}
