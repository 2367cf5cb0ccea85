/**
 * The store port: what the engine needs from a store, split by concern. Every store (memory,
 * SQLite, Redis, PostgreSQL, yours) implements it and proves it by passing the conformance suite
 * in `baton-auth/stores/testing`.
 *
 * Each operation that decides something is atomic in the store itself (a Lua script, a
 * transaction or a conditional `UPDATE`), never a read-then-write in Node; each method says so,
 * and what it answers when nothing is found. Times are milliseconds since the epoch and come from
 * the caller, so one injectable clock drives them.
 */
import type { AccessTokenClaims } from './claims.ts';
import type { SessionEndDetail, SessionHistoryPage, SessionRecord, SessionSummary } from './session-record.ts';

export { ENDED_SESSION_RETENTION_MS, ENDED_SESSIONS_PER_USER, MAX_SESSIONS_PER_USER, SESSION_HISTORY_PAGE } from './session-record.ts';
export type { DeviceInfo, SessionEndDetail, SessionEndReason, SessionHistoryPage, SessionRecord, SessionSummary } from './session-record.ts';

/** Outcomes of `rotate`. */
export type RotateStatus = 'rotated' | 'replayed_in_grace' | 'reused' | 'expired' | 'revoked' | 'unknown' | 'rate_limited';

/** What `rotate` is asked to do. */
export interface RotateRequest {
  sessionId: string;
  /** The generation of the presented refresh token. */
  generation: number;
  /**
   * The client presenting the token. Always compared: a session of another client is `unknown`
   * (RFC 6749 §6 and §10.4: a refresh token is bound to the client it was issued to).
   */
  clientId: string;
  now: number;
  /** How long a retired generation still converges on the current one, in ms. */
  graceMs: number;
  /** The idle lifetime a rotation grants, in ms. */
  idleTtlMs: number;
  /** How long a revocation (on reuse) must be remembered by verifiers, in ms. */
  revocationTtlMs: number;
  /** At most `max` rotations per `windowMs` per session. Grace answers do not count. */
  rateLimit?: { max: number; windowMs: number };
  /**
   * At most this many grace answers per generation (each makes the engine sign a new access
   * token); the next is `rate_limited` with `retryAfterMs: 1000`. Absent: no bound.
   */
  graceLimit?: number;
  /** The presenter's address, recorded with a reuse (`revokeDetail.ip`). */
  ip?: string;
}

/**
 * `rotated`: this caller won and the session advanced one generation. `replayed_in_grace`: a
 * retired generation inside the grace window (|now - retiredAt| <= graceMs); only the
 * session's `graceCount` grew, the caller gets the current generation.
 * `reused`: a retired generation outside the grace window; the session is now revoked.
 * `expired`, `revoked`, `unknown` (no such session, a generation ahead, another client):
 * nothing changed. `rate_limited`: nothing changed; retry after `retryAfterMs` (a rotation over
 * `rateLimit`, a grace answer over `graceLimit`, or a retired generation presented at a `now`
 * more than `graceMs` before its retirement: a clock behind the record's).
 */
export interface RotateResult {
  status: RotateStatus;
  /** The session as it is after the operation (absent for `unknown`). Stores may return the whole record. */
  session?: SessionSummary;
  retryAfterMs?: number;
}

/** A revocation, as published to every instance and kept for `revocationsSince`. */
export interface RevocationEvent {
  /**
   * `session`: `id` is a session id; `token`: `id` is an access token's `jti`; `key`: `id` is the
   * `kid` of a key taken out of service (a compromised key), which every instance drops.
   */
  kind: 'session' | 'token' | 'key';
  id: string;
  at: number;
  /** After this no token it concerns can still be valid; verifiers may forget it. */
  expiresAt: number;
  reason: string;
  /** For a session: what was recorded with its end. */
  detail?: SessionEndDetail;
  /**
   * The store's cursor of this event in the log, assigned in commit order (`revocationsAfter`):
   * never from a clock, so no instance's skew can put an event behind one already read. Set on
   * events read from the log; a subscriber's message may lack it.
   */
  seq?: number;
}

