/**
 * `getCounters` (the SQLite store's one-statement read of several counters, which the login
 * protection's block check uses): for any counters and any keys asked, the same answers as
 * `getCounter` key by key, in the order asked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import { sqliteStore } from 'baton-auth/stores/sqlite';

const dir = mkdtempSync(join(tmpdir(), 'baton-sqlite-counters-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

it('getCounters answers as getCounter does for each key: live, reset, absent, repeated, any order', async () => {
  const key = fc.constantFrom('client:pair:a|1.2.3.4', 'client:addr:1.2.3.4', 'login:pair:b|::/64', "odd'key%_", 'x');
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ key, points: fc.integer({ min: 1, max: 5 }), windowMs: fc.integer({ min: 1, max: 2000 }), at: fc.integer({ min: 0, max: 1000 }) }), {
        maxLength: 10,
      }),
      fc.array(key, { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 0, max: 3000 }),
      async (hits, asked, now) => {
        const store = sqliteStore({ path: join(dir, `c${n++}.sqlite`) });
        try {
          for (const h of hits) await store.hitCounter(h.key, h.points, h.windowMs, h.at);
          const one = await Promise.all(asked.map((k) => store.getCounter(k, now)));
          expect(await store.getCounters?.(asked, now)).toEqual(one);
        } finally {
          await store.close();
        }
      },
    ),
    { numRuns: 60 },
  );
});
