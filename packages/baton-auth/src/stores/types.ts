/**
 * What Baton's stores implement: the engine's port (`core/store.ts`, sessions, the one-time
 * ledger, the revocation log, opaque tokens), and apart from it, the small records and the
 * counters that the standalone service and the login protection keep beside the sessions.
 */
import type { CounterStore } from '../core/counter-store.ts';
import type { OpaqueTokenStore, TokenStore } from '../core/store.ts';

export type { CounterStore } from '../core/counter-store.ts';

export type {
  DeviceInfo,
  OneTimeLedger,
  OpaqueTokenRecord,
  OpaqueTokenStore,
  Revocation,
  RevocationEvent,
  RevocationLog,
  RotateRequest,
  RotateResult,
  RotateStatus,
  SessionHistoryPage,
  SessionRecord,
  SessionStore,
  SessionSummary,
  StoreLifecycle,
  TokenStore,
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

/** A Baton store: the engine's port with opaque tokens, plus records and counters. */
export type BatonStore = TokenStore & OpaqueTokenStore & RecordStore & CounterStore;
