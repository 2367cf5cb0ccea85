/**
 * Store conformance: the per-user cap on sessions, the ended sessions kept and pruned, and the history read in pages.
 * Run by `sessionsCases` (`sessions.ts`), after its own cases.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createBaton } from '../../core/baton.ts';
import { generateKey } from '../../core/keys.ts';
import { ENDED_SESSIONS_PER_USER, SESSION_HISTORY_PAGE } from '../../core/store.ts';
import type { BatonStore, RevocationEvent, SessionRecord } from '../types.ts';
import { CREATE, DAY, eventually, HOUR, register, request, sampleSession } from './support.ts';
import type { Case, Harness, TestApi } from './support.ts';

/** The cases, in the order they run. */
const SESSION_CAP_CASES: readonly Case[] = [
  {
    name: 'keeps at most maxSessionsPerUser active sessions, evicting the oldest',
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const events: RevocationEvent[] = [];
        const stop = await store.subscribe((e) => events.push(e));
        const [a, b, c] = [0, 1, 2].map((i) => sampleSession(now + i, { userId })) as [SessionRecord, SessionRecord, SessionRecord];
        const limit = { maxSessionsPerUser: 2, revocationTtlMs: HOUR };
        assert.deepEqual(await store.createSession(a, { ...limit, now }), { evicted: [] });
        assert.deepEqual(await store.createSession(b, { ...limit, now: now + 1 }), { evicted: [] });
        assert.deepEqual(await store.createSession(c, { ...limit, now: now + 2 }), { evicted: [a.id] });
        assert.deepEqual(
          (await store.listSessions(userId, now + 3)).map((s) => s.id),
          [b.id, c.id],
        );
        const single = sampleSession(now + 3, { userId });
        assert.deepEqual(
          (await store.createSession(single, { maxSessionsPerUser: 1, revocationTtlMs: HOUR, now: now + 3 })).evicted.sort(),
          [b.id, c.id].sort(),
        );
        assert.equal((await store.rotate(request(a, 0, now + 4))).status, 'revoked');
        await eventually(() => [a.id, b.id, c.id].every((id) => events.some((e) => e.id === id)));
        stop();
      }),
  },
  {
    name: `a flood of logins keeps at most ${ENDED_SESSIONS_PER_USER} ended sessions of the user, the most recently ended; history comes in pages of ${SESSION_HISTORY_PAGE}; another user is untouched`,
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const flooded = `user-${randomBytes(6).toString('hex')}`;
        const other = sampleSession(now - 1000);
        await store.createSession(other, { ...CREATE, now: other.createdAt });
        // Every login evicts the one before (a single-session account): each leaves an ended session behind.
        const logins = ENDED_SESSIONS_PER_USER + 60;
        const ids: string[] = [];
        for (let i = 0; i < logins; i++) {
          const s = sampleSession(now + i, { userId: flooded });
          const { evicted } = await store.createSession(s, { maxSessionsPerUser: 1, revocationTtlMs: HOUR, now: now + i });
          assert.deepEqual(evicted, i === 0 ? [] : [ids[i - 1]]);
          ids.push(s.id);
        }
        const kept = await wholeHistory(store, flooded, now + logins);
        // The active one and the most recently ended; the oldest logins are gone.
        assert.deepEqual(
          kept.map((s) => s.id),
          ids.slice(-(ENDED_SESSIONS_PER_USER + 1)).reverse(),
        );
        assert.equal(kept.filter((s) => s.revokedAt !== null).length, ENDED_SESSIONS_PER_USER);
        assert.deepEqual(
          (await store.listSessions(flooded, now + logins)).map((s) => s.id),
          [ids.at(-1)],
        );
        // A kept ended session still tells why it ended; a deleted one is unknown.
        assert.equal((await store.rotate(request(await must(store, ids.at(-2)), 0, now + logins))).session?.revokeReason, 'evicted');
        assert.equal(await store.getSession(ids[0] as string), null);
        assert.equal((await store.rotate({ ...request(sampleSession(now), 0, now + logins), sessionId: ids[0] as string })).status, 'unknown');
        // Another user's sessions and reads are their own.
        assert.deepEqual(await store.getSession(other.id), other);
        assert.deepEqual(
          (await store.listSessions(other.userId, now + logins)).map((s) => s.id),
          [other.id],
        );
        assert.deepEqual(
          (await store.sessionHistory(other.userId, now + logins)).map((s) => s.id),
          [other.id],
        );
      }),
    timeoutMs: 60_000,
  },
  {
    name: 'sessions that ended by time (idle or absolute) count against the cap too, and a revocation of the whole user still reaches them',
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const ended = Array.from({ length: ENDED_SESSIONS_PER_USER + 5 }, (_, i) => sampleSession(now - DAY + i, { userId, idleExpiresAt: now - HOUR + i }));
        for (const s of ended) await store.createSession(s, { ...CREATE, now });
        const live = sampleSession(now, { userId });
        await store.createSession(live, { ...CREATE, now });
        const kept = await wholeHistory(store, userId, now);
        assert.deepEqual(
          kept.map((s) => s.id),
          [
            live.id,
            ...ended
              .slice(5)
              .map((s) => s.id)
              .reverse(),
          ],
        );
        assert.deepEqual(
          (await store.listSessions(userId, now)).map((s) => s.id),
          [live.id],
        );
        // Logging out everywhere revokes what is not revoked yet, ended by time or not (an access token may outlive its session's end).
        const revoked = await store.revokeUserSessions(userId, { now, reason: 'logout_everywhere', revocationTtlMs: HOUR });
        assert.deepEqual(revoked.sort(), kept.map((s) => s.id).sort());
      }),
    timeoutMs: 60_000,
  },
  {
    name: `no access token outlives its session: one refreshed a minute before the session's absolute end expires with it, so a "log out everywhere" after the session was pruned (${ENDED_SESSIONS_PER_USER} newer ended sessions) leaves nothing valid`,
    run: ({ withStore }) =>
      withStore(async (store, base) => {
        let now = base;
        const baton = createBaton({
          issuer: 'https://conformance.test',
          keys: [generateKey('HS256', 'k1')],
          refreshTokenSecret: randomBytes(32),
          store,
          now: () => now,
          accessTokenTtl: '15m',
          refreshTokenTtl: '1h',
          sessionMaxAge: '1h',
          maxSessionsPerUser: 50,
          refreshRateLimit: false,
          loginRateLimit: false,
        });
        try {
          const userId = `user-${randomBytes(6).toString('hex')}`;
          const v = await baton.login(userId);
          const end = (await must(store, v.session_id)).expiresAt;
          now += 59 * 60_000;
          const pair = await baton.refresh(v.refresh_token);
          // Capped at the session's end, not iat + 15 min; expires_in says the same, and so does the grace answer.
          const claims = await baton.verify(pair.access_token);
          assert.ok(claims.exp * 1000 <= end, `exp ${claims.exp} is past the session's end ${end / 1000}`);
          assert.equal(pair.expires_in, claims.exp - claims.iat);
          assert.equal(pair.expires_in, 60);
          now += 1000;
          const grace = await baton.refresh(v.refresh_token);
          assert.equal(grace.expires_in, 59);
          assert.ok((await baton.verify(grace.access_token)).exp * 1000 <= end);
          now += 2 * 60_000; // V ended by time (absolute_timeout), never revoked
          for (let i = 0; i <= ENDED_SESSIONS_PER_USER; i++) {
            const s = await baton.login(userId);
            now += 10;
            await baton.revokeSession(s.session_id, 'logout');
          }
          await baton.login(userId);
          now += 10;
          assert.equal(await store.getSession(v.session_id), null, 'V was pruned');
          const revoked = await baton.revokeUserSessions(userId, { reason: 'logout_everywhere' });
          assert.ok(!revoked.includes(v.session_id));
          // Before the cap this answered VALID for 12 more minutes.
          await assert.rejects(baton.verify(pair.access_token), { code: 'ERR_TOKEN_EXPIRED' });
          await assert.rejects(baton.verify(grace.access_token), { code: 'ERR_TOKEN_EXPIRED' });
        } finally {
          await baton.close();
        }
      }),
    timeoutMs: 60_000,
  },
  {
    name: 'two clocks: a session a login ahead took for ended (past its idle end) and a refresh behind then rotated is active again — in the device list, counted and evicted under maxSessionsPerUser, never pruned unrevoked',
    run: ({ withPeers }) =>
      withPeers(async (a, b, x) => {
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const max2 = { maxSessionsPerUser: 2, revocationTtlMs: HOUR };
        const v = sampleSession(x - 60_000, { userId, idleExpiresAt: x + 1000 });
        await a.createSession(v, { ...max2, now: x - 60_000 });
        // Instance A, 1.5 s ahead: V is past its idle end; instance B, 1 s behind: V is still active and rotates.
        await a.createSession(sampleSession(x + 1500, { userId }), { ...max2, now: x + 1500 });
        assert.equal((await b.rotate(request(v, 0, x + 500))).status, 'rotated');
        assert.ok(
          (await a.listSessions(userId, x + 2000)).some((s) => s.id === v.id),
          'V, active, is in the device list',
        );
        // Max 2: the next login evicts V (the oldest active), revoked — not left active beside two others.
        const next = await a.createSession(sampleSession(x + 3000, { userId }), { ...max2, now: x + 3000 });
        assert.deepEqual(next.evicted, [v.id]);
        assert.equal((await a.getSession(v.id))?.revokeReason, 'evicted');
        assert.equal((await a.listSessions(userId, x + 4000)).length, 2);
      }),
  },
  {
    name: `sessionHistory answers at most page.limit (and never more than ${SESSION_HISTORY_PAGE}) sessions, newest first, before the cursor`,
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const userId = `user-${randomBytes(6).toString('hex')}`;
        // Same creation times in pairs: the order falls back to the id.
        const all = Array.from({ length: SESSION_HISTORY_PAGE + 10 }, (_, i) => sampleSession(now - 1000 + Math.floor(i / 2), { userId }));
        for (const s of all) await store.createSession(s, { ...CREATE, now });
        const order = [...all].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1)).map((s) => s.id);
        assert.deepEqual(
          (await store.sessionHistory(userId, now)).map((s) => s.id),
          order.slice(0, SESSION_HISTORY_PAGE),
        );
        assert.deepEqual((await store.sessionHistory(userId, now, { limit: 1000 })).length, SESSION_HISTORY_PAGE);
        const first = await store.sessionHistory(userId, now, { limit: 7 });
        assert.deepEqual(
          first.map((s) => s.id),
          order.slice(0, 7),
        );
        const last = first.at(-1) as SessionRecord;
        const second = await store.sessionHistory(userId, now, { limit: 7, before: { createdAt: last.createdAt, id: last.id } });
        assert.deepEqual(
          second.map((s) => s.id),
          order.slice(7, 14),
        );
        assert.deepEqual(await wholeHistory(store, userId, now).then((h) => h.map((s) => s.id)), order);
      }),
    timeoutMs: 60_000,
  },
];

export function sessionsCapCases(t: TestApi, h: Harness): void {
  register(t, h, SESSION_CAP_CASES);
}

/** Every session `sessionHistory` answers for the user, page after page (each at most a page long). */
async function wholeHistory(store: BatonStore, userId: string, now: number): Promise<SessionRecord[]> {
  const out: SessionRecord[] = [];
  for (;;) {
    const last = out.at(-1);
    const page = await store.sessionHistory(userId, now, last === undefined ? {} : { before: { createdAt: last.createdAt, id: last.id } });
    assert.ok(page.length <= SESSION_HISTORY_PAGE, `a page of ${page.length} sessions`);
    out.push(...page);
    if (page.length < SESSION_HISTORY_PAGE) return out;
  }
}

async function must(store: BatonStore, id: string | undefined): Promise<SessionRecord> {
  const s = await store.getSession(id as string);
  assert.ok(s !== null, `session ${id} is kept`);
  return s;
}
