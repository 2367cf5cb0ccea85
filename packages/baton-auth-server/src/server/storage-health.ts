/**
 * Whether the store can write (#22: a full disk or a corrupted page answered 503 forever while
 * `/readyz` said ready and nothing was logged). Every store call of the service passes through
 * `watch`: a failure that says the storage itself is failing (full, corrupt, read-only, I/O)
 * marks the store failing, a probe write that succeeds marks it healthy again (a request's
 * write that succeeds starts one), and each change (not each request) is logged once. `/readyz`
 * reports it, and probes with a write of its own (while failing, at most once a second, and every
 * 10 s while no request wrote), so that readiness comes back once the store writes again, and a
 * full disk shows before a request fails on it.
 */
import type { BatonStore } from 'baton-auth';
import type pino from 'pino';

/** SQLite primary result codes of a storage that cannot do its work (https://sqlite.org/rescode.html). */
const SQLITE: Record<number, [string, string]> = {
  13: ['SQLITE_FULL', 'disk full'],
  11: ['SQLITE_CORRUPT', 'the database file is corrupt'],
  26: ['SQLITE_NOTADB', 'the database file is not a database (overwritten?)'],
  10: ['SQLITE_IOERR', 'an I/O error reading or writing the database file'],
  8: ['SQLITE_READONLY', 'the database file or its folder is read-only'],
  14: ['SQLITE_CANTOPEN', 'the database file cannot be opened'],
};
/** PostgreSQL SQLSTATEs of the same kind (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
const POSTGRES: Record<string, string> = { 53100: 'disk full', 53200: 'out of memory', XX001: 'data corrupted', 25006: 'read-only transaction (a standby?)' };

/** What a failure says about the storage: its code and a reason a person can act on, or undefined for any other failure. */
export function storageFailure(err: unknown): { code: string; reason: string } | undefined {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, errcode, message } = e as { code?: unknown; errcode?: unknown; message?: unknown };
    const sqlite = typeof errcode === 'number' ? SQLITE[errcode & 0xff] : undefined;
    if (sqlite !== undefined) return { code: sqlite[0], reason: `${sqlite[1]} (${sqlite[0]})` };
    if (typeof code === 'string' && POSTGRES[code] !== undefined) return { code, reason: `${POSTGRES[code]} (SQLSTATE ${code})` };
    // Redis answers writes with these when it is out of memory or cannot persist.
    const redis = typeof message === 'string' ? /^(OOM|MISCONF)\b/.exec(message)?.[1] : undefined;
    if (redis !== undefined)
      return { code: redis, reason: redis === 'OOM' ? 'Redis is out of memory (OOM, maxmemory)' : 'Redis cannot persist to disk and refuses writes (MISCONF)' };
  }
  return undefined;
}

/** The store methods that write: one of them succeeding proves the store writes again. */
const WRITES = new Set([
  'createSession',
  'rotate',
  'revokeSession',
  'revokeUserSessions',
  'consumeJti',
  'denyJti',
  'announce',
  'saveOpaqueToken',
  'deleteOpaqueToken',
  'putRecord',
  'deleteRecord',
  'hitCounter',
  'deleteCounter',
  'sweep',
]);

/** The record the write probe writes (and deletes): about a page, so it needs room as a session would. */
const PROBE = { kind: 'health', key: 'write-probe', value: 'x'.repeat(2048) };

/** How often an idle store that writes fine is probed by /readyz: a full disk shows before the next request fails. */
const PROBE_EVERY_MS = 10_000;

export interface StorageHealth {
  /** The store with its failures and successes observed. */
  watch<S extends BatonStore>(store: S): S;
  /** 'ok', or why the store cannot write; first tries a write (one at a time) while failing or idle. */
  check(): Promise<string>;
}

/** A failure that does not heal: a corrupt database (SQLite's, or PostgreSQL's XX001). */
const sticky = (code: string): boolean => code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || code === 'XX001';

/** `store` behind a proxy that tells `wrote` of each write that succeeds and `failed` of each call that fails. */
function observe<S extends BatonStore>(store: S, wrote: () => void, failed: (err: unknown) => void): S {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      // Called on the store itself, not the proxy: its methods use private fields.
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.then(
          (answer: unknown) => {
            if (typeof key === 'string' && WRITES.has(key)) wrote();
            return answer;
          },
          (err: unknown) => {
            failed(err);
            throw err;
          },
        );
      };
    },
  });
}

