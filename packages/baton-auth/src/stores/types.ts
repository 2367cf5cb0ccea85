/**
 * What Baton's stores implement: the engine's port (`core/store.ts`, sessions, the one-time
 * ledger, the revocation log, opaque tokens), and apart from it, the small records and the
 * counters that the standalone service and the login protection keep beside the sessions.
 */
import type { OpaqueTokenStore, TokenStore } from '../core/store.ts';

export type {
  DeviceInfo, OneTimeLedger, OpaqueTokenRecord, OpaqueTokenStore, Revocation, RevocationEvent, RevocationLog, RotateRequest, RotateResult,
  RotateStatus, SessionHistoryPage, SessionRecord, SessionStore, SessionSummary, StoreLifecycle, TokenStore,
} from '../core/store.ts';

/**
 * Small named records kept beside the sessions (the service's users, clients and sealed keys),
 * values opaque to the store.
 */
export interface RecordStore {
  /**
   * Writes a record. With `ifAbsent`, only when the key is free, atomically: the answer says
   * whether it wrote (first writer wins, across instances); without, always `true`.
   */
  putRecord(kind: string, key: string, value: string, options?: { ifAbsent?: boolean }): Promise<boolean>;
  /** The value, or `null`. */
  getRecord(kind: string, key: string): Promise<string | null>;
  /** `true` when it existed. */
  deleteRecord(kind: string, key: string): Promise<boolean>;
  /** Every record of a kind, sorted by key; `[]` when none. */
  listRecords(kind: string): Promise<{ key: string; value: string }[]>;
}

/** Counters with a window: what login protection is built on (`StoreRateLimiter`, `baton-auth/http`). */
export interface CounterStore {
  /**
   * Adds `points` to counter `key`, atomically. A counter starts at the first hit and resets
   * `windowMs` later; `force` starts it anew. Answers the count and when it resets.
   */
  hitCounter(key: string, points: number, windowMs: number, now: number, force?: boolean): Promise<{ count: number; resetAt: number }>;
  /** The live counter at `now`, or `null` (absent or reset). */
  getCounter(key: string, now: number): Promise<{ count: number; resetAt: number } | null>;
  /** `true` when it existed. */
  deleteCounter(key: string): Promise<boolean>;
  /**
   * The keys of the counters still live at `now` (not reset yet) that start with `prefix`, taken
   * literally (no wildcard), sorted: what an administrator resetting rate limits lists.
   */
  counterKeys(prefix: string, now: number): Promise<string[]>;
}

/** A Baton store: the engine's port with opaque tokens, plus records and counters. */
export type BatonStore = TokenStore & OpaqueTokenStore & RecordStore & CounterStore;
