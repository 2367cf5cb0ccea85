/**
 * Store conformance: the revocation log read by its cursor (`revocationsAfter`), in commit order whatever the clocks.
 * Run by `revocationsCases` (`revocations.ts`), after its own cases.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { BatonStore, RevocationEvent, SessionRecord } from '../types.ts';
import { CREATE, eventually, HOUR, register, sampleSession } from './support.ts';
import type { Case, Harness, TestApi } from './support.ts';

// The feed's cursor (RFC-free, Baton's own contract): a follower resumes after the last seq it saw.
/** The seq of the newest entry of the log now (a marker written for the purpose). */
const cursorNow = async (store: BatonStore, now: number): Promise<number> => {
  const marker = `marker-${randomBytes(6).toString('hex')}`;
  await store.announce({ kind: 'key', id: marker, at: now, expiresAt: now + HOUR, reason: 'marker' });
  const seq = (await store.revocationsSince(now)).find((e) => e.id === marker)?.seq;
  assert.ok(Number.isSafeInteger(seq) && (seq as number) > 0, 'an event read from the log carries its seq');
  return seq as number;
};
/** Everything after `cursor`, page by page of `limit`, as a follower reads it. */
const readAfter = async (store: BatonStore, cursor: number, now: number, limit = 3): Promise<RevocationEvent[]> => {
  const out: RevocationEvent[] = [];
  for (;;) {
    const page = await store.revocationsAfter(cursor, limit, now);
    assert.ok(page.length <= limit);
    if (page.length === 0) return out;
    for (const e of page) {
      assert.ok((e.seq as number) > cursor, 'each seq is after the cursor, increasing');
      cursor = e.seq as number;
      out.push(e);
    }
  }
};

/** The cases, in the order they run. */
const REVOCATION_CURSOR_CASES: readonly Case[] = [
  {
    name: 'lists the revocations after a cursor in commit order, whatever time each carries (instances with skewed clocks)',
    run: ({ withPeers, can }) =>
      withPeers(async (a, b, now) => {
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const [one, two, three] = [0, 1, 2].map((i) => sampleSession(now + i, { userId })) as [SessionRecord, SessionRecord, SessionRecord];
        for (const x of [one, two, three]) await a.createSession(x, { ...CREATE, now });
        const start = await cursorNow(a, now);
        // a's clock is right, b's 3 s behind: b's later writes carry earlier times.
        const jti = randomBytes(8).toString('hex');
        await a.denyJti(jti, now + HOUR, now);
        await b.revokeSession(one.id, { now: now - 3000, reason: 'logout', revocationTtlMs: HOUR });
        await a.announce({ kind: 'key', id: `kid-${jti}`, at: now + 1, expiresAt: now + HOUR, reason: 'compromised' });
        await b.revokeUserSessions(userId, { now: now - 2999, reason: 'logout_everywhere', revocationTtlMs: HOUR });
        await b.denyJti(`${jti}-expired`, now - 1, now - 3000); // expired already: may be left out
        const seen = await readAfter(b, start, now);
        assert.deepEqual(
          seen.slice(0, 3).map((e) => e.id),
          [jti, one.id, `kid-${jti}`],
          'in the order written, not by time',
        );
        assert.deepEqual(new Set(seen.slice(3).map((e) => e.id)), new Set([two.id, three.id]));
        assert.equal(seen.length, 5, 'the expired one left out');
        // Resuming after any event gives exactly the ones written after it.
        for (let i = 0; i < seen.length; i++)
          assert.deepEqual(
            (await readAfter(a, seen[i]?.seq as number, now, 100)).map((e) => e.id),
            seen.slice(i + 1).map((e) => e.id),
          );
        // A later write is after every cursor handed out, whatever its time.
        await b.denyJti(`${jti}-late`, now + HOUR, now - 60_000);
        assert.deepEqual(
          (await readAfter(a, seen.at(-1)?.seq as number, now)).map((e) => e.id),
          [`${jti}-late`],
        );
        assert.deepEqual(await a.revocationsAfter(Number.MAX_SAFE_INTEGER, 10, now), []);
        // The head, where the store says it: at least every cursor handed out (a cursor above it is unknown to the feed).
        if (can.revocationHead) {
          const late = (await readAfter(a, seen.at(-1)?.seq as number, now)).at(-1)?.seq as number;
          assert.ok((await (a.revocationHead as () => Promise<number>)()) >= late, 'revocationHead is at least the last seq handed out');
          assert.ok((await (b.revocationHead as () => Promise<number>)()) >= late, 'and so through every client');
        }
      }),
  },
  {
    name: 'says it is subscribed once a subscription is live, on each client',
    run: ({ withPeers }) =>
      withPeers(async (a, b) => {
        const stops = [await a.subscribe(() => undefined), await b.subscribe(() => undefined)];
        try {
          await eventually(() => (a.subscribed as () => boolean)() && (b.subscribed as () => boolean)());
        } finally {
          for (const stop of stops) stop();
        }
      }),
    needs: 'subscribed',
  },
  {
    name: 'misses no revocation for a reader that follows the cursor while two clients write at once',
    run: ({ withPeers }) =>
      withPeers(async (a, b, now) => {
        const start = await cursorNow(a, now);
        const ids = new Set<string>();
        const seen: string[] = [];
        let cursor = start;
        let writing = true;
        const reader = (async () => {
          // Reads while the writes commit: a seq taken before another commits must not be skipped.
          while (writing) {
            for (const e of await b.revocationsAfter(cursor, 1000, now)) {
              seen.push(e.id);
              cursor = e.seq as number;
            }
            await new Promise((r) => setImmediate(r));
          }
        })();
        for (let round = 0; round < 5; round++) {
          await Promise.all(
            Array.from({ length: 24 }, (_, i) => {
              const id = `${round}-${i}-${randomBytes(4).toString('hex')}`;
              ids.add(id);
              const store = i % 2 === 0 ? a : b;
              return store.denyJti(id, now + HOUR, now + (i % 2 === 0 ? 0 : -3000) + round);
            }),
          );
        }
        writing = false;
        await reader;
        for (const e of await b.revocationsAfter(cursor, 1000, now)) seen.push(e.id);
        assert.deepEqual(seen.filter((id) => ids.has(id)).length, ids.size, 'every write, once');
        assert.equal(new Set(seen).size, seen.length, 'none twice');
      }),
  },
];

export function revocationCursorCases(t: TestApi, h: Harness): void {
  register(t, h, REVOCATION_CURSOR_CASES);
}
