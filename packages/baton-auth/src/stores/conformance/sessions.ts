/**
 * Store conformance: sessions, rotation, grace, reuse, rate limits and the per-user cap.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { RevocationEvent, RotateRequest, SessionRecord } from '../types.ts';
import { CREATE, DAY, eventually, HOUR, pick, register, request, sampleJkt, sampleSession } from './support.ts';
import type { Case, Harness, TestApi } from './support.ts';
import { sessionsCapCases } from './sessions-cap.ts';

/** The cases, in the order they run. */
const SESSION_CASES: readonly Case[] = [
  {
    name: 'answers ping on a live store',
    run: ({ withStore }) =>
      withStore(async (store) => {
        assert.equal(await store.ping(), undefined);
      }),
  },
  {
    name: 'keeps a session as it was created',
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const s = sampleSession(now);
        assert.deepEqual(await store.createSession(s, { ...CREATE, now }), { evicted: [] });
        assert.deepEqual(await store.getSession(s.id), s);
        assert.equal(await store.getSession('no-such-session'), null);
      }),
  },
  {
    name: "keeps a session's DPoP binding (jkt) from creation: getSession, listSessions, sessionHistory, and after a rotation",
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const jkt = sampleJkt();
        assert.equal(jkt.length, 43);
        const bound = sampleSession(now - 60_000, { userId, jkt });
        const unbound = sampleSession(now - 30_000, { userId });
        assert.equal('jkt' in unbound, false);
        for (const s of [bound, unbound]) await store.createSession(s, { ...CREATE, now: s.createdAt });
        // An unbound session has no jkt at all (deepEqual is strict: not even `jkt: undefined`).
        assert.deepEqual(await store.getSession(bound.id), bound);
        assert.deepEqual(await store.getSession(unbound.id), unbound);
        assert.deepEqual(await store.listSessions(userId, now), [bound, unbound]);
        assert.deepEqual(await store.sessionHistory(userId, now), [unbound, bound]);
        for (const s of [bound, unbound]) {
          const r = await store.rotate(request(s, 0, now));
          assert.equal(r.status, 'rotated');
          // A store may answer the whole record: then it carries the binding as stored.
          if (r.session !== undefined && 'jkt' in r.session) assert.equal((r.session as SessionRecord).jkt, s.jkt);
          const after = await store.getSession(s.id);
          assert.equal(after?.generation, 1);
          assert.deepEqual(after, {
            ...s,
            generation: 1,
            prevRotatedAt: s.rotatedAt,
            rotatedAt: now,
            lastUsedAt: now,
            idleExpiresAt: now + 7 * DAY,
            graceCount: 0,
          });
        }
        const listed = await store.listSessions(userId, now);
        assert.deepEqual(
          listed.map((s) => [s.id, s.jkt, 'jkt' in s]),
          [
            [bound.id, jkt, true],
            [unbound.id, undefined, false],
          ],
        );
        const history = await store.sessionHistory(userId, now);
        assert.deepEqual(
          history.map((s) => [s.id, s.jkt, 'jkt' in s]),
          [
            [unbound.id, undefined, false],
            [bound.id, jkt, true],
          ],
        );
      }),
  },
  {
    name: "lists a user's active sessions, oldest first",
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const a = sampleSession(now - 3000, { userId });
        const b = sampleSession(now - 2000, { userId });
        const expired = sampleSession(now - 1000, { userId, idleExpiresAt: now - 1 });
        const revoked = sampleSession(now - 500, { userId });
        for (const s of [b, a, expired, revoked]) await store.createSession(s, { ...CREATE, now });
        await store.revokeSession(revoked.id, { now, reason: 'test', revocationTtlMs: HOUR });
        assert.deepEqual(
          (await store.listSessions(userId, now)).map((s) => s.id),
          [a.id, b.id],
        );
        assert.deepEqual(await store.listSessions('nobody', now), []);
      }),
  },
  {
    name: 'rotates the current generation exactly once',
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const s = sampleSession(now - 60_000);
        await store.createSession(s, { ...CREATE, now: s.createdAt });
        const r = await store.rotate(request(s, 0, now));
        assert.equal(r.status, 'rotated');
        assert.equal(r.session?.generation, 1);
        assert.equal(r.session?.rotatedAt, now);
        assert.equal(r.session?.idleExpiresAt, now + 7 * DAY);
        const stored = await store.getSession(s.id);
        assert.deepEqual(pick(stored), pick(r.session));
        assert.equal(stored?.lastUsedAt, now);
        assert.equal(stored?.prevRotatedAt, s.rotatedAt);
      }),
  },
  {
    name: 'answers unknown, with no side effect, for a missing session, a generation ahead or another client',
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const s = sampleSession(now);
        await store.createSession(s, { ...CREATE, now });
        assert.equal((await store.rotate({ ...request(s, 0, now), sessionId: 'missing' })).status, 'unknown');
        assert.equal((await store.rotate(request(s, 1, now))).status, 'unknown');
        assert.equal((await store.rotate(request(s, 0, now, { clientId: 'other' }))).status, 'unknown');
        assert.deepEqual(await store.getSession(s.id), s);
      }),
  },
  {
    name: 'binds refresh tokens to their client always: a rotation naming no client is unknown too (RFC 6749 §6, §10.4)',
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const s = sampleSession(now - 60_000);
        await store.createSession(s, { ...CREATE, now: s.createdAt });
        const { clientId: _omitted, ...unnamed } = request(s, 0, now);
        for (const anonymous of [unnamed, { ...unnamed, clientId: '' }, { ...unnamed, clientId: 'WEB' }] as Partial<RotateRequest>[]) {
          const r = await store.rotate(anonymous as RotateRequest);
          assert.equal(r.status, 'unknown', `clientId ${JSON.stringify(anonymous.clientId)}`);
          assert.equal(r.session, undefined);
        }
        // A retired generation of another client must not get the grace answer either.
        assert.equal((await store.rotate(request(s, 0, now))).status, 'rotated');
        const after = await store.getSession(s.id);
        assert.equal((await store.rotate({ ...unnamed, now: now + 1 } as RotateRequest)).status, 'unknown');
        assert.equal((await store.rotate(request(s, 0, now + 1, { clientId: 'other' }))).status, 'unknown');
        assert.deepEqual(await store.getSession(s.id), after);
      }),
  },
  {
    name: 'converges retired generations inside the grace window on the current one',
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const s = sampleSession(now - 60_000);
        await store.createSession(s, { ...CREATE, now: s.createdAt });
        await store.rotate(request(s, 0, now));
        await store.rotate(request(s, 1, now + 1000));
        const one = await store.rotate(request(s, 1, now + 5000));
        const two = await store.rotate(request(s, 0, now + 5000));
        assert.equal(one.status, 'replayed_in_grace');
        assert.equal(two.status, 'replayed_in_grace');
        assert.equal(two.session?.generation, 2);
        assert.equal((await store.getSession(s.id))?.generation, 2);
      }),
  },
  {
    name: 'revokes the whole session when a retired generation comes back after the grace window',
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const s = sampleSession(now - 60_000);
        await store.createSession(s, { ...CREATE, now: s.createdAt });
        const events: RevocationEvent[] = [];
        const stop = await store.subscribe((e) => events.push(e));
        await store.rotate(request(s, 0, now));
        const reuse = await store.rotate(request(s, 0, now + 10_001));
        assert.equal(reuse.status, 'reused');
        assert.equal(reuse.session?.revokedAt, now + 10_001);
        assert.equal((await store.rotate(request(s, 1, now + 10_002))).status, 'revoked');
        await eventually(() => events.some((e) => e.kind === 'session' && e.id === s.id && e.reason === 'reused'));
        assert.ok((await store.revocationsSince(now)).some((e) => e.kind === 'session' && e.id === s.id));
        stop();
      }),
  },
  {
    name: 'refuses expired sessions (idle and absolute) without changing them',
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const idle = sampleSession(now - DAY, { idleExpiresAt: now });
        const absolute = sampleSession(now - DAY, { expiresAt: now });
        for (const s of [idle, absolute]) {
          await store.createSession(s, { ...CREATE, now: s.createdAt });
          assert.equal((await store.rotate(request(s, 0, now))).status, 'expired');
          assert.equal((await store.getSession(s.id))?.generation, 0);
        }
      }),
  },
  {
    name: 'limits refreshes per session and window',
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const s = sampleSession(now - 60_000);
        await store.createSession(s, { ...CREATE, now: s.createdAt });
        const rateLimit = { max: 3, windowMs: 60_000 };
        for (let g = 0; g < 3; g++) assert.equal((await store.rotate(request(s, g, now + g, { rateLimit }))).status, 'rotated');
        const limited = await store.rotate(request(s, 3, now + 10, { rateLimit }));
        assert.equal(limited.status, 'rate_limited');
        assert.ok((limited.retryAfterMs ?? 0) > 0 && (limited.retryAfterMs ?? 0) <= 60_000);
        assert.equal((await store.getSession(s.id))?.generation, 3);
        assert.equal((await store.rotate(request(s, 3, now + 60_001, { rateLimit }))).status, 'rotated');
      }),
  },
  {
    name: 'a refresh herd spends no rate limit: 100 presentations over two clients, 1 rotation, 99 grace answers, then the next refresh rotates',
    run: ({ withPeers }) =>
      withPeers(async (a, b, now) => {
        const s = sampleSession(now - 60_000);
        await a.createSession(s, { ...CREATE, now: s.createdAt });
        const rateLimit = { max: 3, windowMs: 60_000 };
        const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).rotate(request(s, 0, now + i, { rateLimit }))));
        const count = (status: string): number => results.filter((r) => r.status === status).length;
        assert.deepEqual([count('rotated'), count('replayed_in_grace'), count('rate_limited')], [1, 99, 0]);
        const after = await b.getSession(s.id);
        assert.equal(after?.generation, 1);
        assert.equal(after?.rateCount, 1, 'only the rotation counts against the rate limit');
        assert.equal(after?.graceCount, 99);
        const next = await a.rotate(request(s, 1, now + 200, { rateLimit }));
        assert.equal(next.status, 'rotated');
        assert.equal((await b.getSession(s.id))?.graceCount, 0, 'a rotation starts the grace count anew');
      }),
  },
  {
    name: 'bounds grace answers per generation: over graceLimit is rate_limited for 1 s, nothing changed',
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const s = sampleSession(now - 60_000);
        await store.createSession(s, { ...CREATE, now: s.createdAt });
        const graceLimit = 5;
        assert.equal((await store.rotate(request(s, 0, now, { graceLimit }))).status, 'rotated');
        for (let i = 1; i <= graceLimit; i++) assert.equal((await store.rotate(request(s, 0, now + i, { graceLimit }))).status, 'replayed_in_grace');
        const before = await store.getSession(s.id);
        assert.equal(before?.graceCount, graceLimit);
        const sixth = await store.rotate(request(s, 0, now + 10, { graceLimit }));
        assert.equal(sixth.status, 'rate_limited');
        assert.equal(sixth.retryAfterMs, 1000);
        assert.deepEqual(await store.getSession(s.id), before);
        // The current generation still rotates, and the next generation has its own allowance.
        assert.equal((await store.rotate(request(s, 1, now + 20, { graceLimit }))).status, 'rotated');
        assert.equal((await store.rotate(request(s, 1, now + 21, { graceLimit }))).status, 'replayed_in_grace');
        assert.equal((await store.getSession(s.id))?.graceCount, 1);
      }),
  },
];

/** Registers these cases (inside the suite's `describe`). */
export function sessionsCases(t: TestApi, h: Harness): void {
  register(t, h, SESSION_CASES);
  sessionsCapCases(t, h);
}
