/**
 * Group commit of the SQLite store's write transactions (`Transactions.run`, #26): bodies arriving
 * in one turn of the event loop share a transaction, each in its own savepoint. Each body sees the
 * writes of those before it, a body that throws loses only its own writes, and anything that ends
 * the whole transaction rejects every body of the batch, none of whose writes is kept.
 */
import { statSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { transactionFiles } from '../support/sqlite-tx.ts';

const files = transactionFiles('baton-sqlite-batch-');
afterAll(files.remove);
const { open } = files;

describe('group commit of write transactions', () => {
  it('for any bodies, some throwing, arriving together: each sees the writes before it, a throwing one loses only its own, the rest are kept', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 150 }), async (throws) => {
        const { db, txs, insert, count, kept } = open();
        try {
          const seen: number[] = [];
          const results = await Promise.allSettled(
            throws.map((fails, i) =>
              txs.run(() => {
                seen.push(Number((count.get() as { c: number }).c));
                insert.run(i);
                if (fails) throw new Error(`body ${i}`);
                return i;
              }),
            ),
          );
          const expected = throws.flatMap((fails, i) => (fails ? [] : [i]));
          expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(
            throws.map((fails, i) => (fails ? `body ${i}` : i)),
          );
          // Body i saw exactly the rows of the bodies before it that did not throw.
          expect(seen).toEqual(throws.map((_, i) => throws.slice(0, i).filter((f) => !f).length));
          expect(kept()).toEqual(expected);
        } finally {
          db.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('bodies arriving together share transactions: far fewer commits than bodies, at most 64 bodies to one', async () => {
    const { db, txs, insert, kept, path } = open();
    try {
      const frames = (): number => statSync(`${path}-wal`).size;
      const before = frames();
      const sizes: number[] = [];
      let current = 0;
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          txs.run(() => {
            insert.run(i);
            // The bodies of a batch run in one synchronous stretch, before any microtask.
            if (current++ === 0)
              queueMicrotask(() => {
                sizes.push(current);
                current = 0;
              });
          }),
        ),
      );
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(200);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(64);
      // Each commit appends at least one page to the WAL (4 KiB and a 24-byte frame header): 200
      // transactions of one insert would add 200 frames; shared ones add a few per batch.
      const added = (frames() - before) / (4096 + 24);
      expect(added).toBeLessThan(200 / 4);
      expect(kept()).toHaveLength(200);
    } finally {
      db.close();
    }
  });

  it('a body after which SQLite has no transaction left rejects the whole batch, and nothing of it is kept', async () => {
    const { db, txs, insert, kept } = open();
    try {
      const results = await Promise.allSettled(
        [0, 1, 2, 3].map((i) =>
          txs.run(() => {
            insert.run(i);
            if (i === 2) {
              db.exec('ROLLBACK'); // as SQLite does by itself on SQLITE_FULL or SQLITE_IOERR
              throw new Error('disk full');
            }
          }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
      expect(kept()).toEqual([]);
      // The next one starts afresh.
      await txs.run(() => insert.run(9));
      expect(kept()).toEqual([9]);
    } finally {
      db.close();
    }
  });

  it('a COMMIT that fails rejects every body of the batch, and nothing of it is kept', async () => {
    const { db, txs, insert, kept } = open();
    try {
      db.exec('CREATE TABLE child (p INTEGER REFERENCES t (i) DEFERRABLE INITIALLY DEFERRED)');
      const orphan = db.prepare('INSERT INTO child (p) VALUES (?)');
      const results = await Promise.allSettled([txs.run(() => insert.run(1)), txs.run(() => orphan.run(42)), txs.run(() => insert.run(3))]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
      expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/FOREIGN KEY/);
      expect(kept()).toEqual([]);
      expect(db.isTransaction).toBe(false);
    } finally {
      db.close();
    }
  });
});
