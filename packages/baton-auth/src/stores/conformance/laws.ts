/**
 * Store conformance: laws, checked by fast-check: the rotation table (clocks that step back
 * included), exactly-once rotation under concurrency, through Baton too.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { createBaton } from '../../core/baton.ts';
import { generateKey } from '../../core/keys.ts';
import { decideRotation } from '../../core/rotation.ts';
import type { SessionRecord } from '../types.ts';
import { CREATE, eventually, pick, register, request, sampleSession } from './support.ts';
import type { Case, Harness, TestApi } from './support.ts';

/** The cases, in the order they run. */
const LAW_CASES: readonly Case[] = [
  {
    name: 'law: any sequence of presentations matches the rotation table',
    run: ({ withStore, numRuns }) =>
      withStore(async (store, base) => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(
              // Time mostly moves on, and sometimes back (a clock step, or another instance's clock behind).
              fc.record({
                advance: fc.oneof(
                  { weight: 3, arbitrary: fc.integer({ min: 0, max: 15_000 }) },
                  { weight: 1, arbitrary: fc.integer({ min: -20_000, max: -1 }) },
                ),
                behind: fc.integer({ min: -1, max: 3 }),
                limited: fc.boolean(),
                graceLimit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
              }),
              { minLength: 1, maxLength: 12 },
            ),
            async (steps) => {
              let model: SessionRecord | null = sampleSession(base - 60_000);
              await store.createSession(model, { ...CREATE, now: model.createdAt });
              let now = base;
              for (const step of steps) {
                now += step.advance;
                const limit = {
                  ...(step.limited ? { rateLimit: { max: 3, windowMs: 20_000 } } : {}),
                  ...(step.graceLimit === undefined ? {} : { graceLimit: step.graceLimit }),
                };
                const req = request(model as SessionRecord, Math.max(0, (model as SessionRecord).generation - step.behind), now, {
                  ...limit,
                  ip: `192.0.2.${Math.abs(step.advance) % 256}`,
                });
                const expected = decideRotation(model, req);
                const actual = await store.rotate(req);
                assert.equal(actual.status, expected.status);
                assert.deepEqual(pick(actual.session), pick(expected.session));
                assert.equal(actual.retryAfterMs, expected.retryAfterMs);
                if (expected.write) model = expected.write;
                assert.deepEqual(await store.getSession(req.sessionId), model);
              }
            },
          ),
          { numRuns },
        );
      }),
  },
  {
    name: 'law: a retired token presented more than the grace window before its retirement (a clock behind the one that rotated) is refused for now: no grace answer, no reuse, nothing changed; the current token still rotates',
    run: ({ withPeers, numRuns }) =>
      withPeers(async (a, b, base) => {
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 10_001, max: 7_200_000 }), fc.integer({ min: 1, max: 2 }), async (behindMs, back) => {
            const s = sampleSession(base - 60_000, { generation: 3 });
            await a.createSession(s, { ...CREATE, now: s.createdAt });
            // Instance `a`, its clock ahead, rotates twice; instance `b` is `behindMs` behind it.
            const ahead = base + behindMs;
            assert.equal((await a.rotate(request(s, 3, ahead))).status, 'rotated');
            assert.equal((await a.rotate(request(s, 4, ahead + 1))).status, 'rotated');
            const model = (await b.getSession(s.id)) as SessionRecord;
            const late = request(s, 5 - back, base, { graceLimit: 3, ip: '192.0.2.1' });
            const expected = decideRotation(model, late);
            assert.deepEqual(
              { status: expected.status, retryAfterMs: expected.retryAfterMs, write: expected.write },
              { status: 'rate_limited', retryAfterMs: 1000, write: undefined },
            );
            for (let i = 0; i < 3; i++) {
              const actual = await b.rotate(late);
              assert.equal(actual.status, 'rate_limited');
              assert.equal(actual.retryAfterMs, 1000);
            }
            assert.deepEqual(await a.getSession(s.id), model, 'nothing changed: no grace count, no revocation');
            const current = await b.rotate(request(s, 5, base));
            assert.equal(current.status, 'rotated');
            assert.equal(current.session?.generation, 6);
            assert.equal(current.session?.revokedAt, null);
          }),
          { numRuns: Math.min(numRuns, 10) },
        );
      }),
  },
  {
    name: "law: rotations alternating between two instances whatever their clocks' skew share one rate budget: a window on a clock ahead is never started again by one behind",
    run: ({ withPeers, numRuns }) =>
      withPeers(async (a, b, base) => {
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 0, max: 7_200_000 }), async (skewMs) => {
            const rateLimit = { max: 3, windowMs: 60_000 };
            const s = sampleSession(base - 60_000, { generation: 1 });
            await a.createSession(s, { ...CREATE, now: s.createdAt });
            // `a` runs skewMs ahead of `b`; the client alternates between them, a second apart.
            const statuses: string[] = [];
            for (let i = 0; i < 6; i++) {
              const [store, now] = i % 2 === 0 ? [a, base + skewMs + i * 1000] : [b, base + i * 1000];
              const r = await (store as typeof a).rotate(request(s, 1 + statuses.filter((x) => x === 'rotated').length, now, { rateLimit }));
              statuses.push(r.status);
            }
            assert.deepEqual(statuses, ['rotated', 'rotated', 'rotated', 'rate_limited', 'rate_limited', 'rate_limited'], `skew ${skewMs} ms`);
          }),
          { numRuns: Math.min(numRuns, 10) },
        );
      }),
  },
  {
    name: 'law: N concurrent rotations of one token over two clients make exactly one child',
    run: ({ withPeers, numRuns }) =>
      withPeers(async (a, b, base) => {
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 2, max: 60 }), fc.integer({ min: 0, max: 4 }), async (n, generation) => {
            const s = sampleSession(base - 60_000, { generation });
            await a.createSession(s, { ...CREATE, now: s.createdAt });
            const results = await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 === 0 ? a : b).rotate(request(s, generation, base + i))));
            assert.equal(results.filter((r) => r.status === 'rotated').length, 1);
            assert.equal(results.filter((r) => r.status === 'replayed_in_grace').length, n - 1);
            for (const r of results) assert.equal(r.session?.generation, generation + 1);
            const after = await b.getSession(s.id);
            assert.equal(after?.generation, generation + 1);
            assert.equal(after?.revokedAt, null);
          }),
          { numRuns },
        );
      }),
  },
  {
    name: 'law: concurrent refreshes through Baton all get the same child; a replay after the grace window kills the session',
    run: ({ withPeers, numRuns }) =>
      withPeers(async (a, b, base) => {
        let now = base;
        const shared = {
          issuer: 'https://conformance.test',
          keys: [generateKey('HS256', 'k1')],
          refreshTokenSecret: randomBytes(32),
          refreshRateLimit: false as const,
          now: () => now,
        };
        const one = createBaton({ ...shared, store: a });
        const two = createBaton({ ...shared, store: b });
        try {
          await fc.assert(
            fc.asyncProperty(fc.integer({ min: 2, max: 40 }), async (n) => {
              const login = await one.login(`user-${randomBytes(4).toString('hex')}`);
              now += 1000;
              const pairs = await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? one : two).refresh(login.refresh_token)));
              assert.equal(new Set(pairs.map((p) => p.refresh_token)).size, 1, 'every racer converges on one child');
              const child = pairs[0]?.refresh_token as string;
              assert.notEqual(child, login.refresh_token);
              await two.verify(pairs[0]?.access_token as string);
              now += 11_000;
              const next = await one.refresh(child);
              await assert.rejects(two.refresh(login.refresh_token), { code: 'ERR_REFRESH_REUSED' });
              await assert.rejects(one.refresh(next.refresh_token), { code: 'ERR_SESSION_ENDED' });
              await eventually(async () => {
                try {
                  await one.verify(next.access_token);
                  await two.verify(next.access_token);
                  return false;
                } catch (err) {
                  return (err as { code?: string }).code === 'ERR_SESSION_REVOKED';
                }
              });
            }),
            { numRuns: Math.min(numRuns, 15) },
          );
        } finally {
          await one.close();
          await two.close();
        }
      }),
    timeoutMs: 60_000,
  },
];

/** Registers these cases (inside the suite's `describe`). */
export function lawsCases(t: TestApi, h: Harness): void {
  register(t, h, LAW_CASES);
}
