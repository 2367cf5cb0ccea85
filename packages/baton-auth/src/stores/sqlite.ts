/**
 * The embedded SQLite store on `node:sqlite` (no native build): zero set-up, one file, safe for
 * several processes on one machine. Import from `baton-auth/stores/sqlite`.
 *
 * WAL mode; every decision runs in one `BEGIN IMMEDIATE` transaction (the write lock is taken
 * first, so two processes cannot interleave a read and a write) ending in a conditional `UPDATE`.
 * A lock another process holds is waited for by yielding to the event loop, not by SQLite's busy
 * handler, which sleeps the whole process (see `Transactions.run` in `sqlite-db.ts`).
 * The schema is versioned (`PRAGMA user_version`) and migrated when the store opens.
 * Revocations go to a table that every client polls (`pollMs`), which is also how other
 * processes on the same file hear of them.
 *
 * @example
 * ```ts
 * import { sqliteStore } from 'baton-auth/stores/sqlite';
 * const store = sqliteStore({ path: './data/baton.sqlite' });
 * ```
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { BatonError } from '../core/errors.ts';
import { decideRotation } from '../core/rotation.ts';
import { ENDED_SESSION_RETENTION_MS, ENDED_SESSIONS_PER_USER, SESSION_HISTORY_PAGE } from '../core/store.ts';
import type { SessionHistoryPage } from '../core/store.ts';
import { likePrefix } from './sql.ts';
import type { OpaqueTokenRecord, RevocationEvent, RotateRequest, RotateResult, SessionRecord, BatonStore, Revocation } from './types.ts';
import { migrate, openDatabase, Transactions } from './sqlite-db.ts';
import { prepareQueries, toEvent, toRecord, toRow } from './sqlite-schema.ts';
import type { Row } from './sqlite-schema.ts';

export { SQLITE_SCHEMA_VERSION, sqliteSchemaAt, sqliteSchemaOf } from './sqlite-db.ts';

/** Options of `sqliteStore`. */
export interface SqliteStoreOptions {
  /** The database file; created with its directory if missing. `':memory:'` for a private, in-process database. */
  path: string;
  /** How often other clients' revocations are read, in ms. Default 100. */
  pollMs?: number;
  /** How long to wait for another process's write lock, in ms. Default 5000. */
  busyTimeoutMs?: number;
}

class SqliteStore implements BatonStore {
  /** `db.system.name` on the spans of its calls (OpenTelemetry's name for it). */
  readonly dbSystemName = 'sqlite';
  readonly #db: DatabaseSync;
  readonly #pollMs: number;
  readonly #listeners = new Set<(event: RevocationEvent) => void>();
  readonly #q: ReturnType<typeof prepareQueries>;
  readonly #txs: Transactions;
  #timer: NodeJS.Timeout | undefined;
  #lastSeq = 0;

