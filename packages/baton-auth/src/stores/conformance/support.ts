/**
 * What the conformance cases share: the runner's API, the options, sample records and helpers.
 */
import { randomBytes } from 'node:crypto';
import { newSession } from '../../core/session-id.ts';
import type { BatonStore, RotateRequest, SessionRecord, SessionSummary } from '../types.ts';

export { eventually } from './eventually.ts';

/** The parts of a test runner the suite uses. */
export interface TestApi {
  describe: (name: string, body: () => void) => void;
  it: (name: string, body: () => Promise<void>, timeoutMs?: number) => void;
}

/**
 * What a store declares it implements of the contract's optional parts. The suite tests what is
 * declared, and checks the declaration against the store: a method declared and missing, or
 * present and not declared (so never tested), fails.
 */
export interface StoreCapabilities {
  /** `revocationHead()`: the log says the largest seq it handed out. */
  revocationHead: boolean;
  /** `subscribed()`: says whether other clients' revocations reach its subscribers right now. */
  subscribed: boolean;
}

/** How to get stores for the suite. */
export interface ConformanceOptions {
  /** Shown in test names. */
  name: string;
  /** A fresh client of the store under test. Data left by earlier tests must not matter. */
  createStore: () => BatonStore | Promise<BatonStore>;
  /**
   * A second client of the same backing store, as a second instance would have. Defaults to the
   * same client; stores shared between processes should give a real second connection.
   */
  createPeer?: (store: BatonStore) => BatonStore | Promise<BatonStore>;
  /** Runs of each property; default 25. */
  numRuns?: number;
  /** The optional parts it implements; each defaults to false (not implemented, not tested). */
  capabilities?: Partial<StoreCapabilities>;
}

/** How a case gets its stores: one client, or two of the same backing store (two instances). */
export interface Harness {
  withStore: (body: (store: BatonStore, now: number) => Promise<void>) => () => Promise<void>;
  withPeers: (body: (a: BatonStore, b: BatonStore, now: number) => Promise<void>) => () => Promise<void>;
  numRuns: number;
  /** What the store declared (every flag resolved). */
  can: StoreCapabilities;
}

/** One case of the suite: its name, its test over the harness, and what it needs. */
export interface Case {
  name: string;
  /** The test, made from the harness (`withStore` or `withPeers`, and `numRuns`, `can` where it needs them). */
  run: (h: Harness) => () => Promise<void>;
  /** The runner's timeout, where the case needs more than its default. */
  timeoutMs?: number;
  /** A capability the store must declare for the case to run (`capabilities`). */
  needs?: keyof StoreCapabilities;
}

/** Registers `cases`, in order, with the runner (inside the suite's `describe`). */
export function register(t: TestApi, h: Harness, cases: readonly Case[]): void {
  for (const c of cases) {
    if (c.needs !== undefined && !h.can[c.needs]) continue;
    if (c.timeoutMs === undefined) t.it(c.name, c.run(h));
    else t.it(c.name, c.run(h), c.timeoutMs);
  }
}

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** A session record as `login` makes it, with fresh ids. */
export function sampleSession(now: number, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const userId = overrides.userId ?? `user-${randomBytes(6).toString('hex')}`;
  const device = { userAgent: 'conformance', ip: '127.0.0.1' };
  return {
    ...newSession({
      userId,
      clientId: 'web',
      scope: 'read write',
      resource: 'https://api.example.com/ urn:example:reports',
      device,
      now,
      maxAgeMs: 30 * DAY,
      idleMs: 7 * DAY,
    }),
    ...overrides,
  };
}

/** A DPoP key thumbprint as a bound session carries it (RFC 7638: base64url of a SHA-256, 43 characters). */
export function sampleJkt(): string {
  return randomBytes(32).toString('base64url');
}

export function request(session: SessionRecord, generation: number, now: number, extra: Partial<RotateRequest> = {}): RotateRequest {
  return { sessionId: session.id, generation, clientId: session.clientId, now, graceMs: 10_000, idleTtlMs: 7 * DAY, revocationTtlMs: HOUR, ...extra };
}

export const CREATE = { maxSessionsPerUser: 0, revocationTtlMs: HOUR };

/** The fields every store's `rotate` answers with. */
export function pick(s: Partial<SessionRecord> | null | undefined): SessionSummary | undefined {
  if (!s) return undefined;
  const { id, userId, clientId, scope, resource, generation, expiresAt, idleExpiresAt, rotatedAt, revokedAt, revokeReason, revokeDetail } = s as SessionRecord;
  return { id, userId, clientId, scope, resource, generation, expiresAt, idleExpiresAt, rotatedAt, revokedAt, revokeReason, revokeDetail };
}
