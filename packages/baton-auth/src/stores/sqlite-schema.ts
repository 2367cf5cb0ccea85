/**
 * The SQLite store's schema: its migrations, the row ↔ record mapping and the prepared queries.
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import type { SessionEndDetail } from '../core/store.ts';
import type { RevocationEvent, SessionRecord } from './types.ts';

/** Schema migrations, applied in order; `PRAGMA user_version` records how many ran. */
export const MIGRATIONS: string[] = [
  `CREATE TABLE baton_sessions (
     id TEXT PRIMARY KEY, user_id TEXT NOT NULL, client_id TEXT NOT NULL, scope TEXT NOT NULL, device TEXT NOT NULL,
     created_at INTEGER NOT NULL, last_used_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, idle_expires_at INTEGER NOT NULL,
     generation INTEGER NOT NULL, rotated_at INTEGER NOT NULL, prev_rotated_at INTEGER NOT NULL,
     rate_window_start INTEGER NOT NULL, rate_count INTEGER NOT NULL, revoked_at INTEGER, revoke_reason TEXT
   ) STRICT;
   CREATE INDEX baton_sessions_user ON baton_sessions (user_id, created_at);
   CREATE TABLE baton_consumed_jti (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) STRICT;
   CREATE TABLE baton_denied_jti (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) STRICT;
   CREATE TABLE baton_opaque_tokens (hash TEXT PRIMARY KEY, claims TEXT NOT NULL, expires_at INTEGER NOT NULL) STRICT;
   CREATE TABLE baton_revocations (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, id TEXT NOT NULL,
     at INTEGER NOT NULL, expires_at INTEGER NOT NULL, reason TEXT NOT NULL
   ) STRICT;
   CREATE INDEX baton_revocations_expiry ON baton_revocations (expires_at);`,
  `CREATE TABLE baton_records (kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (kind, key)) STRICT;
   CREATE TABLE baton_counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, reset_at INTEGER NOT NULL) STRICT;`,
  // 3: grace answers are counted per generation, apart from the rotation rate limit.
  `ALTER TABLE baton_sessions ADD COLUMN grace_count INTEGER NOT NULL DEFAULT 0;`,
  // 4: why a session ended (with who ended it), grace answers over a session's life; the
  // denylist is the revocation log alone.
  `ALTER TABLE baton_sessions ADD COLUMN grace_total INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE baton_sessions ADD COLUMN revoke_detail TEXT;
   ALTER TABLE baton_revocations ADD COLUMN detail TEXT;
   DROP TABLE baton_denied_jti;`,
  // 5: the resources (RFC 8707) a session's access tokens may name.
  `ALTER TABLE baton_sessions ADD COLUMN resource TEXT NOT NULL DEFAULT '';`,
  // 6: the thumbprint (RFC 7638) of the DPoP key a session is bound to; NULL: not bound.
  `ALTER TABLE baton_sessions ADD COLUMN jkt TEXT;`,
  // 7: a user's active sessions indexed apart from the ended ones (a login's eviction and the
  // device list walk only those), and the history read in pages, in its order, from an index.
  // Queries of instances not yet upgraded run unchanged on these indexes.
  `CREATE INDEX IF NOT EXISTS baton_sessions_active ON baton_sessions (user_id, created_at, id) WHERE revoked_at IS NULL;
   CREATE INDEX IF NOT EXISTS baton_sessions_history ON baton_sessions (user_id, created_at, id);
   DROP INDEX IF EXISTS baton_sessions_user;`,
];

/** The columns of a session row, in the order of `toRow`. */
export const COLUMNS = [
  'id',
  'user_id',
  'client_id',
  'scope',
  'device',
  'created_at',
  'last_used_at',
  'expires_at',
  'idle_expires_at',
  'generation',
  'rotated_at',
  'prev_rotated_at',
  'rate_window_start',
  'rate_count',
  'grace_count',
  'grace_total',
  'revoked_at',
  'revoke_reason',
  'revoke_detail',
  'resource',
  'jkt',
] as const;

/** A row as node:sqlite returns it. */
export type Row = Record<string, SQLInputValue>;