/** What every revocation is told: when, why, and how long verifiers must remember it. */
export interface Revocation {
  now: number;
  reason: string;
  /** Recorded with the session and published with the revocation. */
  detail?: SessionEndDetail;
  /** How long the revocation must be remembered by verifiers, in ms (no token it concerns outlives it). */
  revocationTtlMs: number;
}

/** An opaque access token's state, kept under the token's hash. */
export interface OpaqueTokenRecord {
  claims: AccessTokenClaims;
  expiresAt: number;
}

/** Sessions: the families of refresh tokens, and the rotation decision. */
export interface SessionStore {
  /**
   * Inserts a session and, with `maxSessionsPerUser` > 0 (Baton passes 1 to
   * `MAX_SESSIONS_PER_USER`; 0, no eviction, is for tests and imports), revokes the user's oldest active
   * sessions so that at most that many remain, the new one included — one atomic operation, so
   * racing logins cannot both keep theirs — with reason `evicted` and detail `{ by: <new id>,
   * byDevice: <its device> }`. In the same operation it deletes the user's ended sessions (revoked,
   * or past their idle or absolute end at `now`) but the `ENDED_SESSIONS_PER_USER` most recently
   * ended. It reads the user's active sessions (indexed apart from ended ones) and the ended ones
   * kept, never more: after it, a user has at most that many ended sessions, and between logins
   * only sessions that were active at the last one can join them. Answers the evicted ids (`[]`: none).
   */
  createSession(session: SessionRecord, options: Omit<Revocation, 'reason'> & { maxSessionsPerUser: number }): Promise<{ evicted: string[] }>;
  /** The session, whatever its state (revoked and ended ones until swept), or `null`. */
  getSession(id: string): Promise<SessionRecord | null>;
  /** The user's sessions neither revoked nor ended at `now`, oldest first; `[]` when none. Reads no ended session but those not yet set apart since the last login. */
  listSessions(userId: string, now: number): Promise<SessionRecord[]>;
  /**
   * One page of the user's sessions in any state that the store still keeps (ended ones for
   * `ENDED_SESSION_RETENTION_MS` after their end, at most `ENDED_SESSIONS_PER_USER` of them),
   * newest first (`createdAt`, then `id`, descending), at most `page.limit` of them; `[]` when none.
   */
  sessionHistory(userId: string, now: number, page?: SessionHistoryPage): Promise<SessionRecord[]>;
  /**
   * The rotation decision (`rotation.ts`), atomically: exactly one of many racers rotates. A
   * reuse records `{ generation, retiredAt, ip }` as the session's `revokeDetail` and publishes
   * it. See `RotateResult`.
   */
  rotate(request: RotateRequest): Promise<RotateResult>;
  /** Revokes one active session, records the reason and detail, and publishes them, atomically; `false` when it was not active or does not exist. */
  revokeSession(id: string, revocation: Revocation): Promise<boolean>;
  /** Revokes and publishes all the user's active sessions but `except`, atomically; answers the revoked ids (`[]`: none). */
  revokeUserSessions(userId: string, revocation: Revocation & { except?: string }): Promise<string[]>;
}

/** The one-time ledger of access tokens (the replay guard). */
export interface OneTimeLedger {
  /** Marks `jti` used until `expiresAt`, atomically: `true` only for the first caller. */
  consumeJti(jti: string, expiresAt: number, now: number): Promise<boolean>;
}

