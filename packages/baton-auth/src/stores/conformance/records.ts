/**
 * Store conformance: the service's named records and the rate-limit counters.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { register } from './support.ts';
import type { Case, Harness, TestApi } from './support.ts';

/** The cases, in the order they run. */
const RECORD_CASES: readonly Case[] = [
  {
    name: 'keeps named records; ifAbsent lets exactly one of many writers win',
    run: ({ withPeers }) =>
      withPeers(async (a, b) => {
        const kind = `kind-${randomBytes(4).toString('hex')}`;
        assert.equal(await a.getRecord(kind, 'x'), null);
        assert.equal(await a.putRecord(kind, 'x', 'one'), true);
        assert.equal(await b.getRecord(kind, 'x'), 'one');
        assert.equal(await a.putRecord(kind, 'x', 'two'), true);
        assert.equal(await b.putRecord(kind, 'x', 'three', { ifAbsent: true }), false);
        assert.equal(await a.getRecord(kind, 'x'), 'two');
        const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).putRecord(kind, 'race', String(i), { ifAbsent: true })));
        assert.equal(wins.filter(Boolean).length, 1);
        await a.putRecord(kind, 'a', '{"json":true}');
        assert.deepEqual(
          (await b.listRecords(kind)).map((r) => r.key),
          ['a', 'race', 'x'],
        );
        assert.equal(await b.deleteRecord(kind, 'x'), true);
        assert.equal(await b.deleteRecord(kind, 'x'), false);
        assert.deepEqual(await a.listRecords(`${kind}-none`), []);
      }),
  },
  {
    name: 'counts hits atomically per window (rate-limit counters)',
    run: ({ withPeers }) =>
      withPeers(async (a, b, now) => {
        const key = `counter-${randomBytes(4).toString('hex')}`;
        assert.equal(await a.getCounter(key, now), null);
        const hits = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).hitCounter(key, 1, 60_000, now)));
        assert.deepEqual(
          hits.map((h) => h.count).sort((x, y) => x - y),
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        for (const h of hits) assert.equal(h.resetAt, now + 60_000);
        assert.deepEqual(await b.getCounter(key, now + 1), { count: 20, resetAt: now + 60_000 });
        assert.deepEqual(await a.hitCounter(key, 2, 60_000, now + 60_000), { count: 2, resetAt: now + 120_000 });
        assert.deepEqual(await a.hitCounter(key, 5, 1000, now + 60_001, true), { count: 5, resetAt: now + 61_001 });
        assert.equal(await b.deleteCounter(key), true);
        assert.equal(await a.getCounter(key, now), null);
      }),
  },
  {
    name: 'lists the live counters under a prefix, taking wildcard characters literally',
    run: ({ withPeers }) =>
      withPeers(async (a, b, now) => {
        const base = `keys-${randomBytes(4).toString('hex')}:`;
        const live = ['a_b', 'a%b', 'a*b', 'a[b]', 'a]b', 'a\\b', 'a?b', 'ab', 'A_B', 'a^b'].map((k) => base + k);
        for (const key of live) await a.hitCounter(key, 1, 60_000, now);
        await a.hitCounter(`${base}a_old`, 1, 600_000, now - 700_000); // reset at now - 100 s: not live at now
        await a.hitCounter(`other-${base}a_b`, 1, 60_000, now);
        const sorted = (keys: string[]): string[] => [...keys].sort();
        assert.deepEqual(await b.counterKeys(base, now), sorted(live));
        for (const [prefix, expected] of [
          ['a_', ['a_b']],
          ['a%', ['a%b']],
          ['a*', ['a*b']],
          ['a[', ['a[b]']],
          ['a]', ['a]b']],
          ['a\\', ['a\\b']],
          ['a?', ['a?b']],
          ['A', ['A_B']],
          ['a^', ['a^b']],
          ['zz', []],
        ] as const) {
          assert.deepEqual(
            await b.counterKeys(base + prefix, now),
            expected.map((k) => base + k),
            `prefix ${JSON.stringify(prefix)}`,
          );
        }
        assert.deepEqual(await b.counterKeys(`${base}a_`, now - 150_000), [`${base}a_b`, `${base}a_old`].sort(), 'live is as of `now`');
      }),
  },
];

/** Registers these cases (inside the suite's `describe`). */
export function recordsCases(t: TestApi, h: Harness): void {
  register(t, h, RECORD_CASES);
}