export function toRecord(row: Row): SessionRecord {
  return {
    id: row.id as string,
    userId: row.user_id as string,
    clientId: row.client_id as string,
    scope: row.scope as string,
    resource: (row.resource as string | null) ?? '',
    ...(typeof row.jkt === 'string' && row.jkt !== '' ? { jkt: row.jkt } : {}),
    device: JSON.parse(row.device as string) as SessionRecord['device'],
    createdAt: Number(row.created_at),
    lastUsedAt: Number(row.last_used_at),
    expiresAt: Number(row.expires_at),
    idleExpiresAt: Number(row.idle_expires_at),
    generation: Number(row.generation),
    rotatedAt: Number(row.rotated_at),
    prevRotatedAt: Number(row.prev_rotated_at),
    rateWindowStart: Number(row.rate_window_start),
    rateCount: Number(row.rate_count),
    graceCount: Number(row.grace_count),
    graceTotal: Number(row.grace_total),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    revokeReason: (row.revoke_reason as string | null) ?? null,
    revokeDetail: row.revoke_detail === null ? null : (JSON.parse(row.revoke_detail as string) as SessionEndDetail),
  };
}

export function toRow(s: SessionRecord): SQLInputValue[] {
  return [
    s.id,
    s.userId,
    s.clientId,
    s.scope,
    JSON.stringify(s.device),
    s.createdAt,
    s.lastUsedAt,
    s.expiresAt,
    s.idleExpiresAt,
    s.generation,
    s.rotatedAt,
    s.prevRotatedAt,
    s.rateWindowStart,
    s.rateCount,
    s.graceCount,
    s.graceTotal,
    s.revokedAt,
    s.revokeReason,
    s.revokeDetail === null ? null : JSON.stringify(s.revokeDetail),
    s.resource,
    s.jkt ?? null,
  ];
}

export function toEvent(row: Row): RevocationEvent {
  const event: RevocationEvent = {
    kind: row.kind as RevocationEvent['kind'],
    id: row.id as string,
    at: Number(row.at),
    expiresAt: Number(row.expires_at),
    reason: row.reason as string,
  };
  if (row.detail !== null && row.detail !== undefined) event.detail = JSON.parse(row.detail as string) as SessionEndDetail;
  if (row.seq !== undefined && row.seq !== null) event.seq = Number(row.seq);
  return event;
}

const ACTIVE = 'revoked_at IS NULL AND expires_at > ? AND idle_expires_at > ?';

/**
 * The statements that read one user's sessions, each bounded: the active ones through the partial
 * index, a page of the history through its index, and the ended ones (kept at most
 * `ENDED_SESSIONS_PER_USER` after each login) to delete beyond the most recently ended. Exported
 * so that a test can hold their query plans to the indexes.
 */
export const USER_QUERIES = {
  listActive: `SELECT * FROM baton_sessions WHERE user_id = ? AND ${ACTIVE} ORDER BY created_at, id`,
  history: 'SELECT * FROM baton_sessions WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?',
  historyBefore: 'SELECT * FROM baton_sessions WHERE user_id = ? AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?',
  pruneEnded: `DELETE FROM baton_sessions WHERE id IN (
    SELECT id FROM baton_sessions WHERE user_id = ?1 AND (revoked_at IS NOT NULL OR expires_at <= ?2 OR idle_expires_at <= ?2)
     ORDER BY min(expires_at, idle_expires_at, coalesce(revoked_at, expires_at)) DESC, id DESC LIMIT -1 OFFSET ?3)`,
  userIds: 'SELECT id FROM baton_sessions WHERE user_id = ? AND revoked_at IS NULL AND id IS NOT ?',
} as const;

