/**
 * The store conformance suite. Import from `baton-auth/stores/testing`; every store, Baton's own and
 * yours, runs it against a real server.
 *
 * It asserts with `node:assert` and takes the test runner's `describe` and `it`, so it runs under
 * Vitest, Jest or `node:test` alike. `fast-check` (an optional peer dependency) drives the laws.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { runStoreConformance } from 'baton-auth/stores/testing';
 * import { memoryStore } from 'baton-auth/stores/memory';
 * runStoreConformance({ describe, it }, { name: 'memory', createStore: () => memoryStore() });
 * ```
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { createBaton } from '../core/baton.ts';
import { generateKey } from '../core/keys.ts';
import { newSession } from '../core/session-id.ts';
import { decideRotation } from '../core/rotation.ts';
import type { BatonStore, RevocationEvent, RotateRequest, SessionRecord, SessionSummary } from './types.ts';

/** The parts of a test runner the suite uses. */
export interface TestApi {
  describe: (name: string, body: () => void) => void;
  it: (name: string, body: () => Promise<void>, timeoutMs?: number) => void;
}

/** How to get stores for the suite. */
export interface ConformanceOptions {
  /** Shown in test names. */
  name: string;
  /** A fresh client of the store under test. Data left by earlier tests must not matter. */
  createStore: () => BatonStore | Promise<BatonStore>;
  /**
   * A second client of the same backing store, as a second instance would have. Defaults to the
   * same client; stores shared between processes should give a real second connection.
   */
  createPeer?: (store: BatonStore) => BatonStore | Promise<BatonStore>;
  /** Runs of each property; default 25. */
  numRuns?: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A session record as `login` makes it, with fresh ids. */
export function sampleSession(now: number, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const userId = overrides.userId ?? `user-${randomBytes(6).toString('hex')}`;
  const device = { userAgent: 'conformance', ip: '127.0.0.1' };
  return { ...newSession({ userId, clientId: 'web', scope: 'read write', resource: 'https://api.example.com/ urn:example:reports', device, now, maxAgeMs: 30 * DAY, idleMs: 7 * DAY }), ...overrides };
}

function request(session: SessionRecord, generation: number, now: number, extra: Partial<RotateRequest> = {}): RotateRequest {
  return { sessionId: session.id, generation, clientId: session.clientId, now, graceMs: 10_000, idleTtlMs: 7 * DAY, revocationTtlMs: HOUR, ...extra };
}

const CREATE = { maxSessionsPerUser: 0, revocationTtlMs: HOUR };

/** The fields every store's `rotate` answers with. */
function pick(s: Partial<SessionRecord> | null | undefined): SessionSummary | undefined {
  if (!s) return undefined;
  const { id, userId, clientId, scope, resource, generation, expiresAt, idleExpiresAt, rotatedAt, revokedAt, revokeReason, revokeDetail } = s as SessionRecord;
  return { id, userId, clientId, scope, resource, generation, expiresAt, idleExpiresAt, rotatedAt, revokedAt, revokeReason, revokeDetail };
}

/** Registers the conformance tests of one store. */
export function runStoreConformance(t: TestApi, options: ConformanceOptions): void {
  const numRuns = options.numRuns ?? 25;
  const withStore = (body: (store: BatonStore, now: number) => Promise<void>) => async () => {
    const store = await options.createStore();
    try {
      await body(store, Date.now());
    } finally {
      await store.close();
    }
  };
  const withPeers = (body: (a: BatonStore, b: BatonStore, now: number) => Promise<void>) => async () => {
    const a = await options.createStore();
    const b = options.createPeer ? await options.createPeer(a) : a;
    try {
      await body(a, b, Date.now());
    } finally {
      if (b !== a) await b.close();
      await a.close();
    }
  };

  t.describe(`store conformance: ${options.name}`, () => {
    t.it('answers ping on a live store', withStore(async (store) => {
      assert.equal(await store.ping(), undefined);
    }));

    t.it('keeps a session as it was created', withStore(async (store, now) => {
      const s = sampleSession(now);
      assert.deepEqual(await store.createSession(s, { ...CREATE, now }), { evicted: [] });
      assert.deepEqual(await store.getSession(s.id), s);
      assert.equal(await store.getSession('no-such-session'), null);
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
      assert.deepEqual(events.find((e) => e.id === kicked.id), { kind: 'session', id: kicked.id, at: now, expiresAt: now + HOUR, reason: 'kicked', detail });
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

    t.it('keeps named records; ifAbsent lets exactly one of many writers win', withPeers(async (a, b) => {
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
      assert.deepEqual((await b.listRecords(kind)).map((r) => r.key), ['a', 'race', 'x']);
      assert.equal(await b.deleteRecord(kind, 'x'), true);
      assert.equal(await b.deleteRecord(kind, 'x'), false);
      assert.deepEqual(await a.listRecords(`${kind}-none`), []);
    }));

    t.it('counts hits atomically per window (rate-limit counters)', withPeers(async (a, b, now) => {
      const key = `counter-${randomBytes(4).toString('hex')}`;
      assert.equal(await a.getCounter(key, now), null);
      const hits = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).hitCounter(key, 1, 60_000, now)));
      assert.deepEqual(hits.map((h) => h.count).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1));
      for (const h of hits) assert.equal(h.resetAt, now + 60_000);
      assert.deepEqual(await b.getCounter(key, now + 1), { count: 20, resetAt: now + 60_000 });
      assert.deepEqual(await a.hitCounter(key, 2, 60_000, now + 60_000), { count: 2, resetAt: now + 120_000 });
      assert.deepEqual(await a.hitCounter(key, 5, 1000, now + 60_001, true), { count: 5, resetAt: now + 61_001 });
      assert.equal(await b.deleteCounter(key), true);
      assert.equal(await a.getCounter(key, now), null);
    }));

    t.it('lists the live counters under a prefix, taking wildcard characters literally', withPeers(async (a, b, now) => {
      const base = `keys-${randomBytes(4).toString('hex')}:`;
      const live = ['a_b', 'a%b', 'a*b', 'a[b]', 'a]b', 'a\\b', 'a?b', 'ab', 'A_B', 'a^b'].map((k) => base + k);
      for (const key of live) await a.hitCounter(key, 1, 60_000, now);
      await a.hitCounter(`${base}a_old`, 1, 600_000, now - 700_000); // reset at now - 100 s: not live at now
      await a.hitCounter(`other-${base}a_b`, 1, 60_000, now);
      const sorted = (keys: string[]): string[] => [...keys].sort();
      assert.deepEqual(await b.counterKeys(base, now), sorted(live));
      for (const [prefix, expected] of [['a_', ['a_b']], ['a%', ['a%b']], ['a*', ['a*b']], ['a[', ['a[b]']], ['a]', ['a]b']], ['a\\', ['a\\b']], ['a?', ['a?b']], ['A', ['A_B']], ['a^', ['a^b']], ['zz', []]] as const) {
        assert.deepEqual(await b.counterKeys(base + prefix, now), expected.map((k) => base + k), `prefix ${JSON.stringify(prefix)}`);
      }
      assert.deepEqual(await b.counterKeys(`${base}a_`, now - 150_000), [`${base}a_b`, `${base}a_old`].sort(), 'live is as of `now`');
    }));

    t.it('law: any sequence of presentations matches the rotation table', withStore(async (store, base) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({ advance: fc.integer({ min: 0, max: 15_000 }), behind: fc.integer({ min: -1, max: 3 }), limited: fc.boolean(), graceLimit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }) }),
            { minLength: 1, maxLength: 12 },
          ),
          async (steps) => {
            let model: SessionRecord | null = sampleSession(base - 60_000);
            await store.createSession(model, { ...CREATE, now: model.createdAt });
            let now = base;
            for (const step of steps) {
              now += step.advance;
              const limit = { ...(step.limited ? { rateLimit: { max: 3, windowMs: 20_000 } } : {}), ...(step.graceLimit === undefined ? {} : { graceLimit: step.graceLimit }) };
              const req = request(model as SessionRecord, Math.max(0, (model as SessionRecord).generation - step.behind), now, { ...limit, ip: `192.0.2.${step.advance % 256}` });
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
    }));

