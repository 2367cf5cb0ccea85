/**
 * What a sweep at `now` must delete and keep, seeded into a store whose rows a test can count
 * (memory by the sweep's answer, SQL stores with a direct query).
 */
import { randomBytes } from 'node:crypto';
import { sampleSession } from 'baton-auth/stores/testing';
import type { BatonStore } from 'baton-auth';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

export interface Sweepable {
  /** Ids (session ids, jtis, hashes, counter keys) that must be gone after `sweep(now)`, by table. */
  gone: { sessions: string[]; consumed: string[]; opaque: string[]; counters: string[]; revocations: string[] };
  /** Ids that must still be there. */
  kept: { sessions: string[]; consumed: string[]; opaque: string[]; counters: string[]; revocations: string[] };
  /** How many records the sweep must report. */
  removed: number;
}

export async function seedSweepable(store: BatonStore, now: number): Promise<Sweepable> {
  const id = (): string => randomBytes(8).toString('hex');
  // Sessions are kept a week (ENDED_SESSION_RETENTION_MS) after they end, however they end.
  const idle = sampleSession(now - 10 * DAY, { idleExpiresAt: now - WEEK - 1 }); // idle end a week and 1 ms ago
  const absolute = sampleSession(now - 40 * DAY, { expiresAt: now - WEEK, idleExpiresAt: now + DAY }); // absolute end a week ago
  const endedLately = sampleSession(now - 10 * DAY, { idleExpiresAt: now - 1 }); // idle end just passed: kept
  const revokedLongAgo = sampleSession(now - 10 * DAY); // revoked a week and 1 ms ago
  const revokedLately = sampleSession(now - 10 * DAY); // revoked 6 days ago: kept
  const live = sampleSession(now - DAY);
  for (const s of [idle, absolute, endedLately, revokedLongAgo, revokedLately, live]) {
    await store.createSession(s, { maxSessionsPerUser: 0, now: s.createdAt, revocationTtlMs: HOUR });
  }
  await store.revokeSession(revokedLongAgo.id, { now: now - WEEK - 1, reason: 'old', revocationTtlMs: HOUR });
  await store.revokeSession(revokedLately.id, { now: now - 6 * DAY, reason: 'late', revocationTtlMs: 7 * DAY });
  const [consumedOld, consumedLive, deniedOld, deniedLive, opaqueOld, opaqueLive] = [id(), id(), id(), id(), id(), id()];
  const [counterOld, counterLive] = [`sweep-${id()}`, `sweep-${id()}`];
  await store.consumeJti(consumedOld, now, now - 10);
  await store.consumeJti(consumedLive, now + 60_000, now);
  await store.denyJti(deniedOld, now, now - 10);
  await store.denyJti(deniedLive, now + 60_000, now);
  const claims = { iss: 'i', sub: 's', aud: 'a', exp: Math.floor(now / 1000), iat: Math.floor(now / 1000) - 60, jti: id(), sid: live.id, client_id: 'web' };
  await store.saveOpaqueToken(opaqueOld, { claims, expiresAt: now }, now - 10);
  await store.saveOpaqueToken(opaqueLive, { claims, expiresAt: now + 60_000 }, now);
  await store.hitCounter(counterOld, 1, 1000, now - 1000);
  await store.hitCounter(counterLive, 1, 60_000, now);
  return {
    gone: {
      sessions: [idle.id, absolute.id, revokedLongAgo.id],
      consumed: [consumedOld],
      opaque: [opaqueOld],
      counters: [counterOld],
      revocations: [revokedLongAgo.id, deniedOld], // expired at now - WEEK - 1 + HOUR, and at now
    },
    kept: {
      sessions: [endedLately.id, revokedLately.id, live.id],
      consumed: [consumedLive],
      opaque: [opaqueLive],
      counters: [counterLive],
      revocations: [revokedLately.id, deniedLive],
    },
    removed: 3 + 1 + 1 + 1 + 2,
  };
}

type Tables = keyof Sweepable['gone'];
const TABLES: Record<Tables, [table: string, column: string]> = {
  sessions: ['baton_sessions', 'id'],
  consumed: ['baton_consumed_jti', 'jti'],
  opaque: ['baton_opaque_tokens', 'hash'],
  counters: ['baton_counters', 'key'],
  revocations: ['baton_revocations', 'id'],
};

/**
 * The row counts of a SQL store (SQLite and PostgreSQL share table names) for the seeded ids:
 * `query(sql, ids)` runs `SELECT count(*) AS n … WHERE column IN (…)` and answers `n`.
 */
export async function countRows(
  seeded: Sweepable,
  which: 'gone' | 'kept',
  query: (table: string, column: string, ids: string[]) => Promise<number>,
): Promise<Record<Tables, number>> {
  const out = {} as Record<Tables, number>;
  for (const [name, [table, column]] of Object.entries(TABLES) as [Tables, [string, string]][]) out[name] = await query(table, column, seeded[which][name]);
  return out;
}

/** The counts of every seeded id, as `countRows` answers when all of them are there. */
export function allThere(seeded: Sweepable, which: 'gone' | 'kept'): Record<Tables, number> {
  return Object.fromEntries(Object.entries(seeded[which]).map(([k, ids]) => [k, ids.length])) as Record<Tables, number>;
}