/** The revocation log: what every instance must hear of, now or when it comes back. */
export interface RevocationLog {
  /** Puts an access token's `jti` on the denylist until `expiresAt` and publishes it, atomically. */
  denyJti(jti: string, expiresAt: number, now: number): Promise<void>;
  /**
   * Publishes and logs a revocation that concerns no session or token of the store — a key taken
   * out of service — atomically.
   */
  announce(event: RevocationEvent): Promise<void>;
  /** Revocations still in force at `since` or later (what an instance missed while away); `[]` when none. */
  revocationsSince(since: number): Promise<RevocationEvent[]>;
  /**
   * The logged revocations whose `seq` is greater than `after`, in increasing `seq`, at most
   * `limit`, each with its `seq`; ones expired at `now` may be left out. `seq` is assigned in
   * commit order: once a reader has seen `seq` n, no revocation committed later gets a `seq` ≤ n,
   * so a reader that resumes after the last `seq` it saw misses none, whatever the instances'
   * clocks say. It never goes back, not even when the backend lost its data (a memory store, a
   * Redis without persistence start from the time in µs). `after` 0: from the start.
   */
  revocationsAfter(after: number, limit: number, now: number): Promise<RevocationEvent[]>;
  /**
   * The largest `seq` the log has handed out (at least), or 0. A cursor above it was never handed
   * out by this log (the backend lost its last writes, or it is another log's): the feed treats it
   * as unknown and sends the whole backlog in force. Optional: without it a cursor is trusted.
   */
  revocationHead?(): Promise<number>;
  /**
   * Calls `listener` for every revocation made through any client of this store, from now on,
   * each once. Resolves once the subscription is live; the returned function ends it.
   */
  subscribe(listener: (event: RevocationEvent) => void): Promise<() => void>;
}

/** Opaque access tokens (`tokenFormat: 'opaque'`), kept under the token's hash. Optional for stores of JWT-only engines. */
export interface OpaqueTokenStore {
  saveOpaqueToken(hash: string, record: OpaqueTokenRecord, now: number): Promise<void>;
  /** The record while it is unexpired at `now`, else `null`. */
  findOpaqueToken(hash: string, now: number): Promise<OpaqueTokenRecord | null>;
  /** Deletes it; nothing happens when it does not exist. */
  deleteOpaqueToken(hash: string): Promise<void>;
}

/** What every store does for its own upkeep. */
export interface StoreLifecycle {
  /**
   * Resolves when the backend answered a trivial round trip (a `PING`, a `SELECT 1`), rejects
   * otherwise, within seconds rather than waiting for a reconnection. Used at start-up and by
   * readiness checks.
   */
  ping(): Promise<void>;
  /**
   * Whether revocations published by other clients reach this one's subscribers right now (a
   * Redis subscriber connected, a PostgreSQL `LISTEN` in place). Optional: a store without it
   * (memory, SQLite's polling) is always subscribed. Used by readiness checks.
   */
  subscribed?(): boolean;
  /**
   * Deletes what ended by `now`: sessions `ENDED_SESSION_RETENTION_MS` after their end (revoked,
   * or past their idle or absolute end, whichever came first); spent jtis, opaque tokens and
   * revocations past their expiry; counters past their reset. Returns how many records went.
   * Stores whose keys carry TTLs (Redis) leave all but the revocation log to them.
   */
  sweep(now: number): Promise<number>;
  close(): Promise<void>;
  /**
   * The database, as OpenTelemetry names it (`db.system.name`: `sqlite`, `redis`, `postgresql`),
   * on the spans of the store's calls. Optional: absent (the memory store), the spans name none.
   */
  readonly dbSystemName?: string;
}

/** What the engine needs of a store. */
export interface TokenStore extends SessionStore, OneTimeLedger, RevocationLog, Partial<OpaqueTokenStore>, StoreLifecycle {}

/** The methods of each concern, as the engine checks a store given to it and guards its calls. */
export const STORE_METHODS = {
  required: [
    'createSession',
    'getSession',
    'listSessions',
    'sessionHistory',
    'rotate',
    'revokeSession',
    'revokeUserSessions',
    'consumeJti',
    'denyJti',
    'announce',
    'revocationsSince',
    'revocationsAfter',
    'subscribe',
    'ping',
    'sweep',
    'close',
  ],
  opaque: ['saveOpaqueToken', 'findOpaqueToken', 'deleteOpaqueToken'],
  /** Used when present: a store's counters (`CounterStore.hitCounter`, a user's login budget), the log's head. */
  counters: ['hitCounter', 'revocationHead'],
} as const;