    t.it('law: N concurrent rotations of one token over two clients make exactly one child', withPeers(async (a, b, base) => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 2, max: 60 }), fc.integer({ min: 0, max: 4 }), async (n, generation) => {
          const s = sampleSession(base - 60_000, { generation });
          await a.createSession(s, { ...CREATE, now: s.createdAt });
          const results = await Promise.all(
            Array.from({ length: n }, (_, i) => (i % 2 === 0 ? a : b).rotate(request(s, generation, base + i))),
          );
          assert.equal(results.filter((r) => r.status === 'rotated').length, 1);
          assert.equal(results.filter((r) => r.status === 'replayed_in_grace').length, n - 1);
          for (const r of results) assert.equal(r.session?.generation, generation + 1);
          const after = await b.getSession(s.id);
          assert.equal(after?.generation, generation + 1);
          assert.equal(after?.revokedAt, null);
        }),
        { numRuns },
      );
    }));

    t.it('law: concurrent refreshes through Baton all get the same child; a replay after the grace window kills the session', withPeers(async (a, b, base) => {
      let now = base;
      const shared = { issuer: 'https://conformance.test', keys: [generateKey('HS256', 'k1')], refreshTokenSecret: randomBytes(32), refreshRateLimit: false as const, now: () => now };
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
            await assert.rejects(one.refresh(next.refresh_token), { code: 'ERR_REFRESH_INVALID' });
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
    }), 60_000);
  });
}

/** Waits until `check` holds (events cross process boundaries for remote stores). */
async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) assert.fail('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
