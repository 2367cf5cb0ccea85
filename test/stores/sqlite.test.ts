import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from 'baton-auth/stores/sqlite';
import { runStoreConformance, sampleSession } from 'baton-auth/stores/testing';
import { allThere, countRows, seedSweepable } from '../support/sweep.ts';

const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (): string => join(dir, `t${n++}`, 'baton.sqlite');

runStoreConformance({ describe, it }, {
  name: 'sqlite',
  createStore: () => sqliteStore({ path: file(), pollMs: 20 }),
  // A second client on the same file, as a second process would have.
  createPeer: () => sqliteStore({ path: join(dir, `t${n - 1}`, 'baton.sqlite'), pollMs: 20 }),
});

describe('sqlite store specifics', () => {
  it('creates its directory, runs in WAL mode and records the schema version', async () => {
    const path = file();
    const store = sqliteStore({ path });
    await store.close();
    const db = new DatabaseSync(path);
    expect((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode).toBe('wal');
    expect((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version).toBe(6);
    db.close();
    const again = sqliteStore({ path }); // re-opening migrates nothing and keeps the data
    await again.close();
  });

  it('refuses a database from a newer Baton, saying what to do', () => {
    const path = file();
    sqliteStore({ path }).close();
    const db = new DatabaseSync(path);
    db.exec('PRAGMA user_version = 99');
    db.close();
    expect(() => sqliteStore({ path })).toThrow(/schema version 99, newer than this Baton knows \(6\); upgrade Baton/);
  });

  it('upgrades a version-2 database: sessions written before grace counting and end reasons start at 0 and null, and rotate', async () => {
    const path = file();
    const now = Date.now();
    const old = sampleSession(now - 60_000);
    const { graceCount: _absent, graceTotal: _absentToo, revokeDetail: _none, resource: _noResource, ...before } = old;
    const first = sqliteStore({ path });
    await first.createSession(old, { maxSessionsPerUser: 0, now, revocationTtlMs: 1000 });
    await first.close();
    const db = new DatabaseSync(path); // back to the schema of version 2
    db.exec(`ALTER TABLE baton_sessions DROP COLUMN grace_count; ALTER TABLE baton_sessions DROP COLUMN grace_total;
      ALTER TABLE baton_sessions DROP COLUMN revoke_detail; ALTER TABLE baton_sessions DROP COLUMN resource; ALTER TABLE baton_sessions DROP COLUMN jkt; ALTER TABLE baton_revocations DROP COLUMN detail;
      CREATE TABLE baton_denied_jti (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) STRICT; PRAGMA user_version = 2`);
    db.close();
    const store = sqliteStore({ path });
    expect(await store.getSession(old.id)).toEqual({ ...before, graceCount: 0, graceTotal: 0, revokeDetail: null, resource: '' });
    const rotate = { sessionId: old.id, clientId: old.clientId, now, graceMs: 10_000, idleTtlMs: 86_400_000, revocationTtlMs: 1000, graceLimit: 1 };
    expect((await store.rotate({ ...rotate, generation: 0 })).status).toBe('rotated');
    expect((await store.rotate({ ...rotate, generation: 0 })).status).toBe('replayed_in_grace');
    expect((await store.rotate({ ...rotate, generation: 0 })).status).toBe('rate_limited');
    await store.close();
  });

  it('upgrades a version-5 database: sessions written before DPoP binding read back unbound (no jkt), and new ones keep theirs', async () => {
    const path = file();
    const now = Date.now();
    const old = sampleSession(now - 60_000);
    const first = sqliteStore({ path });
    await first.createSession(old, { maxSessionsPerUser: 0, now, revocationTtlMs: 1000 });
    await first.close();
    const db = new DatabaseSync(path); // back to the schema of version 5
    db.exec('ALTER TABLE baton_sessions DROP COLUMN jkt; PRAGMA user_version = 5');
    db.close();
    const store = sqliteStore({ path });
    try {
      const read = await store.getSession(old.id);
      expect(read).toStrictEqual(old);
      expect(read).not.toHaveProperty('jkt');
      const rotate = { sessionId: old.id, clientId: old.clientId, now, graceMs: 10_000, idleTtlMs: 86_400_000, revocationTtlMs: 1000 };
      expect((await store.rotate({ ...rotate, generation: 0 })).status).toBe('rotated');
      expect(await store.getSession(old.id)).not.toHaveProperty('jkt');
      const bound = sampleSession(now, { userId: old.userId, jkt: 'x'.repeat(43) });
      await store.createSession(bound, { maxSessionsPerUser: 0, now, revocationTtlMs: 1000 });
      expect(await store.getSession(bound.id)).toStrictEqual(bound);
    } finally {
      await store.close();
    }
    const check = new DatabaseSync(path);
    expect((check.prepare('PRAGMA user_version').get() as { user_version: number }).user_version).toBe(6);
    check.close();
  });

  it('sweep deletes the rows of what ended, and only those', async () => {
    const path = file();
    const store = sqliteStore({ path });
    const db = new DatabaseSync(path);
    const query = async (table: string, column: string, ids: string[]): Promise<number> =>
      Number((db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${column} IN (${ids.map(() => '?').join(', ')})`).get(...ids) as { n: number }).n);
    try {
      const now = Date.now();
      const seeded = await seedSweepable(store, now);
      expect(await countRows(seeded, 'gone', query)).toEqual(allThere(seeded, 'gone'));
      expect(await store.sweep(now)).toBe(seeded.removed);
      expect(await countRows(seeded, 'gone', query)).toEqual({ sessions: 0, consumed: 0, opaque: 0, counters: 0, revocations: 0 });
      expect(await countRows(seeded, 'kept', query)).toEqual(allThere(seeded, 'kept'));
    } finally {
      db.close();
      await store.close();
    }
  });

  it('keeps sessions across re-opening the file', async () => {
    const path = file();
    const now = Date.now();
    const first = sqliteStore({ path });
    const s = sampleSession(now);
    await first.createSession(s, { maxSessionsPerUser: 0, now, revocationTtlMs: 1000 });
    await first.close();
    const second = sqliteStore({ path });
    expect(await second.getSession(s.id)).toEqual(s);
    await second.close();
  });

  it('rotates exactly once when four threads with their own connections race on one file', async () => {
    const path = file();
    const now = Date.now();
    const store = sqliteStore({ path });
    const s = sampleSession(now - 1000, { generation: 3 });
    await store.createSession(s, { maxSessionsPerUser: 0, now, revocationTtlMs: 1000 });
    const runs = Array.from({ length: 4 }, () => new Promise<string[]>((resolve, reject) => {
      const worker = new Worker(new URL('../fixtures/sqlite-rotator.ts', import.meta.url), {
        workerData: { path, sessionId: s.id, generation: 3, attempts: 25, now },
      });
      worker.once('message', resolve);
      worker.once('error', reject);
    }));
    const statuses = (await Promise.all(runs)).flat();
    expect(statuses).toHaveLength(100);
    expect(statuses.filter((x) => x === 'rotated')).toHaveLength(1);
    expect(statuses.filter((x) => x === 'replayed_in_grace')).toHaveLength(99);
    expect((await store.getSession(s.id))?.generation).toBe(4);
    await store.close();
  });
});
