/** Red team rt2: attacks on the SQLite group commit (Transactions.run) and getCounters. */
import { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { afterAll, expect, it } from 'vitest';
import { transactionFiles } from '../support/sqlite-tx.ts';
import { sqliteStore } from 'baton-auth/stores/sqlite';

const files = transactionFiles('baton-rt2-');
afterAll(files.remove);
const { open } = files;

it("red team: the first write of a Transactions meets a lock this thread's own timer would release: SQLite's busy handler sleeps the thread instead of yielding, and the write fails", async () => {
  // busy_timeout = 0 is a prepared PRAGMA: SQLite applies PRAGMA busy_timeout when it compiles the
  // statement, and the first step after prepare does not recompile it, so the first #begin runs
  // with busy_timeout = busyTimeoutMs (the value of the "on" statement, prepared last).
  const { db, txs, insert, kept, path } = open();
  const other = new DatabaseSync(path);
  try {
    other.exec('BEGIN IMMEDIATE');
    setTimeout(() => other.isOpen && other.isTransaction && other.exec('COMMIT'), 50);
    const results = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => txs.run(() => insert.run(i))));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(kept().length).toBe(300);
  } finally {
    if (other.isTransaction) other.exec('ROLLBACK');
    other.close();
    db.close();
  }
});

it("red team: the store's first write while another thread holds the lock blocks the event loop for as long (no timer runs)", async () => {
  const path = files.file('w');
  const store = sqliteStore({ path });
  const now = Date.now();
  await store.hitCounter('an autocommit write before: not a transaction, prepares nothing', 1, 1000, now);
  const holder = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const { DatabaseSync } = require('node:sqlite');
     const db = new DatabaseSync(workerData.path);
     db.exec('BEGIN IMMEDIATE');
     parentPort.postMessage('held');
     setTimeout(() => { db.exec('COMMIT'); db.close(); }, 400);`,
    { eval: true, workerData: { path } },
  );
  await new Promise((resolve) => holder.once('message', resolve));
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 5);
  try {
    // A fresh store (a worker process just started) whose first transactional write meets the lock.
    await store.revokeSession('nobody', { now, reason: 'test', revocationTtlMs: 1000 });
    expect(ticks).toBeGreaterThanOrEqual(10);
  } finally {
    clearInterval(ticker);
    await holder.terminate();
    await store.close();
  }
});

it('after a warm-up write, 300 queued bodies wait for another connection and none resolves before its commit', async () => {
  const { db, txs, insert, kept, path } = open();
  await txs.run(() => insert.run(1000));
  await txs.run(() => insert.run(1001));
  const other = new DatabaseSync(path);
  try {
    other.exec('BEGIN IMMEDIATE');
    setTimeout(() => other.isOpen && other.isTransaction && other.exec('COMMIT'), 50);
    const early: number[] = [];
    const results = await Promise.allSettled(
      Array.from({ length: 300 }, (_, i) =>
        txs
          .run(() => insert.run(i))
          .then(() => {
            if (!kept().includes(i)) early.push(i);
          }),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(early).toEqual([]);
    expect(kept().length).toBe(302);
  } finally {
    if (other.isTransaction) other.exec('ROLLBACK');
    other.close();
    db.close();
  }
});

it('lock held past busyTimeout: every queued body rejects and nothing is kept', async () => {
  const { db, txs, insert, kept, path } = open(100);
  const other = new DatabaseSync(path);
  try {
    other.exec('BEGIN IMMEDIATE');
    const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => txs.run(() => insert.run(i))));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    other.exec('COMMIT');
    expect(kept()).toEqual([]);
  } finally {
    other.close();
    db.close();
  }
});

it('close while a batch is queued (and while waiting for a lock): the bodies reject, none resolves', async () => {
  const { db, txs, insert, path } = open();
  const queued = Array.from({ length: 5 }, (_, i) => txs.run(() => insert.run(i)));
  db.close();
  const r = await Promise.allSettled(queued);
  expect(r.every((x) => x.status === 'rejected')).toBe(true);

  const b = open();
  const other = new DatabaseSync(b.path);
  other.exec('BEGIN IMMEDIATE');
  const waiting = Promise.allSettled(Array.from({ length: 5 }, (_, i) => b.txs.run(() => b.insert.run(i))));
  await new Promise((res) => setTimeout(res, 20));
  b.db.close();
  const r2 = await waiting;
  other.exec('ROLLBACK');
  other.close();
  expect(r2.every((x) => x.status === 'rejected')).toBe(true);
  void path;
});

it('a body that writes then calls run again then throws: its own write is undone; the nested one is a transaction of its own', async () => {
  const { db, txs, insert, kept } = open();
  try {
    let nested: Promise<unknown> | undefined;
    const r = await Promise.allSettled([
      txs.run(() => insert.run(1)),
      txs.run(() => {
        insert.run(2);
        nested = txs.run(() => insert.run(3));
        throw new Error('after write');
      }),
      txs.run(() => insert.run(4)),
    ]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    await nested;
    expect(kept()).toEqual([1, 3, 4]);
  } finally {
    db.close();
  }
});

it('red team: getCounters answers as getCounter for a key that is not well-formed UTF-16 (a lone surrogate)', async () => {
  const store = sqliteStore({ path: files.file('c') });
  try {
    const key = 'rl:user\ud800';
    await store.hitCounter(key, 3, 60_000, 1000);
    const one = await store.getCounter(key, 1000);
    expect(one).not.toBeNull();
    expect(await store.getCounters?.([key, 'x'], 1000)).toEqual([one, null]);
  } finally {
    await store.close();
  }
});

it('getCounters: empty list, 20 distinct sizes (past the statement cache), SQL-looking and long keys', async () => {
  const store = sqliteStore({ path: files.file('c') });
  try {
    expect(await store.getCounters?.([], 1000)).toEqual([]);
    const keys = ["a') OR 1=1 --", '%', '_', "'", 'k'.repeat(100_000), ...Array.from({ length: 40 }, (_, i) => `k${i}`)];
    for (const k of keys) await store.hitCounter(k, 1, 60_000, 1000);
    for (let size = 1; size <= 20; size++) {
      const asked = keys.slice(0, size);
      expect(await store.getCounters?.(asked, 1000)).toEqual(await Promise.all(asked.map((k) => store.getCounter(k, 1000))));
    }
    expect(await store.getCounters?.(['nope', "x' OR '1'='1"], 1000)).toEqual([null, null]);
  } finally {
    await store.close();
  }
});