  constructor(options: SqliteStoreOptions) {
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.#db = openDatabase(options.path, busyTimeoutMs);
    this.#pollMs = options.pollMs ?? 100;
    this.#txs = new Transactions(this.#db, busyTimeoutMs);
    migrate(this.#db, this.#txs);
    this.#q = prepareQueries(this.#db);
  }

  #revokeIn(id: string, r: Revocation): boolean {
    const detail = r.detail === undefined ? null : JSON.stringify(r.detail);
    if (Number(this.#q.revoke.run(r.now, r.reason, detail, id).changes) === 0) return false;
    this.#q.logRevocation.run('session', id, r.now, r.now + r.revocationTtlMs, r.reason, detail);
    return true;
  }

  #log(e: RevocationEvent): void {
    this.#q.logRevocation.run(e.kind, e.id, e.at, e.expiresAt, e.reason, e.detail === undefined ? null : JSON.stringify(e.detail));
  }

  async createSession(session: SessionRecord, options: Omit<Revocation, 'reason'> & { maxSessionsPerUser: number }): Promise<{ evicted: string[] }> {
    return this.#txs.run(() => {
      this.#q.insert.run(...toRow(session));
      const evicted: string[] = [];
      if (options.maxSessionsPerUser > 0) {
        const active = (this.#q.listActive.all(session.userId, options.now, options.now) as Row[]).map(toRecord);
        active.sort((a, b) => a.createdAt - b.createdAt || (a.id === session.id ? 1 : b.id === session.id ? -1 : 0));
        for (const old of active.slice(0, Math.max(0, active.length - options.maxSessionsPerUser))) {
          if (this.#revokeIn(old.id, { ...options, reason: 'evicted', detail: { by: session.id, byDevice: session.device } })) evicted.push(old.id);
        }
      }
      this.#q.pruneEnded.run(session.userId, options.now, ENDED_SESSIONS_PER_USER);
      return { evicted };
    });
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const row = this.#q.get.get(id) as Row | undefined;
    return row === undefined ? null : toRecord(row);
  }

  async listSessions(userId: string, now: number): Promise<SessionRecord[]> {
    return (this.#q.listActive.all(userId, now, now) as Row[]).map(toRecord);
  }

  async sessionHistory(userId: string, _now: number, page: SessionHistoryPage = {}): Promise<SessionRecord[]> {
    const limit = Math.max(1, Math.min(page.limit ?? SESSION_HISTORY_PAGE, SESSION_HISTORY_PAGE));
    const rows =
      page.before === undefined ? this.#q.history.all(userId, limit) : this.#q.historyBefore.all(userId, page.before.createdAt, page.before.id, limit);
    return (rows as Row[]).map(toRecord);
  }

  async rotate(request: RotateRequest): Promise<RotateResult> {
    return this.#txs.run(() => {
      const row = this.#q.get.get(request.sessionId) as Row | undefined;
      const before = row === undefined ? null : toRecord(row);
      const decision = decideRotation(before, request);
      if (decision.write !== undefined && before !== null) {
        const changed = this.#q.update.run(...toRow(decision.write).slice(1), before.id, before.generation, before.rateCount, before.graceCount);
        if (Number(changed?.changes) !== 1) throw new BatonError('ERR_STORE_UNAVAILABLE', 'rotation lost its row: a writer outside a transaction');
      }
      if (decision.status === 'reused') {
        const detail = (decision.write as SessionRecord).revokeDetail ?? undefined;
        this.#log({
          kind: 'session',
          id: request.sessionId,
          at: request.now,
          expiresAt: request.now + request.revocationTtlMs,
          reason: 'reused',
          ...(detail ? { detail } : {}),
        });
      }
      const result: RotateResult = { status: decision.status };
      if (decision.session !== undefined) result.session = decision.session;
      if (decision.retryAfterMs !== undefined) result.retryAfterMs = decision.retryAfterMs;
      return result;
    });
  }

  async revokeSession(id: string, options: Revocation): Promise<boolean> {
    return this.#txs.run(() => this.#revokeIn(id, options));
  }

  async revokeUserSessions(userId: string, options: Revocation & { except?: string }): Promise<string[]> {
    return this.#txs.run(() => {
      const ids = (this.#q.userIds.all(userId, options.except ?? null) as Row[]).map((r) => r.id as string);
      return ids.filter((id) => this.#revokeIn(id, options));
    });
  }

  async consumeJti(jti: string, expiresAt: number, now: number): Promise<boolean> {
    return Number(this.#q.consumed.run(jti, expiresAt, now).changes) === 1;
  }

  async denyJti(jti: string, expiresAt: number, now: number): Promise<void> {
    this.#log({ kind: 'token', id: jti, at: now, expiresAt, reason: 'revoked' });
  }

  async announce(event: RevocationEvent): Promise<void> {
    this.#log(event);
  }

  async saveOpaqueToken(hash: string, record: OpaqueTokenRecord): Promise<void> {
    this.#q.saveOpaque.run(hash, JSON.stringify(record.claims), record.expiresAt);
  }

  async findOpaqueToken(hash: string, now: number): Promise<OpaqueTokenRecord | null> {
    const row = this.#q.findOpaque.get(hash, now) as Row | undefined;
    return row === undefined ? null : { claims: JSON.parse(row.claims as string) as OpaqueTokenRecord['claims'], expiresAt: Number(row.expires_at) };
  }

  async deleteOpaqueToken(hash: string): Promise<void> {
    this.#q.deleteOpaque.run(hash);
  }

  async revocationsSince(since: number): Promise<RevocationEvent[]> {
    return (this.#q.revocationsSince.all(since) as Row[]).map(toEvent);
  }

  async revocationHead(): Promise<number> {
    // AUTOINCREMENT keeps the largest seq ever used, deleted rows included.
    return Number((this.#q.headSeq.get() as Row | undefined)?.seq ?? 0);
  }

  async revocationsAfter(after: number, limit: number, now: number): Promise<RevocationEvent[]> {
    return (this.#q.revocationsPage.all(after, now, limit) as Row[]).map(toEvent);
  }

  async subscribe(listener: (event: RevocationEvent) => void): Promise<() => void> {
    if (this.#listeners.size === 0) {
      this.#lastSeq = Number((this.#q.maxSeq.get() as Row).seq);
      this.#timer = setInterval(() => this.#poll(), this.#pollMs);
      this.#timer.unref();
    }
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) clearInterval(this.#timer);
    };
  }

  #poll(): void {
    let rows: Row[];
    try {
      rows = this.#q.revocationsAfter.all(this.#lastSeq) as Row[];
    } catch {
      return; // the database is busy or closing; the next poll reads what this one missed
    }
    for (const row of rows) {
      this.#lastSeq = Number(row.seq);
      const event = toEvent(row);
      for (const listener of this.#listeners) listener(event);
    }
  }

  async putRecord(kind: string, key: string, value: string, options?: { ifAbsent?: boolean }): Promise<boolean> {
    return Number((options?.ifAbsent ? this.#q.addRecord : this.#q.putRecord).run(kind, key, value).changes) === 1;
  }

  async getRecord(kind: string, key: string): Promise<string | null> {
    const row = this.#q.getRecord.get(kind, key) as Row | undefined;
    return row === undefined ? null : (row.value as string);
  }

  async deleteRecord(kind: string, key: string): Promise<boolean> {
    return Number(this.#q.deleteRecord.run(kind, key).changes) === 1;
  }

  async listRecords(kind: string): Promise<{ key: string; value: string }[]> {
    return (this.#q.listRecords.all(kind) as Row[]).map((r) => ({ key: r.key as string, value: r.value as string }));
  }

  async hitCounter(key: string, points: number, windowMs: number, now: number, force = false): Promise<{ count: number; resetAt: number }> {
    const row = this.#q.hitCounter.get(key, points, now, windowMs, force ? 1 : 0) as Row;
    return { count: Number(row.count), resetAt: Number(row.reset_at) };
  }

  async getCounter(key: string, now: number): Promise<{ count: number; resetAt: number } | null> {
    const row = this.#q.getCounter.get(key, now) as Row | undefined;
    return row === undefined ? null : { count: Number(row.count), resetAt: Number(row.reset_at) };
  }

  async getCounters(keys: readonly string[], now: number): Promise<({ count: number; resetAt: number } | null)[]> {
    let read = this.#counterReads.get(keys.length);
    if (read === undefined) {
      const list = keys.map((_, i) => `?${i + 2}`).join(', ');
      read = this.#db.prepare(`SELECT key, count, reset_at FROM baton_counters WHERE key IN (${list}) AND reset_at > ?1`);
      if (this.#counterReads.size < 8) this.#counterReads.set(keys.length, read);
    }
    const rows = new Map((read.all(now, ...keys) as Row[]).map((r) => [r.key as string, { count: Number(r.count), resetAt: Number(r.reset_at) }]));
    // SQLite stores a lone surrogate as U+FFFD (node:sqlite binds UTF-8): look keys up as they were stored.
    return keys.map((key) => rows.get(key.toWellFormed()) ?? null);
  }

  /** `getCounters`' statements by the number of keys, prepared once each (a few: the login protection reads two). */
  readonly #counterReads = new Map<number, StatementSync>();

  async deleteCounter(key: string): Promise<boolean> {
    return Number(this.#q.deleteCounter.run(key).changes) === 1;
  }

  async counterKeys(prefix: string, now: number): Promise<string[]> {
    return (this.#q.counterKeys.all(likePrefix(prefix), prefix, now) as Row[]).map((r) => r.key as string).sort();
  }

  async ping(): Promise<void> {
    this.#q.ping.get();
  }

  async sweep(now: number): Promise<number> {
    return this.#txs.run(() => {
      const run = (sql: string, ...params: SQLInputValue[]): number => Number(this.#db.prepare(sql).run(...params).changes);
      return (
        run('DELETE FROM baton_sessions WHERE min(expires_at, idle_expires_at, coalesce(revoked_at, expires_at)) <= ?', now - ENDED_SESSION_RETENTION_MS) +
        run('DELETE FROM baton_consumed_jti WHERE expires_at <= ?', now) +
        run('DELETE FROM baton_opaque_tokens WHERE expires_at <= ?', now) +
        run('DELETE FROM baton_revocations WHERE expires_at <= ?', now) +
        run('DELETE FROM baton_counters WHERE reset_at <= ?', now)
      );
    });
  }

  /**
   * Copies the WAL into the database and truncates it to nothing (`wal_checkpoint(TRUNCATE)`):
   * after a full disk, what gives its space back once some was freed. Throws what SQLite says
   * (SQLITE_FULL while there is still no room).
   */
  async checkpoint(): Promise<void> {
    this.#db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#listeners.clear();
    if (this.#db.isOpen) this.#db.close();
  }
}

/** Opens (and migrates) a SQLite store. */
export function sqliteStore(options: SqliteStoreOptions): BatonStore {
  return new SqliteStore(options);
}
