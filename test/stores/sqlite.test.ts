import { mkdtempSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { ENDED_SESSIONS_PER_USER, SESSION_HISTORY_PAGE } from 'baton-auth';
import { sqliteStore } from 'baton-auth/stores/sqlite';
import { runStoreConformance, sampleSession } from 'baton-auth/stores/testing';
import * as schema from '../../packages/baton-auth/src/stores/sqlite-schema.ts';
import { makeBaton } from '../support/baton.ts';
import { allThere, countRows, seedSweepable } from '../support/sweep.ts';
import { eventually } from '../support/eventually.ts';

const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (): string => join(dir, `t${n++}`, 'baton.sqlite');

runStoreConformance(
  { describe, it },
  {
    name: 'sqlite',
    createStore: () => sqliteStore({ path: file(), pollMs: 20 }),
    // A second client on the same file, as a second process would have.
    createPeer: () => sqliteStore({ path: join(dir, `t${n - 1}`, 'baton.sqlite'), pollMs: 20 }),
    capabilities: { revocationHead: true },
  },
);

describe('sqlite store specifics', () => {
  it('creates its directory, runs in WAL mode and records the schema version', async () => {
    const path = file();
    const store = sqliteStore({ path });
    await store.close();
    const db = new DatabaseSync(path);
    expect((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode).toBe('wal');
    expect((db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version).toBe(7);
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
    expect(() => sqliteStore({ path })).toThrow(/schema version 99, newer than this Baton knows \(7\); upgrade Baton/);
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

  it('upgrades a version-6 database flooded by one user: the next login keeps the 100 most recently ended, reads use the new indexes, and the statements of instances not yet upgraded still run', async () => {
    const path = file();
    await sqliteStore({ path }).close();
    const db = new DatabaseSync(path); // back to the schema of version 6, as an instance of it left it
    db.exec(
      'DROP INDEX baton_sessions_active; DROP INDEX baton_sessions_history; CREATE INDEX baton_sessions_user ON baton_sessions (user_id, created_at); PRAGMA user_version = 6',
    );
    const now = Date.now();
    const insert = db.prepare(`INSERT INTO baton_sessions (${schema.COLUMNS.join(', ')}) VALUES (${schema.COLUMNS.map(() => '?').join(', ')})`);
    db.exec('BEGIN');
    for (let i = 0; i < 300; i++)
      insert.run(...schema.toRow(sampleSession(now - 1000 + i, { userId: 'mallory', revokedAt: now - 500 + i, revokeReason: 'evicted' })));
    db.exec('COMMIT');
    const rows = (): number => Number((db.prepare("SELECT count(*) AS n FROM baton_sessions WHERE user_id = 'mallory'").get() as { n: number }).n);
    expect(rows()).toBe(300);
    const store = sqliteStore({ path });
    try {
      const login = sampleSession(now, { userId: 'mallory' });
      await store.createSession(login, { maxSessionsPerUser: 50, now, revocationTtlMs: 1000 });
      expect(rows()).toBe(ENDED_SESSIONS_PER_USER + 1);
      expect((await store.sessionHistory('mallory', now)).map((s) => s.id)[0]).toBe(login.id);
      // What an instance of version 6 runs: its history and its user's active sessions.
      expect(db.prepare("SELECT * FROM baton_sessions WHERE user_id = 'mallory' ORDER BY created_at DESC, id DESC").all()).toHaveLength(
        ENDED_SESSIONS_PER_USER + 1,
      );
      expect(
        db
          .prepare(
            "SELECT id FROM baton_sessions WHERE user_id = 'mallory' AND revoked_at IS NULL AND expires_at > ? AND idle_expires_at > ? ORDER BY created_at, id",
          )
          .all(now, now),
      ).toEqual([{ id: login.id }]);
    } finally {
      db.close();
      await store.close();
    }
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
    expect((check.prepare('PRAGMA user_version').get() as { user_version: number }).user_version).toBe(7);
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
    const runs = Array.from(
      { length: 4 },
      () =>
        new Promise<string[]>((resolve, reject) => {
          const worker = new Worker(new URL('../fixtures/sqlite-rotator.ts', import.meta.url), {
            workerData: { path, sessionId: s.id, generation: 3, attempts: 25, now },
          });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    );
    const statuses = (await Promise.all(runs)).flat();
    expect(statuses).toHaveLength(100);
    expect(statuses.filter((x) => x === 'rotated')).toHaveLength(1);
    expect(statuses.filter((x) => x === 'replayed_in_grace')).toHaveLength(99);
    expect((await store.getSession(s.id))?.generation).toBe(4);
    await store.close();
  });
});

describe("one user's flood of sessions (issue #21, finding 9)", () => {
  it("100,000 ended sessions of one user: at most 100 kept, history a page, every per-user query an index search, another user's login and the event loop as they were", async () => {
    const path = file();
    const store = sqliteStore({ path });
    const db = new DatabaseSync(path);
    const { baton } = makeBaton({ store, now: () => Date.now(), maxSessionsPerUser: 50 });
    const rowsOf = (userId: string): number =>
      Number((db.prepare('SELECT count(*) AS n FROM baton_sessions WHERE user_id = ?').get(userId) as { n: number }).n);
    // How long the event loop waited (ms) while a user reads their history and logs in: the worst
    // wait of each of five rounds, and of those the median (a pause of the machine's own, a GC or
    // another process on the cores, spoils one round, not three).
    const loopDelay = async (userId: string): Promise<number> => {
      const worst: number[] = [];
      for (let round = 0; round < 5; round++) {
        const h = monitorEventLoopDelay({ resolution: 1 });
        h.enable();
        for (let i = 0; i < 3; i++) {
          await baton.sessionHistory(userId);
          await baton.login(userId);
          await new Promise((resolve) => setImmediate(resolve));
        }
        h.disable();
        worst.push(h.max / 1e6);
      }
      return worst.sort((a, b) => a - b)[2] as number;
    };
    try {
      for (let i = 0; i < 3; i++) await baton.login('bob');
      const baseline = await loopDelay('bob'); // same run, same machine, before the flood
      const bobRows = rowsOf('bob');
      // Mallory's flood, through the store's API: 100,000 sessions, each ended (evicted by the next login).
      const now = Date.now();
      const FLOOD = 100_000;
      for (let i = 0; i < FLOOD; i++) {
        const at = now - FLOOD + i;
        await store.createSession(sampleSession(at, { userId: 'mallory', revokedAt: at + 1, revokeReason: 'evicted' }), {
          maxSessionsPerUser: 0,
          now,
          revocationTtlMs: 60_000,
        });
      }
      // (a) Rows kept for her: the most recently ended, at most the cap.
      expect(rowsOf('mallory')).toBeLessThanOrEqual(ENDED_SESSIONS_PER_USER);
      // (b) Her history: one page of sessions, at most four events each.
      expect((await store.sessionHistory('mallory', Date.now())).length).toBeLessThanOrEqual(SESSION_HISTORY_PAGE);
      const page = await baton.sessionHistoryPage('mallory');
      expect(page.events.length).toBeLessThanOrEqual(4 * SESSION_HISTORY_PAGE);
      expect(page.next).toMatch(/^\d+\./);
      // (c) Every statement reading one user's sessions searches an index by user, never scans the table.
      const queries = Object.entries(schema.USER_QUERIES ?? {});
      expect(queries.map(([name]) => name).sort()).toEqual(['history', 'historyBefore', 'listActive', 'pruneEnded', 'userIds']);
      for (const [name, sql] of queries) {
        const arity = Math.max((sql.match(/\?(?!\d)/g) ?? []).length, ...[...sql.matchAll(/\?(\d+)/g)].map((m) => Number(m[1])));
        const params = Array.from({ length: arity }, (_, i) => (i === 0 ? 'mallory' : 1));
        const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);
        expect(
          plan.filter((d) => /baton_sessions USING (COVERING )?INDEX baton_sessions_(active|history) \(user_id=\?/.test(d)),
          `${name}: ${plan.join('; ')}`,
        ).toHaveLength(1);
        expect(
          plan.filter((d) => /^SCAN baton_sessions/.test(d)),
          `${name}: ${plan.join('; ')}`,
        ).toEqual([]);
      }
      // Bob's login and history read his own rows: the same as before her flood.
      const bob = await baton.login('bob');
      expect(rowsOf('bob')).toBe(bobRows + 1);
      expect((await baton.sessionHistory('bob')).filter((e) => e.type === 'session.created').map((e) => e.sessionId)).toContain(bob.session_id);
      expect((await store.sessionHistory('bob', Date.now())).every((s) => s.userId === 'bob')).toBe(true);
      // (d) Her history and logins keep the event loop as free as Bob's did (a generous ceiling over the baseline).
      const flooded = await loopDelay('mallory');
      expect(flooded, `baseline ${baseline.toFixed(1)} ms`).toBeLessThan(baseline + 100);
      expect(rowsOf('mallory')).toBeLessThanOrEqual(ENDED_SESSIONS_PER_USER + 50);
    } finally {
      db.close();
      await store.close();
    }
  }, 180_000);
});

describe("waiting for another process's write lock (#22, BATON_WORKERS)", () => {
  it('yields to the event loop while another connection holds the lock, and decides once it is released', async () => {
    const path = file();
    const store = sqliteStore({ path });
    const now = Date.now();
    const s = sampleSession(now - 1000);
    await store.createSession(s, { maxSessionsPerUser: 0, now, revocationTtlMs: 1000 });
    // Another connection (a thread: the lock is the file's, as another process's would be) holds the write lock 400 ms.
    const holder = new Worker(
      `
      const { parentPort, workerData } = require('node:worker_threads');
      const { DatabaseSync } = require('node:sqlite');
      const db = new DatabaseSync(workerData.path);
      db.exec('BEGIN IMMEDIATE');
      parentPort.postMessage('held');
      setTimeout(() => { db.exec('COMMIT'); db.close(); parentPort.postMessage('released'); }, 400);
    `,
      { eval: true, workerData: { path } },
    );
    await new Promise((resolve) => holder.once('message', resolve));
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    try {
      const revoked = await store.revokeSession(s.id, { now, reason: 'test', revocationTtlMs: 1000 });
      // It waited for the lock (the revocation could not commit before), and timers ran meanwhile:
      // SQLite's busy handler slept this whole thread until the lock was free, and no timer ran.
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(revoked).toBe(true);
      expect((await store.getSession(s.id))?.revokedAt).toBe(now);
    } finally {
      clearInterval(ticker);
      await holder.terminate();
      await store.close();
    }
  });
});

describe('a process crash (synchronous = NORMAL in WAL)', () => {
  it('keeps every rotation committed before a SIGKILL mid-burst', async () => {
    const path = file();
    const store = sqliteStore({ path });
    const now = Date.now();
    const s = sampleSession(now - 1000, { generation: 0 });
    await store.createSession(s, { maxSessionsPerUser: 0, now, revocationTtlMs: 1000 });
    await store.close();
    const fixture = new URL('../fixtures/sqlite-crash-rotator.ts', import.meta.url).pathname;
    for (let round = 0; round < 3; round++) {
      const peek = sqliteStore({ path });
      const before = (await peek.getSession(s.id))?.generation ?? 0;
      await peek.close();
      // Node 24.7 still warns that node:sqlite is experimental (the smoke run): that is no error of the rotator's.
      const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', '--conditions=baton-source', fixture, path, s.id, String(before)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const closed = new Promise((resolve) => child.once('close', resolve)); // every line it wrote, read
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      // Killed while it rotates, some 200 rotations after it started (each printed only after its COMMIT).
      await eventually(() => out.split('\n').length > 200 || child.exitCode !== null, { timeoutMs: 20_000, what: 'rotations' });
      child.kill('SIGKILL');
      await closed;
      const told = Math.max(...out.trim().split('\n').map(Number));
      expect(err).toBe('');
      expect(told).toBeGreaterThan(before);
      const reopened = sqliteStore({ path });
      // Every rotation the process answered for is there; at most the one it was in when killed is beyond.
      const generation = (await reopened.getSession(s.id))?.generation ?? -1;
      expect(generation).toBeGreaterThanOrEqual(told);
      expect(generation).toBeLessThanOrEqual(told + 1);
      await reopened.close();
    }
  }, 60_000);
});
