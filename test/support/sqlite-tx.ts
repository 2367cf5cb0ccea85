/**
 * A table `t` on a fresh SQLite file with its `Transactions` (stores/sqlite-db.ts), for the tests of
 * group commit: `kept()` reads what another connection sees, i.e. what was committed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { openDatabase, Transactions } from '../../packages/baton-auth/src/stores/sqlite-db.ts';

/** A folder of databases and `open`, which makes one there; `remove` deletes the folder. */
export function transactionFiles(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let n = 0;
  const open = (busyMs = 1000) => {
    const path = join(dir, `b${n++}.sqlite`);
    const db = openDatabase(path, busyMs);
    db.exec('CREATE TABLE t (i INTEGER PRIMARY KEY)');
    const txs = new Transactions(db, busyMs);
    const insert = db.prepare('INSERT INTO t (i) VALUES (?)');
    const count = db.prepare('SELECT count(*) AS c FROM t');
    const kept = (): number[] => {
      const other = new DatabaseSync(path);
      try {
        return (other.prepare('SELECT i FROM t ORDER BY i').all() as { i: number }[]).map((r) => r.i);
      } finally {
        other.close();
      }
    };
    return { db, txs, insert, count, kept, path };
  };
  return { dir, open, file: (name: string) => join(dir, `${name}${n++}.sqlite`), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
