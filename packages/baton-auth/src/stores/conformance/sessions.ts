/**
 * Store conformance: sessions, rotation, grace, reuse, rate limits and the per-user cap.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createBaton } from '../../core/baton.ts';
import { generateKey } from '../../core/keys.ts';
import { ENDED_SESSIONS_PER_USER, SESSION_HISTORY_PAGE } from '../../core/store.ts';
import type { BatonStore, RevocationEvent, RotateRequest, SessionRecord } from '../types.ts';
import { CREATE, DAY, eventually, HOUR, pick, request, sampleJkt, sampleSession } from './support.ts';
import type { Harness, TestApi } from './support.ts';

/** Registers these cases (inside the suite's `describe`). */
export function sessionsCases(t: TestApi, h: Harness): void {
  const { withStore, withPeers } = h;
  t.it('answers ping on a live store', withStore(async (store) => {
    assert.equal(await store.ping(), undefined);
  }));

  t.it('keeps a session as it was created', withStore(async (store, now) => {
    const s = sampleSession(now);
    assert.deepEqual(await store.createSession(s, { ...CREATE, now }), { evicted: [] });
    assert.deepEqual(await store.getSession(s.id), s);
    assert.equal(await store.getSession('no-such-session'), null);
  }));

  t.it('keeps a session\'s DPoP binding (jkt) from creation: getSession, listSessions, sessionHistory, and after a rotation', withStore(async (store, now) => {
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
      assert.deepEqual(after, { ...s, generation: 1, prevRotatedAt: s.rotatedAt, rotatedAt: now, lastUsedAt: now, idleExpiresAt: now + 7 * DAY, graceCount: 0 });
    }
    const listed = await store.listSessions(userId, now);
    assert.deepEqual(listed.map((s) => [s.id, s.jkt, 'jkt' in s]), [[bound.id, jkt, true], [unbound.id, undefined, false]]);
    const history = await store.sessionHistory(userId, now);
    assert.deepEqual(history.map((s) => [s.id, s.jkt, 'jkt' in s]), [[unbound.id, undefined, false], [bound.id, jkt, true]]);
  }));

  t.it('lists a user\'s active sessions, oldest first', withStore(async (store, now) => {
    const userId = `user-${randomBytes(6).toString('hex')}`;
    const a = sampleSession(now - 3000, { userId });
    const b = sampleSession(now - 2000, { userId });
    const expired = sampleSession(now - 1000, { userId, idleExpiresAt: now - 1 });
    const revoked = sampleSession(now - 500, { userId });
    for (const s of [b, a, expired, revoked]) await store.createSession(s, { ...CREATE, now });
    await store.revokeSession(revoked.id, { now, reason: 'test', revocationTtlMs: HOUR });
    assert.deepEqual((await store.listSessions(userId, now)).map((s) => s.id), [a.id, b.id]);
    assert.deepEqual(await store.listSessions('nobody', now), []);
  }));

  t.it('rotates the current generation exactly once', withStore(async (store, now) => {
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
  }));

  t.it('answers unknown, with no side effect, for a missing session, a generation ahead or another client', withStore(async (store, now) => {
    const s = sampleSession(now);
    await store.createSession(s, { ...CREATE, now });
    assert.equal((await store.rotate({ ...request(s, 0, now), sessionId: 'missing' })).status, 'unknown');
    assert.equal((await store.rotate(request(s, 1, now))).status, 'unknown');
    assert.equal((await store.rotate(request(s, 0, now, { clientId: 'other' }))).status, 'unknown');
    assert.deepEqual(await store.getSession(s.id), s);
  }));

  t.it('binds refresh tokens to their client always: a rotation naming no client is unknown too (RFC 6749 §6, §10.4)', withStore(async (store, now) => {
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
  }));

  t.it('converges retired generations inside the grace window on the current one', withStore(async (store, now) => {
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
  }));

  t.it('revokes the whole session when a retired generation comes back after the grace window', withStore(async (store, now) => {
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
  }));

  t.it('refuses expired sessions (idle and absolute) without changing them', withStore(async (store, now) => {
    const idle = sampleSession(now - DAY, { idleExpiresAt: now });
    const absolute = sampleSession(now - DAY, { expiresAt: now });
    for (const s of [idle, absolute]) {
      await store.createSession(s, { ...CREATE, now: s.createdAt });
      assert.equal((await store.rotate(request(s, 0, now))).status, 'expired');
      assert.equal((await store.getSession(s.id))?.generation, 0);
    }
  }));

  t.it('limits refreshes per session and window', withStore(async (store, now) => {
    const s = sampleSession(now - 60_000);
    await store.createSession(s, { ...CREATE, now: s.createdAt });
    const rateLimit = { max: 3, windowMs: 60_000 };
    for (let g = 0; g < 3; g++) assert.equal((await store.rotate(request(s, g, now + g, { rateLimit }))).status, 'rotated');
    const limited = await store.rotate(request(s, 3, now + 10, { rateLimit }));
    assert.equal(limited.status, 'rate_limited');
    assert.ok((limited.retryAfterMs ?? 0) > 0 && (limited.retryAfterMs ?? 0) <= 60_000);
    assert.equal((await store.getSession(s.id))?.generation, 3);
    assert.equal((await store.rotate(request(s, 3, now + 60_001, { rateLimit }))).status, 'rotated');
  }));

  t.it('a refresh herd spends no rate limit: 100 presentations over two clients, 1 rotation, 99 grace answers, then the next refresh rotates', withPeers(async (a, b, now) => {
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
  }));

  t.it('bounds grace answers per generation: over graceLimit is rate_limited for 1 s, nothing changed', withStore(async (store, now) => {
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
  }));

  t.it('keeps at most maxSessionsPerUser active sessions, evicting the oldest', withStore(async (store, now) => {
    const userId = `user-${randomBytes(6).toString('hex')}`;
    const events: RevocationEvent[] = [];
    const stop = await store.subscribe((e) => events.push(e));
    const [a, b, c] = [0, 1, 2].map((i) => sampleSession(now + i, { userId })) as [SessionRecord, SessionRecord, SessionRecord];
    const limit = { maxSessionsPerUser: 2, revocationTtlMs: HOUR };
    assert.deepEqual(await store.createSession(a, { ...limit, now }), { evicted: [] });
    assert.deepEqual(await store.createSession(b, { ...limit, now: now + 1 }), { evicted: [] });
    assert.deepEqual(await store.createSession(c, { ...limit, now: now + 2 }), { evicted: [a.id] });
    assert.deepEqual((await store.listSessions(userId, now + 3)).map((s) => s.id), [b.id, c.id]);
    const single = sampleSession(now + 3, { userId });
    assert.deepEqual((await store.createSession(single, { maxSessionsPerUser: 1, revocationTtlMs: HOUR, now: now + 3 })).evicted.sort(), [b.id, c.id].sort());
    assert.equal((await store.rotate(request(a, 0, now + 4))).status, 'revoked');
    await eventually(() => [a.id, b.id, c.id].every((id) => events.some((e) => e.id === id)));
    stop();
  }));

  t.it(`a flood of logins keeps at most ${ENDED_SESSIONS_PER_USER} ended sessions of the user, the most recently ended; history comes in pages of ${SESSION_HISTORY_PAGE}; another user is untouched`, withStore(async (store, now) => {
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
    assert.deepEqual(kept.map((s) => s.id), ids.slice(-(ENDED_SESSIONS_PER_USER + 1)).reverse());
    assert.equal(kept.filter((s) => s.revokedAt !== null).length, ENDED_SESSIONS_PER_USER);
    assert.deepEqual((await store.listSessions(flooded, now + logins)).map((s) => s.id), [ids.at(-1)]);
    // A kept ended session still tells why it ended; a deleted one is unknown.
    assert.equal((await store.rotate(request(await must(store, ids.at(-2)), 0, now + logins))).session?.revokeReason, 'evicted');
    assert.equal(await store.getSession(ids[0] as string), null);
    assert.equal((await store.rotate({ ...request(sampleSession(now), 0, now + logins), sessionId: ids[0] as string })).status, 'unknown');
    // Another user's sessions and reads are their own.
    assert.deepEqual(await store.getSession(other.id), other);
    assert.deepEqual((await store.listSessions(other.userId, now + logins)).map((s) => s.id), [other.id]);
    assert.deepEqual((await store.sessionHistory(other.userId, now + logins)).map((s) => s.id), [other.id]);
  }), 60_000);

  t.it('sessions that ended by time (idle or absolute) count against the cap too, and a revocation of the whole user still reaches them', withStore(async (store, now) => {
    const userId = `user-${randomBytes(6).toString('hex')}`;
    const ended = Array.from({ length: ENDED_SESSIONS_PER_USER + 5 }, (_, i) => sampleSession(now - DAY + i, { userId, idleExpiresAt: now - HOUR + i }));
    for (const s of ended) await store.createSession(s, { ...CREATE, now });
    const live = sampleSession(now, { userId });
    await store.createSession(live, { ...CREATE, now });
    const kept = await wholeHistory(store, userId, now);
    assert.deepEqual(kept.map((s) => s.id), [live.id, ...ended.slice(5).map((s) => s.id).reverse()]);
    assert.deepEqual((await store.listSessions(userId, now)).map((s) => s.id), [live.id]);
    // Logging out everywhere revokes what is not revoked yet, ended by time or not (an access token may outlive its session's end).
    const revoked = await store.revokeUserSessions(userId, { now, reason: 'logout_everywhere', revocationTtlMs: HOUR });
    assert.deepEqual(revoked.sort(), kept.map((s) => s.id).sort());
  }), 60_000);

  t.it(`no access token outlives its session: one refreshed a minute before the session's absolute end expires with it, so a "log out everywhere" after the session was pruned (${ENDED_SESSIONS_PER_USER} newer ended sessions) leaves nothing valid`, withStore(async (store, base) => {
    let now = base;
    const baton = createBaton({ issuer: 'https://conformance.test', keys: [generateKey('HS256', 'k1')], refreshTokenSecret: randomBytes(32), store, now: () => now,
      accessTokenTtl: '15m', refreshTokenTtl: '1h', sessionMaxAge: '1h', maxSessionsPerUser: 50, refreshRateLimit: false, loginRateLimit: false });
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
  }), 60_000);

  t.it('two clocks: a session a login ahead took for ended (past its idle end) and a refresh behind then rotated is active again — in the device list, counted and evicted under maxSessionsPerUser, never pruned unrevoked', withPeers(async (a, b, x) => {
    const userId = `user-${randomBytes(6).toString('hex')}`;
    const max2 = { maxSessionsPerUser: 2, revocationTtlMs: HOUR };
    const v = sampleSession(x - 60_000, { userId, idleExpiresAt: x + 1000 });
    await a.createSession(v, { ...max2, now: x - 60_000 });
    // Instance A, 1.5 s ahead: V is past its idle end; instance B, 1 s behind: V is still active and rotates.
    await a.createSession(sampleSession(x + 1500, { userId }), { ...max2, now: x + 1500 });
    assert.equal((await b.rotate(request(v, 0, x + 500))).status, 'rotated');
    assert.ok((await a.listSessions(userId, x + 2000)).some((s) => s.id === v.id), 'V, active, is in the device list');
    // Max 2: the next login evicts V (the oldest active), revoked — not left active beside two others.
    const next = await a.createSession(sampleSession(x + 3000, { userId }), { ...max2, now: x + 3000 });
    assert.deepEqual(next.evicted, [v.id]);
    assert.equal((await a.getSession(v.id))?.revokeReason, 'evicted');
    assert.equal((await a.listSessions(userId, x + 4000)).length, 2);
  }));

  t.it(`sessionHistory answers at most page.limit (and never more than ${SESSION_HISTORY_PAGE}) sessions, newest first, before the cursor`, withStore(async (store, now) => {
    const userId = `user-${randomBytes(6).toString('hex')}`;
    // Same creation times in pairs: the order falls back to the id.
    const all = Array.from({ length: SESSION_HISTORY_PAGE + 10 }, (_, i) => sampleSession(now - 1000 + Math.floor(i / 2), { userId }));
    for (const s of all) await store.createSession(s, { ...CREATE, now });
    const order = [...all].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1)).map((s) => s.id);
    assert.deepEqual((await store.sessionHistory(userId, now)).map((s) => s.id), order.slice(0, SESSION_HISTORY_PAGE));
    assert.deepEqual((await store.sessionHistory(userId, now, { limit: 1000 })).length, SESSION_HISTORY_PAGE);
    const first = await store.sessionHistory(userId, now, { limit: 7 });
    assert.deepEqual(first.map((s) => s.id), order.slice(0, 7));
    const last = first.at(-1) as SessionRecord;
    const second = await store.sessionHistory(userId, now, { limit: 7, before: { createdAt: last.createdAt, id: last.id } });
    assert.deepEqual(second.map((s) => s.id), order.slice(7, 14));
    assert.deepEqual(await wholeHistory(store, userId, now).then((h) => h.map((s) => s.id)), order);
  }), 60_000);
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
