/**
 * Store conformance: revocations and their feed, the one-time ledger, key events, opaque tokens, sweeps, why sessions ended.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { BatonStore, RevocationEvent, SessionRecord } from '../types.ts';
import { CREATE, DAY, eventually, HOUR, request, sampleSession } from './support.ts';
import type { Harness, TestApi } from './support.ts';

/** Registers these cases (inside the suite's `describe`). */
export function revocationsCases(t: TestApi, h: Harness): void {
  const { withStore, withPeers } = h;
  t.it('revokes one session, or all of a user\'s but one, and publishes it', withStore(async (store, now) => {
    const userId = `user-${randomBytes(6).toString('hex')}`;
    const [a, b, c] = [0, 1, 2].map((i) => sampleSession(now + i, { userId })) as [SessionRecord, SessionRecord, SessionRecord];
    for (const s of [a, b, c]) await store.createSession(s, { ...CREATE, now });
    const events: RevocationEvent[] = [];
    const stop = await store.subscribe((e) => events.push(e));
    const opts = { now: now + 10, reason: 'logout', revocationTtlMs: HOUR };
    assert.equal(await store.revokeSession(a.id, opts), true);
    assert.equal(await store.revokeSession(a.id, opts), false);
    assert.equal(await store.revokeSession('missing', opts), false);
    assert.deepEqual(await store.revokeUserSessions(userId, { ...opts, except: c.id }), [b.id]);
    assert.deepEqual((await store.listSessions(userId, now + 11)).map((s) => s.id), [c.id]);
    await eventually(() => events.filter((e) => e.kind === 'session' && (e.id === a.id || e.id === b.id)).length === 2);
    const since = await store.revocationsSince(now + 10);
    for (const id of [a.id, b.id]) {
      const event = since.find((e) => e.id === id);
      assert.equal(event?.reason, 'logout');
      assert.equal(event?.expiresAt, now + 10 + HOUR);
    }
    stop();
    await store.revokeSession(c.id, opts);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(events.some((e) => e.id === c.id), false, 'no event after unsubscribing');
  }));

  t.it('carries any revocation reason intact to a peer\'s subscriber and the log (quotes, backslashes, control characters)', withPeers(async (a, b, now) => {
    const userId = `user-${randomBytes(6).toString('hex')}`;
    const [one, two, three] = [0, 1, 2].map((i) => sampleSession(now + i, { userId })) as [SessionRecord, SessionRecord, SessionRecord];
    for (const s of [one, two, three]) await a.createSession(s, { ...CREATE, now });
    const events: RevocationEvent[] = [];
    const stop = await b.subscribe((e) => events.push(e));
    const reasons = ['he said "stop"\\', 'a "quoted" reason', 'tab\tline\nend é ✓ \\"'];
    await a.revokeSession(one.id, { now, reason: reasons[0] as string, revocationTtlMs: HOUR });
    await a.revokeSession(two.id, { now, reason: reasons[1] as string, revocationTtlMs: HOUR });
    await a.revokeUserSessions(userId, { now, reason: reasons[2] as string, revocationTtlMs: HOUR });
    const wanted = [[one.id, reasons[0]], [two.id, reasons[1]], [three.id, reasons[2]]];
    await eventually(() => wanted.every(([id, reason]) => events.some((e) => e.id === id && e.reason === reason)));
    const logged = await b.revocationsSince(now);
    for (const [id, reason] of wanted) assert.equal(logged.find((e) => e.id === id)?.reason, reason);
    stop();
  }));

  t.it('consumes a jti once, and keeps a denylist in the revocation log', withStore(async (store, now) => {
    const jti = randomBytes(8).toString('hex');
    assert.equal(await store.consumeJti(jti, now + 60_000, now), true);
    assert.equal(await store.consumeJti(jti, now + 60_000, now + 1), false);
    const denied = randomBytes(8).toString('hex');
    const logged = async (at: number) => (await store.revocationsSince(at)).some((e) => e.kind === 'token' && e.id === denied);
    assert.equal(await logged(now), false);
    await store.denyJti(denied, now + 60_000, now);
    assert.equal(await logged(now + 1), true);
    assert.equal(await logged(now + 60_001), false);
  }));

  t.it('announces a key taken out of service to every client, and logs it', withPeers(async (a, b, now) => {
    const kid = `kid-${randomBytes(4).toString('hex')}`;
    const events: RevocationEvent[] = [];
    const stop = await b.subscribe((e) => events.push(e));
    await a.announce({ kind: 'key', id: kid, at: now, expiresAt: now + HOUR, reason: 'key "compromised"' });
    await eventually(() => events.some((e) => e.kind === 'key' && e.id === kid && e.reason === 'key "compromised"'));
    assert.ok((await b.revocationsSince(now)).some((e) => e.kind === 'key' && e.id === kid));
    stop();
  }));

  t.it('keeps opaque tokens under their hash until they expire', withStore(async (store, now) => {
    const hash = randomBytes(32).toString('base64url');
    const claims = { iss: 'i', sub: 's', aud: 'a', exp: Math.floor(now / 1000) + 60, iat: Math.floor(now / 1000), jti: 'j', sid: 'x', client_id: 'c' };
    await store.saveOpaqueToken(hash, { claims, expiresAt: claims.exp * 1000 }, now);
    assert.deepEqual((await store.findOpaqueToken(hash, now))?.claims, claims);
    assert.equal(await store.findOpaqueToken(hash, claims.exp * 1000), null);
    await store.deleteOpaqueToken(hash);
    assert.equal(await store.findOpaqueToken(hash, now), null);
  }));

  t.it('keeps a spent jti spent until its expiry on the caller\'s clock, whatever the backend\'s own clock says (a TTL is no expiry)', withStore(async (store, now) => {
    // The engine's clock may run behind the backend's real time (a step it has not taken yet):
    // the expiry is decided on the `now` the caller gives, not on a TTL counted by the backend.
    const jti = randomBytes(8).toString('hex');
    assert.equal(await store.consumeJti(jti, now + 100, now), true);
    await new Promise((resolve) => setTimeout(resolve, 250)); // past 100 ms of the backend's time
    assert.equal(await store.consumeJti(jti, now + 100, now + 50), false, 'a replay before its expiry on the caller\'s clock is refused');
    assert.equal(await store.consumeJti(jti, now + 60_000, now + 100), true, 'spent again once its expiry passed on the caller\'s clock');
    assert.equal(await store.consumeJti(jti, now + 60_000, now + 200), false);
  }));

  t.it('forgets sessions a week past their end, spent jtis, opaque tokens, counters and revocations (by sweep or by TTL)', withStore(async (store, now) => {
    const idle = sampleSession(now - 10 * DAY, { idleExpiresAt: now - 8 * DAY });
    const absolute = sampleSession(now - 40 * DAY, { expiresAt: now - 8 * DAY, idleExpiresAt: now + DAY });
    const live = sampleSession(now - DAY);
    const revoked = sampleSession(now - DAY);
    for (const s of [idle, absolute, live, revoked]) await store.createSession(s, { ...CREATE, now });
    await store.revokeSession(revoked.id, { now, reason: 'test', revocationTtlMs: HOUR });
    const id = (): string => randomBytes(8).toString('hex');
    const [consumed, denied, opaque, counter, liveCounter] = [id(), id(), id(), `sweep-${id()}`, `sweep-${id()}`];
    await store.consumeJti(consumed, now - 1, now - 2);
    await store.denyJti(denied, now - 1, now - 2);
    const claims = { iss: 'i', sub: 's', aud: 'a', exp: Math.floor(now / 1000) - 1, iat: Math.floor(now / 1000) - 60, jti: id(), sid: live.id, client_id: 'web' };
    await store.saveOpaqueToken(opaque, { claims, expiresAt: now - 1 }, now - 2);
    await store.hitCounter(counter, 1, 1000, now - 2000);
    await store.hitCounter(liveCounter, 1, 60_000, now);
    // Seeded in the past, the spent jti and the opaque token got TTLs of 1 ms from stores that
    // expire keys (Redis) — 1 ms of real time, which a fast run of the calls below can beat.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const removed = await store.sweep(now);
    assert.ok(removed >= 1, 'at least the expired revocation goes');
    assert.equal(await store.sweep(now), 0, 'a second sweep finds nothing left');
    assert.equal(await store.getSession(idle.id), null);
    assert.equal(await store.getSession(absolute.id), null);
    assert.notEqual(await store.getSession(live.id), null);
    assert.equal((await store.getSession(revoked.id))?.revokedAt, now, 'a revoked session is kept while its revocation matters');
    assert.equal((await store.revocationsSince(now)).some((e) => e.id === denied), false);
    assert.equal(await store.findOpaqueToken(opaque, now - 2), null);
    assert.equal(await store.getCounter(counter, now), null);
    assert.deepEqual(await store.counterKeys('sweep-', now).then((keys) => keys.filter((k) => k === counter || k === liveCounter)), [liveCounter]);
    assert.equal(await store.consumeJti(consumed, now + 60_000, now), true, 'a spent jti past its expiry is forgotten');
  }));

  t.it('records why a session ended, with who ended it, and publishes the same to a peer', withPeers(async (a, b, now) => {
    const userId = `user-${randomBytes(6).toString('hex')}`;
    const [kicked, kicker] = [0, 1].map((i) => sampleSession(now - 1000 + i, { userId })) as [SessionRecord, SessionRecord];
    for (const s of [kicked, kicker]) await a.createSession(s, { ...CREATE, now });
    const events: RevocationEvent[] = [];
    const stop = await b.subscribe((e) => events.push(e));
    const detail = { by: kicker.id, byDevice: { name: 'Firefox on "Linux"', ip: '203.0.113.5' } };
    assert.equal(await a.revokeSession(kicked.id, { now, reason: 'kicked', detail, revocationTtlMs: HOUR }), true);
    const stored = await b.getSession(kicked.id);
    assert.equal(stored?.revokeReason, 'kicked');
    assert.deepEqual(stored?.revokeDetail, detail);
    await eventually(() => events.some((e) => e.id === kicked.id));
    const { seq, ...told } = events.find((e) => e.id === kicked.id) as RevocationEvent;
    assert.ok(seq === undefined || Number.isSafeInteger(seq), 'a message may carry its cursor');
    assert.deepEqual(told, { kind: 'session', id: kicked.id, at: now, expiresAt: now + HOUR, reason: 'kicked', detail });
    assert.deepEqual((await b.revocationsSince(now)).find((e) => e.id === kicked.id)?.detail, detail);
    // Eviction records the new login and its device.
    const newcomer = sampleSession(now + 5, { userId, device: { name: 'Chrome on Android', ip: '198.51.100.7' } });
    assert.deepEqual((await a.createSession(newcomer, { maxSessionsPerUser: 1, now: now + 5, revocationTtlMs: HOUR })).evicted, [kicker.id]);
    const evicted = await b.getSession(kicker.id);
    assert.equal(evicted?.revokeReason, 'evicted');
    assert.deepEqual(evicted?.revokeDetail, { by: newcomer.id, byDevice: newcomer.device });
    // A reuse records the generation presented, when it had been retired, and from where.
    await a.rotate({ ...request(newcomer, 0, now + 10), ip: '192.0.2.1' });
    const reused = await b.rotate({ ...request(newcomer, 0, now + 20_000), ip: '192.0.2.66' });
    assert.equal(reused.status, 'reused');
    assert.deepEqual(reused.session?.revokeDetail, { generation: 0, retiredAt: now + 10, ip: '192.0.2.66' });
    assert.deepEqual((await a.getSession(newcomer.id))?.revokeDetail, { generation: 0, retiredAt: now + 10, ip: '192.0.2.66' });
    assert.equal((await a.rotate(request(newcomer, 1, now + 20_001))).session?.revokeReason, 'reused', 'a later refresh is told why');
    stop();
  }));

  t.it("answers a user's session history in every state, newest first, and counts grace answers over a session's life", withStore(async (store, now) => {
    const userId = `user-${randomBytes(6).toString('hex')}`;
    const [old, revoked, ended, live] = [0, 1, 2, 3].map((i) => sampleSession(now - 10_000 + i, { userId })) as [SessionRecord, SessionRecord, SessionRecord, SessionRecord];
    ended.idleExpiresAt = now - 1;
    for (const s of [old, revoked, ended, live]) await store.createSession(s, { ...CREATE, now: s.createdAt });
    await store.revokeSession(revoked.id, { now, reason: 'logout', revocationTtlMs: HOUR });
    await store.rotate(request(live, 0, now));
    for (let i = 0; i < 3; i++) await store.rotate(request(live, 0, now + 100 + i));
    await store.rotate(request(live, 1, now + 200));
    await store.rotate(request(live, 1, now + 300));
    const history = await store.sessionHistory(userId, now + 400);
    assert.deepEqual(history.map((s) => s.id), [live.id, ended.id, revoked.id, old.id]);
    assert.equal(history.find((s) => s.id === revoked.id)?.revokeReason, 'logout');
    const current = history.find((s) => s.id === live.id);
    assert.equal(current?.graceTotal, 4, 'three grace answers for generation 0, one for generation 1');
    assert.equal(current?.graceCount, 1, 'one for the current generation');
    assert.deepEqual(await store.sessionHistory('nobody', now), []);
  }));


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

  t.it('lists the revocations after a cursor in commit order, whatever time each carries (instances with skewed clocks)', withPeers(async (a, b, now) => {
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
    assert.deepEqual(seen.slice(0, 3).map((e) => e.id), [jti, one.id, `kid-${jti}`], 'in the order written, not by time');
    assert.deepEqual(new Set(seen.slice(3).map((e) => e.id)), new Set([two.id, three.id]));
    assert.equal(seen.length, 5, 'the expired one left out');
    // Resuming after any event gives exactly the ones written after it.
    for (let i = 0; i < seen.length; i++) assert.deepEqual((await readAfter(a, seen[i]?.seq as number, now, 100)).map((e) => e.id), seen.slice(i + 1).map((e) => e.id));
    // A later write is after every cursor handed out, whatever its time.
    await b.denyJti(`${jti}-late`, now + HOUR, now - 60_000);
    assert.deepEqual((await readAfter(a, seen.at(-1)?.seq as number, now)).map((e) => e.id), [`${jti}-late`]);
    assert.deepEqual(await a.revocationsAfter(Number.MAX_SAFE_INTEGER, 10, now), []);
    // The head, where the store says it: at least every cursor handed out (a cursor above it is unknown to the feed).
    if (h.can.revocationHead) {
      const late = (await readAfter(a, seen.at(-1)?.seq as number, now)).at(-1)?.seq as number;
      assert.ok((await (a.revocationHead as () => Promise<number>)()) >= late, 'revocationHead is at least the last seq handed out');
      assert.ok((await (b.revocationHead as () => Promise<number>)()) >= late, 'and so through every client');
    }
  }));

  if (h.can.subscribed) {
    t.it('says it is subscribed once a subscription is live, on each client', withPeers(async (a, b) => {
      const stops = [await a.subscribe(() => undefined), await b.subscribe(() => undefined)];
      try {
        await eventually(() => (a.subscribed as () => boolean)() && (b.subscribed as () => boolean)());
      } finally {
        for (const stop of stops) stop();
      }
    }));
  }

  t.it('misses no revocation for a reader that follows the cursor while two clients write at once', withPeers(async (a, b, now) => {
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
      await Promise.all(Array.from({ length: 24 }, (_, i) => {
        const id = `${round}-${i}-${randomBytes(4).toString('hex')}`;
        ids.add(id);
        const store = i % 2 === 0 ? a : b;
        return store.denyJti(id, now + HOUR, now + (i % 2 === 0 ? 0 : -3000) + round);
      }));
    }
    writing = false;
    await reader;
    for (const e of await b.revocationsAfter(cursor, 1000, now)) seen.push(e.id);
    assert.deepEqual(seen.filter((id) => ids.has(id)).length, ids.size, 'every write, once');
    assert.equal(new Set(seen).size, seen.length, 'none twice');
  }));
}
