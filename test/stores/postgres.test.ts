import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import postgres from 'postgres';
import { postgresStore } from 'baton-auth/stores/postgres';
import { MIGRATIONS } from '../../packages/baton-auth/src/stores/postgres-schema.ts';
import { runStoreConformance, sampleSession } from 'baton-auth/stores/testing';
import { ENDED_SESSIONS_PER_USER } from 'baton-auth';
import type { SessionRecord } from 'baton-auth';
import { useTestDatabase } from '../support/postgres-db.ts';
import { allThere, countRows, seedSweepable } from '../support/sweep.ts';
import { eventually } from '../support/eventually.ts';

const URL = useTestDatabase('baton_test');

runStoreConformance(
  { describe, it },
  {
    name: 'postgres',
    createStore: () => postgresStore({ url: URL }),
    createPeer: () => postgresStore({ url: URL }),
    capabilities: { revocationHead: true },
  },
);

const OLD = useTestDatabase('baton_upgrade');
const BEFORE_JKT = useTestDatabase('baton_upgrade_jkt');
const BEFORE_PRUNE = useTestDatabase('baton_upgrade_prune');

/** A database as an instance of schema version `version` left it: the first `version` migrations applied. */
async function migrateTo(sql: ReturnType<typeof postgres>, version: number): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`CREATE TABLE baton_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    for (const [i, migration] of MIGRATIONS.slice(0, version).entries()) {
      await tx.unsafe(migration);
      await tx`INSERT INTO baton_migrations (version) VALUES (${i + 1})`;
    }
  });
}
describe('postgres store specifics', () => {
  it('sweep deletes the rows of what ended (sessions at their end, not an hour later), and only those', async () => {
    const store = postgresStore({ url: URL });
    const sql = postgres(URL, { onnotice: () => undefined });
    const query = async (table: string, column: string, ids: string[]): Promise<number> =>
      Number((await sql`SELECT count(*) AS n FROM ${sql(table)} WHERE ${sql(column)} IN ${sql(ids)}`)[0]?.n);
    try {
      const now = Date.now();
      const seeded = await seedSweepable(store, now);
      expect(await countRows(seeded, 'gone', query)).toEqual(allThere(seeded, 'gone'));
      expect(await store.sweep(now)).toBeGreaterThanOrEqual(seeded.removed);
      expect(await countRows(seeded, 'gone', query)).toEqual({ sessions: 0, consumed: 0, opaque: 0, counters: 0, revocations: 0 });
      expect(await countRows(seeded, 'kept', query)).toEqual(allThere(seeded, 'kept'));
    } finally {
      await sql.end();
      await store.close();
    }
  });

  it('upgrades a version-3 database: old sessions start with grace_count 0, and instances not yet upgraded still rotate', async () => {
    const sql = postgres(OLD, { onnotice: () => undefined });
    try {
      await migrateTo(sql, 3);
      const now = Date.now();
      const old = sampleSession(now - 60_000);
      const { graceCount: _absent, ...row } = old;
      const columns = {
        id: row.id,
        user_id: row.userId,
        client_id: row.clientId,
        scope: row.scope,
        device: row.device,
        created_at: row.createdAt,
        last_used_at: row.lastUsedAt,
        expires_at: row.expiresAt,
        idle_expires_at: row.idleExpiresAt,
        generation: row.generation,
        rotated_at: row.rotatedAt,
        prev_rotated_at: row.prevRotatedAt,
        rate_window_start: row.rateWindowStart,
        rate_count: row.rateCount,
        revoked_at: null,
        revoke_reason: null,
      };
      const createOld = (c: typeof columns) => sql`SELECT baton_create_session(${sql.json(c as never)}, 0, ${now}, ${now + 1000})`;
      await createOld(columns); // written by the version-3 schema
      const store = postgresStore({ url: OLD });
      try {
        expect(await store.getSession(old.id)).toEqual({ ...old, resource: '' });
        // An instance still on the old code: its login (no grace_count, no resource) and its 9-argument rotation keep working.
        const second = { ...columns, id: sampleSession(now, { userId: old.userId }).id };
        await createOld(second);
        const [rotated] = await sql`SELECT o_status FROM baton_rotate(${second.id}, 0, ${old.clientId}, ${now}, 10000, 86400000, 0, 0, 1000)`;
        expect(rotated?.o_status).toBe('rotated');
        const [anonymous] = await sql`SELECT o_status FROM baton_rotate(${second.id}, 1, NULL, ${now}, 10000, 86400000, 0, 0, 1000)`;
        expect(anonymous?.o_status).toBe('unknown');
        const rotate = { sessionId: old.id, clientId: old.clientId, now, graceMs: 10_000, idleTtlMs: 86_400_000, revocationTtlMs: 1000, graceLimit: 1 };
        expect((await store.rotate({ ...rotate, generation: 0 })).status).toBe('rotated');
        expect((await store.rotate({ ...rotate, generation: 0 })).status).toBe('replayed_in_grace');
        expect((await store.rotate({ ...rotate, generation: 0 })).status).toBe('rate_limited');
      } finally {
        await store.close();
      }
    } finally {
      await sql.end();
    }
  });

  it('upgrades a version-6 database: sessions written before DPoP binding read back unbound (no jkt), and instances not yet upgraded still log in and rotate', async () => {
    const sql = postgres(BEFORE_JKT, { onnotice: () => undefined });
    try {
      await migrateTo(sql, 6);
      const now = Date.now();
      const old = sampleSession(now - 60_000);
      // A login as an instance of version 6 sends it: every column but jkt.
      const columns = (s: SessionRecord) => ({
        id: s.id,
        user_id: s.userId,
        client_id: s.clientId,
        scope: s.scope,
        resource: s.resource,
        device: s.device,
        created_at: s.createdAt,
        last_used_at: s.lastUsedAt,
        expires_at: s.expiresAt,
        idle_expires_at: s.idleExpiresAt,
        generation: s.generation,
        rotated_at: s.rotatedAt,
        prev_rotated_at: s.prevRotatedAt,
        rate_window_start: s.rateWindowStart,
        rate_count: s.rateCount,
        grace_count: s.graceCount,
        grace_total: s.graceTotal,
        revoked_at: s.revokedAt,
        revoke_reason: s.revokeReason,
        revoke_detail: s.revokeDetail,
      });
      const createOld = (s: SessionRecord) => sql`SELECT baton_create_session(${sql.json(columns(s) as never)}, 0, ${now}, ${now + 1000})`;
      await createOld(old); // written by the version-6 schema
      const store = postgresStore({ url: BEFORE_JKT });
      try {
        const read = await store.getSession(old.id);
        expect(read).toStrictEqual(old);
        expect(read).not.toHaveProperty('jkt');
        expect((await sql`SELECT max(version) AS v FROM baton_migrations`)[0]?.v).toBe(MIGRATIONS.length);
        // An instance still on the old code: its login (no jkt) and its rotation keep working, unbound.
        const second = sampleSession(now, { userId: old.userId });
        await createOld(second);
        const [rotated] =
          await sql`SELECT o_status FROM baton_rotate(${second.id}, 0, ${second.clientId}, ${now}, 10000, 86400000, 0, 0, 1000, NULL::integer, NULL::text)`;
        expect(rotated?.o_status).toBe('rotated');
        expect(await store.getSession(second.id)).not.toHaveProperty('jkt');
        // This instance binds its logins, and its rotations keep the binding.
        const bound = sampleSession(now, { userId: old.userId, jkt: 'x'.repeat(43) });
        await store.createSession(bound, { maxSessionsPerUser: 0, now, revocationTtlMs: 1000 });
        expect(await store.getSession(bound.id)).toStrictEqual(bound);
        const r = await store.rotate({
          sessionId: bound.id,
          generation: 0,
          clientId: bound.clientId,
          now,
          graceMs: 10_000,
          idleTtlMs: 86_400_000,
          revocationTtlMs: 1000,
        });
        expect(r.status).toBe('rotated');
        expect((await store.getSession(bound.id))?.jkt).toBe(bound.jkt);
        const history = Object.fromEntries((await store.sessionHistory(old.userId, now)).map((s) => [s.id, 'jkt' in s ? s.jkt : 'absent']));
        expect(history).toEqual({ [old.id]: 'absent', [second.id]: 'absent', [bound.id]: bound.jkt });
      } finally {
        await store.close();
      }
    } finally {
      await sql.end();
    }
  });

  it('a user flooded before the upgrade keeps the 100 most recently ended sessions after the next login, by this version and by instances not yet upgraded; per-user reads use the indexes', async () => {
    const sql = postgres(BEFORE_PRUNE, { onnotice: () => undefined });
    // The schema just before the migration that bounds a user's sessions.
    const before = MIGRATIONS.findIndex((m) => m.includes('baton_sessions_active'));
    expect(before).toBeGreaterThan(0);
    const rowsOf = async (userId: string): Promise<number> => Number((await sql`SELECT count(*) AS n FROM baton_sessions WHERE user_id = ${userId}`)[0]?.n);
    try {
      await migrateTo(sql, before);
      const now = Date.now();
      const userId = `flood-${randomBytes(4).toString('hex')}`;
      // A login as an instance before the migration sends it, through the function of the old shape.
      const createOld = (s: SessionRecord, max: number, at: number) =>
        sql`SELECT baton_create_session(${sql.json({ ...s, user_id: s.userId, client_id: s.clientId, created_at: s.createdAt, last_used_at: s.lastUsedAt, expires_at: s.expiresAt, idle_expires_at: s.idleExpiresAt, rotated_at: s.rotatedAt, prev_rotated_at: s.prevRotatedAt, rate_window_start: s.rateWindowStart, rate_count: s.rateCount, grace_count: s.graceCount, grace_total: s.graceTotal } as never)}, ${max}, ${at}, ${at + 1000})`;
      for (let i = 0; i < 300; i++) await createOld(sampleSession(now - 1000 + i, { userId }), 1, now - 1000 + i);
      expect(await rowsOf(userId)).toBe(300); // each login evicted the one before: 299 ended, all kept
      const store = postgresStore({ url: BEFORE_PRUNE });
      try {
        await store.createSession(sampleSession(now, { userId }), { maxSessionsPerUser: 1, now, revocationTtlMs: 1000 });
        expect(await rowsOf(userId)).toBe(ENDED_SESSIONS_PER_USER + 1);
        // An instance not yet upgraded prunes too: the old shape is a wrapper.
        for (let i = 1; i <= 20; i++) await createOld(sampleSession(now + i, { userId }), 1, now + i);
        expect(await rowsOf(userId)).toBe(ENDED_SESSIONS_PER_USER + 1);
        expect((await store.sessionHistory(userId, now + 100)).length).toBe(50);
        // The per-user statements can search the indexes (sequential scans off: the table is small).
        const plan = async (query: string): Promise<string> =>
          sql.begin(async (tx) => {
            await tx`SET LOCAL enable_seqscan = off`;
            return (await tx.unsafe(`EXPLAIN ${query}`)).map((r) => String(r['QUERY PLAN'])).join('\n');
          });
        expect(
          await plan(
            `SELECT * FROM baton_sessions WHERE user_id = 'u' AND revoked_at IS NULL AND expires_at > 1 AND idle_expires_at > 1 ORDER BY created_at, id`,
          ),
        ).toMatch(/baton_sessions_active/);
        expect(
          await plan(
            `SELECT * FROM baton_sessions WHERE user_id = 'u' AND (created_at, id COLLATE "C") < (1, 'x') ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT 50`,
          ),
        ).toMatch(/Index Scan Backward using baton_sessions_history/);
      } finally {
        await store.close();
      }
    } finally {
      await sql.end();
    }
  });

  it('migrates once, even when several instances start together', async () => {
    const stores = Array.from({ length: 4 }, () => postgresStore({ url: URL }));
    await Promise.all(stores.map((s) => s.revocationsSince(0)));
    const sql = postgres(URL, { onnotice: () => undefined });
    expect((await sql`SELECT version FROM baton_migrations ORDER BY version`).map((r) => r.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    await sql.end();
    await Promise.all(stores.map((s) => s.close()));
  });
});

describe('postgres catch-up under a step of the wall clock (issue #21, finding 17)', () => {
  it('a revocation found only by the catch-up read (its notification lost) is delivered while the wall clock is a day ahead', async () => {
    const store = postgresStore({ url: URL, pollMs: 20 });
    const sql = postgres(URL, { onnotice: () => undefined });
    const heard: string[] = [];
    try {
      await store.subscribe((e) => heard.push(e.id));
      const id = `lost-${randomBytes(6).toString('hex')}`;
      const at = Date.now();
      const real = Date.now.bind(Date);
      const step = vi.spyOn(Date, 'now').mockImplementation(() => real() + 24 * 3_600_000); // a forward step of the wall clock
      try {
        // Committed without its NOTIFY, as while the listening connection was down: only the catch-up read finds it.
        await sql`INSERT INTO baton_revocations (kind, id, at, expires_at, reason) VALUES ('session', ${id}, ${at}, ${at + 3_600_000}, 'logout')`;
        await eventually(() => heard.includes(id), { what: 'the revocation, by the catch-up read', timeoutMs: 3000 });
      } finally {
        step.mockRestore();
      }
    } finally {
      await sql.end();
      await store.close();
    }
  });
});