/** Why the store cannot write, with what to do about it. */
function sentence(failing: { code: string; reason: string }): string {
  return `the store cannot write: ${failing.reason}${sticky(failing.code) ? '; stop the service and restore the database from a backup (docs/backups.md)' : failing.code === 'SQLITE_FULL' || failing.code === '53100' ? '; free space on its volume' : ''}`;
}

class Health implements StorageHealth {
  #failing: { code: string; reason: string } | undefined;
  #watched: (BatonStore & { checkpoint?: () => Promise<void> }) | undefined;
  #probing: Promise<void> | undefined;
  /** When a write last succeeded (0: none yet): an idle store is probed at most every PROBE_EVERY_MS. */
  #lastWrite = 0;
  #lastProbe = 0;
  readonly #logger: pino.Logger;

  constructor(logger: pino.Logger) {
    this.#logger = logger;
  }

  watch<S extends BatonStore>(store: S): S {
    const proxy = observe(
      store,
      () => this.#wrote(),
      (err) => this.#failed(err),
    );
    this.#watched = proxy;
    return proxy;
  }

  async check(): Promise<string> {
    // /readyz is unauthenticated: however often it is asked, at most one probe (a checkpoint and two writes) a second.
    const due = this.#probing !== undefined || Date.now() - this.#lastProbe >= 1000;
    if (due && (this.#failing === undefined ? Date.now() - this.#lastWrite >= PROBE_EVERY_MS : !sticky(this.#failing.code))) await this.#probe();
    if (this.#failing === undefined) return 'ok';
    return sentence(this.#failing);
  }

  /**
   * Checkpoints (SQLite) and writes a probe record, one probe at a time. A full SQLite WAL is
   * only ever emptied by a checkpoint, which SQLite runs after a commit succeeds: once the WAL
   * filled the volume no commit succeeds, so without this it stayed full for good (and after a
   * restart that did not close cleanly too); the checkpoint folds it into the database and
   * truncates it as soon as the database has room to take it.
   */
  #probe(): Promise<void> {
    const store = this.#watched;
    if (store === undefined) return Promise.resolve();
    this.#lastProbe = Date.now();
    this.#probing ??= (async () => {
      try {
        await store.checkpoint?.().catch(() => undefined);
        await store.putRecord(PROBE.kind, PROBE.key, PROBE.value);
        await store.deleteRecord(PROBE.kind, PROBE.key);
        this.#recovered();
      } catch {
        // still failing: `failed` saw why
      } finally {
        this.#probing = undefined;
      }
    })();
    return this.#probing;
  }

  #failed(err: unknown): void {
    const kind = storageFailure(err);
    if (kind === undefined) return;
    // A full store is probed at once, then at most every second while requests keep failing.
    if (kind.code === 'SQLITE_FULL' && this.#probing === undefined && Date.now() - this.#lastProbe >= 1000) void this.#probe();
    // While failing, the first cause stands (a full disk can also fail a write as an I/O error:
    // one change, one line); only a corrupt database, which does not heal, is news.
    if (this.#failing !== undefined && (sticky(this.#failing.code) || !sticky(kind.code))) return;
    this.#failing = kind;
    // Once per change: the code and a sentence, never the driver's message (it may name hosts, users or data).
    this.#logger.error({ event: 'store.failing', code: kind.code }, `the store cannot write: ${kind.reason}`);
  }

  #recovered(): void {
    if (this.#failing === undefined || sticky(this.#failing.code)) return;
    this.#logger.info({ event: 'store.recovered', code: this.#failing.code }, `the store writes again (it failed with ${this.#failing.code})`);
    this.#failing = undefined;
  }

  // While failing, a request's write that succeeds proves nothing: one that changes nothing (a
  // login deleting no failure counter) commits without a page on a full disk, and the login's
  // session then fails — taken as recovery, every login logged two lines. Only the probe's own
  // write (a page's worth, as a session) says so; a success starts one, at most every second.
  #wrote(): void {
    this.#lastWrite = Date.now();
    if (this.#failing === undefined || sticky(this.#failing.code) || this.#probing !== undefined || Date.now() - this.#lastProbe < 1000) return;
    void this.#probe();
  }
}

/**
 * Observes the store. A corrupt database stays failing until restart: it does not heal, and a
 * write that lands on a sound page proves nothing about the others.
 */
export function storageHealth(logger: pino.Logger): StorageHealth {
  return new Health(logger);
}
