/**
 * The store contract. Every store (memory, SQLite, Redis, PostgreSQL) implements it, and proves
 * it by passing the conformance suite in `baton-auth/stores/testing`.
 *
 * Each operation that decides something is atomic in the store itself (a Lua script, a
 * transaction or a conditional `UPDATE`), never a read-then-write in Node. Times are
 * milliseconds since the epoch and come from the caller, so one injectable clock drives them.
 */
import type { AccessTokenClaims } from '../core/access-token.ts';

/** The device a session was opened from, as the application describes it. */
export interface DeviceInfo {
  userAgent?: string;
  ip?: string;
  /** A name the user will recognise ("Firefox on Linux"). */
  name?: string;
}

/** One login: the family of refresh tokens that rotate from it. */
export interface SessionRecord {
  id: string;
  userId: string;
  clientId: string;
  scope: string;
  device: DeviceInfo;
  createdAt: number;
  lastUsedAt: number;
  /** Absolute end of the session, whatever its use. */
  expiresAt: number;
  /** The session ends here unless a refresh comes first; each rotation moves it forward. */
  idleExpiresAt: number;
  /** The generation of the current refresh token; 0 at login, +1 per rotation. */
  generation: number;
  /** When the current generation was issued (and the one before it retired). */
  rotatedAt: number;
  /** When the generation before the current one was issued. */
  prevRotatedAt: number;
  /** Start and count of the current refresh rate-limit window (rotations only). */
  rateWindowStart: number;
  rateCount: number;
  /** Grace answers (`replayed_in_grace`) given for the current generation; 0 at login and after each rotation. */
  graceCount: number;
  revokedAt: number | null;
  revokeReason: string | null;
}

/** What a rotation answers about the session: all that issuing the next pair needs. */
export type SessionSummary = Pick<SessionRecord, 'id' | 'userId' | 'clientId' | 'scope' | 'generation' | 'expiresAt' | 'idleExpiresAt' | 'rotatedAt' | 'revokedAt'>;

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
}

/**
 * `rotated`: this caller won and the session advanced one generation. `replayed_in_grace`: a
 * retired generation inside the grace window; only the session's `graceCount` grew, the caller
 * gets the current generation.
 * `reused`: a retired generation outside the grace window; the session is now revoked.
 * `expired`, `revoked`, `unknown` (no such session, a generation ahead, another client):
 * nothing changed. `rate_limited`: nothing changed; retry after `retryAfterMs` (a rotation over
 * `rateLimit`, or a grace answer over `graceLimit`).
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
}

/** An opaque access token's state, kept under the token's hash. */
export interface OpaqueTokenRecord {
  claims: AccessTokenClaims;
  expiresAt: number;
}

/** The contract every Baton store implements. */
export interface TokenStore {
  /**
   * Inserts a session. With `maxSessionsPerUser` > 0, atomically revokes the user's oldest active
   * sessions so that at most that many remain (the new one included); returns the evicted ids.
   */
  createSession(session: SessionRecord, options: { maxSessionsPerUser: number; now: number; revocationTtlMs: number }): Promise<{ evicted: string[] }>;
  getSession(id: string): Promise<SessionRecord | null>;
  /** The user's sessions that are neither revoked nor expired at `now`, oldest first. */
  listSessions(userId: string, now: number): Promise<SessionRecord[]>;
  /** The rotation decision, atomically. See `RotateResult`. */
  rotate(request: RotateRequest): Promise<RotateResult>;
  /** Revokes one session; true when it was active. */
  revokeSession(id: string, options: { now: number; reason: string; revocationTtlMs: number }): Promise<boolean>;
  /** Revokes all the user's active sessions but `except`; returns the revoked ids. */
  revokeUserSessions(userId: string, options: { now: number; reason: string; revocationTtlMs: number; except?: string }): Promise<string[]>;
  /** Marks `jti` used; true only for the first caller (replay guard). Remembered until `expiresAt`. */
  consumeJti(jti: string, expiresAt: number, now: number): Promise<boolean>;
  /** Puts an access token's `jti` on the denylist until `expiresAt`, and publishes it. */
  denyJti(jti: string, expiresAt: number, now: number): Promise<void>;
  /**
   * Publishes a revocation that concerns no session or token of the store — a key taken out of
   * service — to every instance, and logs it for `revocationsSince`. One atomic operation.
   */
  announce(event: RevocationEvent): Promise<void>;
  isDenied(jti: string, now: number): Promise<boolean>;
  saveOpaqueToken(hash: string, record: OpaqueTokenRecord, now: number): Promise<void>;
  findOpaqueToken(hash: string, now: number): Promise<OpaqueTokenRecord | null>;
  deleteOpaqueToken(hash: string): Promise<void>;
  /** Revocations still in force at `since` or later (what an instance missed while away). */
  revocationsSince(since: number): Promise<RevocationEvent[]>;
  /**
   * Calls `listener` for every revocation made through any client of this store, from now on.
   * Resolves once the subscription is live; the returned function ends it.
   */
  subscribe(listener: (event: RevocationEvent) => void): Promise<() => void>;
  /**
   * Small named records kept beside the sessions (the service's users and signing keys), values
   * opaque to the store. With `ifAbsent`, the write happens only when the key is free, and the
   * answer says whether it did (first writer wins, across instances).
   */
  putRecord(kind: string, key: string, value: string, options?: { ifAbsent?: boolean }): Promise<boolean>;
  getRecord(kind: string, key: string): Promise<string | null>;
  deleteRecord(kind: string, key: string): Promise<boolean>;
  /** Every record of a kind, by key. */
  listRecords(kind: string): Promise<{ key: string; value: string }[]>;
  /**
   * Adds `points` to counter `key`, atomically. A counter starts at the first hit and resets
   * `windowMs` later; `force` starts it anew. What login rate limits are built on (through
   * rate-limiter-flexible, see `baton-auth/http`).
   */
  hitCounter(key: string, points: number, windowMs: number, now: number, force?: boolean): Promise<{ count: number; resetAt: number }>;
  getCounter(key: string, now: number): Promise<{ count: number; resetAt: number } | null>;
  deleteCounter(key: string): Promise<boolean>;
  /**
   * The keys of the counters still live at `now` (not reset yet) that start with `prefix`, taken
   * literally (no wildcard), sorted: what an administrator resetting rate limits lists.
   */
  counterKeys(prefix: string, now: number): Promise<string[]>;
  /**
   * Resolves when the backend answered a trivial round trip (a `PING`, a `SELECT 1`), rejects
   * otherwise, within seconds rather than waiting for a reconnection. Used at start-up and by
   * readiness checks.
   */
  ping(): Promise<void>;
  /**
   * Deletes what ended by `now`: sessions at their idle or absolute end; revoked sessions one day
   * after their revocation at the latest (the revocation log, not the record, is what refuses
   * their access tokens; the record only makes a refresh answer `revoked` rather than `unknown`);
   * spent and denied jtis, opaque tokens and revocations past their expiry, counters past their
   * reset. Returns how many records went. Stores whose keys carry TTLs (Redis) leave all but the
   * revocation log to them.
   */
  sweep(now: number): Promise<number>;
  close(): Promise<void>;
}
