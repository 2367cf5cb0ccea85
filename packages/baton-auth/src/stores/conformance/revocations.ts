/**
 * Store conformance: revocations and their feed, the one-time ledger, key events, opaque tokens, sweeps, why sessions ended.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { RevocationEvent, SessionRecord } from '../types.ts';
import { CREATE, DAY, eventually, HOUR, register, request, sampleSession } from './support.ts';
import type { Case, Harness, TestApi } from './support.ts';
import { revocationCursorCases } from './revocation-cursor.ts';

/** The cases, in the order they run. */
const REVOCATION_CASES: readonly Case[] = [
  {
    name: "revokes one session, or all of a user's but one, and publishes it",
    run: ({ withStore }) =>
      withStore(async (store, now) => {
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
        assert.deepEqual(
          (await store.listSessions(userId, now + 11)).map((s) => s.id),
          [c.id],
        );
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
        assert.equal(
          events.some((e) => e.id === c.id),
          false,
          'no event after unsubscribing',
        );
      }),
  },
  {
    name: "carries any revocation reason intact to a peer's subscriber and the log (quotes, backslashes, control characters)",
    run: ({ withPeers }) =>
      withPeers(async (a, b, now) => {
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const [one, two, three] = [0, 1, 2].map((i) => sampleSession(now + i, { userId })) as [SessionRecord, SessionRecord, SessionRecord];
        for (const s of [one, two, three]) await a.createSession(s, { ...CREATE, now });
        const events: RevocationEvent[] = [];
        const stop = await b.subscribe((e) => events.push(e));
        const reasons = ['he said "stop"\\', 'a "quoted" reason', 'tab\tline\nend é ✓ \\"'];
        await a.revokeSession(one.id, { now, reason: reasons[0] as string, revocationTtlMs: HOUR });
        await a.revokeSession(two.id, { now, reason: reasons[1] as string, revocationTtlMs: HOUR });
        await a.revokeUserSessions(userId, { now, reason: reasons[2] as string, revocationTtlMs: HOUR });
        const wanted = [
          [one.id, reasons[0]],
          [two.id, reasons[1]],
          [three.id, reasons[2]],
        ];
        await eventually(() => wanted.every(([id, reason]) => events.some((e) => e.id === id && e.reason === reason)));
        const logged = await b.revocationsSince(now);
        for (const [id, reason] of wanted) assert.equal(logged.find((e) => e.id === id)?.reason, reason);
        stop();
      }),
  },
  {
    name: 'consumes a jti once, and keeps a denylist in the revocation log',
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const jti = randomBytes(8).toString('hex');
        assert.equal(await store.consumeJti(jti, now + 60_000, now), true);
        assert.equal(await store.consumeJti(jti, now + 60_000, now + 1), false);
        const denied = randomBytes(8).toString('hex');
        const logged = async (at: number) => (await store.revocationsSince(at)).some((e) => e.kind === 'token' && e.id === denied);
        assert.equal(await logged(now), false);
        await store.denyJti(denied, now + 60_000, now);
        assert.equal(await logged(now + 1), true);
        assert.equal(await logged(now + 60_001), false);
      }),
  },
  {
    name: 'announces a key taken out of service to every client, and logs it',
    run: ({ withPeers }) =>
      withPeers(async (a, b, now) => {
        const kid = `kid-${randomBytes(4).toString('hex')}`;
        const events: RevocationEvent[] = [];
        const stop = await b.subscribe((e) => events.push(e));
        await a.announce({ kind: 'key', id: kid, at: now, expiresAt: now + HOUR, reason: 'key "compromised"' });
        await eventually(() => events.some((e) => e.kind === 'key' && e.id === kid && e.reason === 'key "compromised"'));
        assert.ok((await b.revocationsSince(now)).some((e) => e.kind === 'key' && e.id === kid));
        stop();
      }),
  },
  {
    name: 'keeps opaque tokens under their hash until they expire',
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const hash = randomBytes(32).toString('base64url');
        const claims = { iss: 'i', sub: 's', aud: 'a', exp: Math.floor(now / 1000) + 60, iat: Math.floor(now / 1000), jti: 'j', sid: 'x', client_id: 'c' };
        await store.saveOpaqueToken(hash, { claims, expiresAt: claims.exp * 1000 }, now);
        assert.deepEqual((await store.findOpaqueToken(hash, now))?.claims, claims);
        assert.equal(await store.findOpaqueToken(hash, claims.exp * 1000), null);
        await store.deleteOpaqueToken(hash);
        assert.equal(await store.findOpaqueToken(hash, now), null);
      }),
  },
  {
    name: "keeps a spent jti spent until its expiry on the caller's clock, whatever the backend's own clock says (a TTL is no expiry)",
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        // The engine's clock may run behind the backend's real time (a step it has not taken yet):
        // the expiry is decided on the `now` the caller gives, not on a TTL counted by the backend.
        const jti = randomBytes(8).toString('hex');
        assert.equal(await store.consumeJti(jti, now + 100, now), true);
        await new Promise((resolve) => setTimeout(resolve, 250)); // past 100 ms of the backend's time
        assert.equal(await store.consumeJti(jti, now + 100, now + 50), false, "a replay before its expiry on the caller's clock is refused");
        assert.equal(await store.consumeJti(jti, now + 60_000, now + 100), true, "spent again once its expiry passed on the caller's clock");
        assert.equal(await store.consumeJti(jti, now + 60_000, now + 200), false);
      }),
  },
  {
    name: 'forgets sessions a week past their end, spent jtis, opaque tokens, counters and revocations (by sweep or by TTL)',
    run: ({ withStore }) =>
      withStore(async (store, now) => {
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
        const claims = {
          iss: 'i',
          sub: 's',
          aud: 'a',
          exp: Math.floor(now / 1000) - 1,
          iat: Math.floor(now / 1000) - 60,
          jti: id(),
          sid: live.id,
          client_id: 'web',
        };
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
        assert.equal(
          (await store.revocationsSince(now)).some((e) => e.id === denied),
          false,
        );
        assert.equal(await store.findOpaqueToken(opaque, now - 2), null);
        assert.equal(await store.getCounter(counter, now), null);
        assert.deepEqual(await store.counterKeys('sweep-', now).then((keys) => keys.filter((k) => k === counter || k === liveCounter)), [liveCounter]);
        assert.equal(await store.consumeJti(consumed, now + 60_000, now), true, 'a spent jti past its expiry is forgotten');
      }),
  },
  {
    name: 'records why a session ended, with who ended it, and publishes the same to a peer',
    run: ({ withPeers }) =>
      withPeers(async (a, b, now) => {
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
      }),
  },
  {
    name: "answers a user's session history in every state, newest first, and counts grace answers over a session's life",
    run: ({ withStore }) =>
      withStore(async (store, now) => {
        const userId = `user-${randomBytes(6).toString('hex')}`;
        const [old, revoked, ended, live] = [0, 1, 2, 3].map((i) => sampleSession(now - 10_000 + i, { userId })) as [
          SessionRecord,
          SessionRecord,
          SessionRecord,
          SessionRecord,
        ];
        ended.idleExpiresAt = now - 1;
        for (const s of [old, revoked, ended, live]) await store.createSession(s, { ...CREATE, now: s.createdAt });
        await store.revokeSession(revoked.id, { now, reason: 'logout', revocationTtlMs: HOUR });
        await store.rotate(request(live, 0, now));
        for (let i = 0; i < 3; i++) await store.rotate(request(live, 0, now + 100 + i));
        await store.rotate(request(live, 1, now + 200));
        await store.rotate(request(live, 1, now + 300));
        const history = await store.sessionHistory(userId, now + 400);
        assert.deepEqual(
          history.map((s) => s.id),
          [live.id, ended.id, revoked.id, old.id],
        );
        assert.equal(history.find((s) => s.id === revoked.id)?.revokeReason, 'logout');
        const current = history.find((s) => s.id === live.id);
        assert.equal(current?.graceTotal, 4, 'three grace answers for generation 0, one for generation 1');
        assert.equal(current?.graceCount, 1, 'one for the current generation');
        assert.deepEqual(await store.sessionHistory('nobody', now), []);
      }),
  },
];

/** Registers these cases (inside the suite's `describe`). */
export function revocationsCases(t: TestApi, h: Harness): void {
  register(t, h, REVOCATION_CASES);
  revocationCursorCases(t, h);
}