/** Every statement the store runs, prepared once. */
export function prepareQueries(db: DatabaseSync) {
  const cols = COLUMNS.join(', ');
  const prepare = (sql: string): StatementSync => db.prepare(sql);
  return {
    insert: prepare(`INSERT INTO baton_sessions (${cols}) VALUES (${COLUMNS.map(() => '?').join(', ')})`),
    get: prepare('SELECT * FROM baton_sessions WHERE id = ?'),
    listActive: prepare(USER_QUERIES.listActive),
    // The conditional UPDATE: it only applies to the generation and counters the decision was made on.
    update: prepare(
      `UPDATE baton_sessions SET ${COLUMNS.slice(1)
        .map((c) => `${c} = ?`)
        .join(', ')} WHERE id = ? AND generation = ? AND rate_count = ? AND grace_count = ?`,
    ),
    revoke: prepare(`UPDATE baton_sessions SET revoked_at = ?, revoke_reason = ?, revoke_detail = ? WHERE id = ? AND revoked_at IS NULL`),
    history: prepare(USER_QUERIES.history),
    historyBefore: prepare(USER_QUERIES.historyBefore),
    pruneEnded: prepare(USER_QUERIES.pruneEnded),
    userIds: prepare(USER_QUERIES.userIds),
    consumed: prepare(
      'INSERT INTO baton_consumed_jti (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at WHERE baton_consumed_jti.expires_at <= ?',
    ),
    saveOpaque: prepare('INSERT OR REPLACE INTO baton_opaque_tokens (hash, claims, expires_at) VALUES (?, ?, ?)'),
    findOpaque: prepare('SELECT claims, expires_at FROM baton_opaque_tokens WHERE hash = ? AND expires_at > ?'),
    deleteOpaque: prepare('DELETE FROM baton_opaque_tokens WHERE hash = ?'),
    logRevocation: prepare('INSERT INTO baton_revocations (kind, id, at, expires_at, reason, detail) VALUES (?, ?, ?, ?, ?, ?)'),
    revocationsSince: prepare('SELECT * FROM baton_revocations WHERE expires_at >= ? ORDER BY seq'),
    revocationsAfter: prepare('SELECT * FROM baton_revocations WHERE seq > ? ORDER BY seq'),
    // seq is AUTOINCREMENT and writes are serialized (BEGIN IMMEDIATE): seq order is commit order.
    revocationsPage: prepare('SELECT * FROM baton_revocations WHERE seq > ? AND expires_at > ? ORDER BY seq LIMIT ?'),
    maxSeq: prepare('SELECT coalesce(max(seq), 0) AS seq FROM baton_revocations'),
    headSeq: prepare("SELECT seq FROM sqlite_sequence WHERE name = 'baton_revocations'"),
    putRecord: prepare('INSERT INTO baton_records (kind, key, value) VALUES (?, ?, ?) ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value'),
    addRecord: prepare('INSERT INTO baton_records (kind, key, value) VALUES (?, ?, ?) ON CONFLICT (kind, key) DO NOTHING'),
    getRecord: prepare('SELECT value FROM baton_records WHERE kind = ? AND key = ?'),
    deleteRecord: prepare('DELETE FROM baton_records WHERE kind = ? AND key = ?'),
    listRecords: prepare('SELECT key, value FROM baton_records WHERE kind = ? ORDER BY key'),
    // One statement: a counter past its window (or forced) starts again, else it grows.
    hitCounter: prepare(`INSERT INTO baton_counters (key, count, reset_at) VALUES (?1, ?2, ?3 + ?4)
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN ?5 OR reset_at <= ?3 THEN ?2 ELSE count + ?2 END,
        reset_at = CASE WHEN ?5 OR reset_at <= ?3 THEN ?3 + ?4 ELSE reset_at END
      RETURNING count, reset_at`),
    getCounter: prepare('SELECT count, reset_at FROM baton_counters WHERE key = ? AND reset_at > ?'),
    deleteCounter: prepare('DELETE FROM baton_counters WHERE key = ?'),
    // LIKE finds the prefix (wildcards escaped); SQLite's LIKE ignores ASCII case, so the exact prefix is compared too.
    counterKeys: prepare(`SELECT key FROM baton_counters WHERE key LIKE ?1 ESCAPE '\\' AND substr(key, 1, length(?2)) = ?2 AND reset_at > ?3`),
    ping: prepare('SELECT 1 AS ok'),
  };
}
