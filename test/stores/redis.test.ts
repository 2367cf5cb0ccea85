import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ENDED_SESSIONS_PER_USER, createBaton, generateKey } from 'baton-auth';
import type { RevocationEvent, SessionRecord } from 'baton-auth';
import { redisStore } from 'baton-auth/stores/redis';
import { runStoreConformance, sampleSession } from 'baton-auth/stores/testing';
import { clusterUrl, startCluster, startRedis } from '../support/redis-servers.ts';
import { eventually } from '../support/eventually.ts';
import type { RedisServer } from '../support/redis-servers.ts';

// A Redis of this file's own, on a free port (BATON_TEST_REDIS names another, e.g. a shared one:
// then every key is under this run's prefix and only those are touched).
let URL = process.env.BATON_TEST_REDIS ?? '';
let own: RedisServer | undefined;
beforeAll(async () => {
  if (URL !== '') return;
  own = await startRedis();
  URL = own.url;
}, 60_000);
afterAll(async () => {
  await own?.stop();
});
const prefix = `baton-test-${randomBytes(4).toString('hex')}:`;

runStoreConformance(
  { describe, it },
  {
    name: 'redis',
    createStore: () => redisStore({ url: URL, keyPrefix: prefix }),
    createPeer: () => redisStore({ url: URL, keyPrefix: prefix }),
    capabilities: { revocationHead: true, subscribed: true },
  },
);

describe('redis store specifics', () => {
  it('puts TTLs on every key and stores no refresh token', async () => {
    const store = redisStore({ url: URL, keyPrefix: `${prefix}ttl:` });
    const raw = new Redis(URL);
    try {
      const now = Date.now();
      const s = sampleSession(now);
      await store.createSession(s, { maxSessionsPerUser: 1, now, revocationTtlMs: 60_000 });
      await store.rotate({ sessionId: s.id, generation: 0, clientId: s.clientId, now, graceMs: 10_000, idleTtlMs: 86_400_000, revocationTtlMs: 60_000 });
      await store.consumeJti('j1', now + 60_000, now);
      await store.denyJti('j2', now + 60_000, now);
      const keys = await raw.keys(`${prefix}ttl:*`);
      expect(keys.length).toBeGreaterThanOrEqual(4); // session, user index, spent jti, revocation log (a denied jti lives in the log)
      for (const key of keys) expect(await raw.pttl(key), key).toBeGreaterThan(0);
      const hash = await raw.hgetall(keys.find((k) => k.includes(':s:')) as string);
      expect(Object.keys(hash).sort()).toEqual([...Object.keys(s)].sort());
      expect(JSON.stringify(hash)).not.toContain('rt_');
      // A user's keys share the hash tag of the session id's user tag.
      const tags = new Set(keys.filter((k) => k.includes(':s:') || k.includes(':u:')).map((k) => /\{(.*?)\}/.exec(k)?.[1]));
      expect([...tags]).toEqual([s.id.slice(0, 4)]);
    } finally {
      raw.disconnect();
      await store.close();
    }
  });
});

describe('redis expiry', () => {
  it('every key expires, no later than what it holds can matter (the session: its idle or absolute end, whichever first, plus retainMs)', async () => {
    const keyPrefix = `${prefix}bounds-${randomBytes(3).toString('hex')}:`;
    const HOUR = 3_600_000;
    const store = redisStore({ url: URL, keyPrefix, retainMs: HOUR });
    const raw = new Redis(URL);
    try {
      const now = Date.now();
      const s = sampleSession(now - HOUR, { expiresAt: now + HOUR }); // absolute end in an hour
      const gone = sampleSession(now - HOUR, { userId: s.userId });
      for (const x of [s, gone]) await store.createSession(x, { maxSessionsPerUser: 0, now, revocationTtlMs: 60_000 });
      await store.rotate({ sessionId: s.id, generation: 0, clientId: s.clientId, now, graceMs: 10_000, idleTtlMs: 7 * 24 * HOUR, revocationTtlMs: 60_000 });
      await store.revokeSession(gone.id, { now, reason: 'bye', revocationTtlMs: 2 * HOUR });
      await store.consumeJti('c1', now + 60_000, now);
      await store.denyJti('d1', now + 60_000, now);
      await store.saveOpaqueToken(
        'o1',
        { claims: { iss: 'i', sub: 's', aud: 'a', exp: 1, iat: 0, jti: 'j', sid: s.id, client_id: 'web' }, expiresAt: now + 60_000 },
        now,
      );
      await store.hitCounter('n1', 1, 30_000, now);
      const bound: [RegExp, number][] = [
        [/:s:/, HOUR + HOUR], // s: its absolute end (1 h) + retainMs; gone: max(retainMs, revocation lifetime) = 2 h
        [/:u:/, 30 * 24 * HOUR + HOUR], // the user index: its longest session's absolute end + retainMs
        // The spent jti: its expiry is decided on the engine's clock, the TTL only cleans up (twice the time left and a minute).
        [/:c:c1$/, 2 * 60_000 + 60_000],
        [/:o:o1$/, 60_000],
        [/:n:n1$/, 30_000],
        [/\{revocations\}:log$/, 2 * HOUR],
        [/\{revocations\}:log:order$/, 2 * HOUR],
        [/\{revocations\}:log:seq$/, 2 * HOUR],
      ];
      const keys = await raw.keys(`${keyPrefix}*`);
      expect(keys).toHaveLength(9);
      for (const key of keys) {
        const max = bound.find(([pattern]) => pattern.test(key))?.[1];
        expect(max, `${key} is a key this test knows`).toBeDefined();
        const pttl = await raw.pttl(key);
        expect(pttl, key).toBeGreaterThan(0);
        expect(pttl, key).toBeLessThanOrEqual(max as number);
      }
      expect(await store.sweep(now + 2 * HOUR)).toBe(2); // the log is trimmed (the other keys go by TTL)
    } finally {
      raw.disconnect();
      await store.close();
    }
  });
});

describe('redis revocation log', () => {
  it("the cursor's counter lives as long as the longest event in the log, whatever the last one written (round 3 red team: it took a short event's TTL, and the head fell to 0)", async () => {
    const keyPrefix = `${prefix}seq-${randomBytes(3).toString('hex')}:`;
    const store = redisStore({ url: URL, keyPrefix });
    const raw = new Redis(URL);
    try {
      const now = Date.now();
      await store.announce({ kind: 'session', id: 'long', at: now, expiresAt: now + 900_000, reason: 'logout' });
      await store.announce({ kind: 'token', id: 'short', at: now, expiresAt: now + 1_500, reason: 'revoked' });
      expect(await raw.pttl(`${keyPrefix}{revocations}:log:seq`)).toBeGreaterThan(800_000);
      expect(await store.revocationHead?.()).toBeGreaterThan(0);
    } finally {
      raw.disconnect();
      await store.close();
    }
  });

  it('standalone: each revoking call is one script that also writes the log (no write from Node, entry there on return)', async () => {
    const keyPrefix = `${prefix}log-${randomBytes(3).toString('hex')}:`;
    const logKey = `${keyPrefix}{revocations}:log`;
    const store = redisStore({ url: URL, keyPrefix });
    const raw = new Redis(URL);
    const monitor = await raw.monitor();
    const inspector = /addr=(\S+)/.exec(String(await raw.call('CLIENT', 'INFO')))?.[1];
    const fromNode: string[][] = []; // commands the store sent (not from inside a script) naming its keys
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && source !== inspector && args.some((a) => String(a).startsWith(keyPrefix))) fromNode.push(args);
    });
    const logged = async (id: string): Promise<RevocationEvent | undefined> =>
      (await raw.zrange(logKey, '0', '-1')).map((m) => JSON.parse(m) as RevocationEvent).find((e) => e.id === id);
    try {
      await raw.ping(); // MONITOR is live before the store's first command
      const now = Date.now();
      const userId = `log-${randomBytes(4).toString('hex')}`;
      const [a, b, c, d] = [0, 1, 2, 3].map((i) => sampleSession(now - 60_000 + i, { userId })) as SessionRecord[] as [
        SessionRecord,
        SessionRecord,
        SessionRecord,
        SessionRecord,
      ];
      await store.createSession(a, { maxSessionsPerUser: 0, now, revocationTtlMs: 60_000 });
      await store.createSession(b, { maxSessionsPerUser: 1, now, revocationTtlMs: 60_000 }); // evicts a
      expect(await logged(a.id)).toMatchObject({ kind: 'session', reason: 'evicted', expiresAt: now + 60_000 });
      await store.createSession(c, { maxSessionsPerUser: 0, now, revocationTtlMs: 60_000 });
      expect(await store.revokeSession(b.id, { now, reason: 'logout', revocationTtlMs: 60_000 })).toBe(true);
      expect(await logged(b.id)).toMatchObject({ reason: 'logout' });
      await store.createSession(d, { maxSessionsPerUser: 0, now, revocationTtlMs: 60_000 });
      expect(await store.revokeUserSessions(userId, { now, reason: 'all', revocationTtlMs: 60_000, except: d.id })).toEqual([c.id]);
      expect(await logged(c.id)).toMatchObject({ reason: 'all' });
      const rotate = { sessionId: d.id, clientId: d.clientId, graceMs: 1000, idleTtlMs: 86_400_000, revocationTtlMs: 60_000 };
      await store.rotate({ ...rotate, generation: 0, now });
      expect((await store.rotate({ ...rotate, generation: 0, now: now + 5000 })).status).toBe('reused');
      expect(await logged(d.id)).toMatchObject({ reason: 'reused', at: now + 5000 });
      await store.denyJti('jti-1', now + 60_000, now);
      expect(await logged('jti-1')).toEqual({ seq: expect.any(Number), kind: 'token', id: 'jti-1', at: now, expiresAt: now + 60_000, reason: 'revoked' });
      expect(await raw.pttl(logKey)).toBeGreaterThan(50_000);
      const names = fromNode.map((args) => args[0]?.toLowerCase());
      expect(names.filter((n) => !['evalsha', 'eval'].includes(n as string))).toEqual([]); // scripts only
    } finally {
      monitor.disconnect();
      raw.disconnect();
      await store.close();
    }
  });
});

describe('redis revocation messages', () => {
  it("a reason with quotes and a backslash reaches another client's subscriber exactly", async () => {
    const a = redisStore({ url: URL, keyPrefix: prefix });
    const b = redisStore({ url: URL, keyPrefix: prefix });
    try {
      const now = Date.now();
      const s = sampleSession(now);
      await a.createSession(s, { maxSessionsPerUser: 0, now, revocationTtlMs: 60_000 });
      const seen: RevocationEvent[] = [];
      const stop = await b.subscribe((e) => seen.push(e));
      expect(await a.revokeSession(s.id, { now, reason: 'he said "stop"\\', revocationTtlMs: 60_000 })).toBe(true);
      await expect
        .poll(() => seen.find((e) => e.id === s.id), { timeout: 2000 })
        .toEqual({ seq: expect.any(Number), kind: 'session', id: s.id, at: now, expiresAt: now + 60_000, reason: 'he said "stop"\\' });
      stop();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('two engines on two store clients: a session revoked on A with a quoted reason fails verification on B', async () => {
    const [s1, s2] = [redisStore({ url: URL, keyPrefix: prefix }), redisStore({ url: URL, keyPrefix: prefix })];
    const shared = { issuer: 'https://redis.test', keys: [generateKey('HS256', 'k')], refreshTokenSecret: randomBytes(32) };
    const a = createBaton({ ...shared, store: s1 });
    const b = createBaton({ ...shared, store: s2 });
    try {
      const pair = await a.login(`quoted-${randomBytes(4).toString('hex')}`);
      expect((await b.verify(pair.access_token)).sid).toBe(pair.session_id); // B is listening, and has the token cached
      expect(await a.revokeSession(pair.session_id, 'a "quoted" reason')).toBe(true);
      await expect
        .poll(
          () =>
            b.verify(pair.access_token).then(
              () => 'ok',
              (e: { code?: string }) => e.code,
            ),
          { timeout: 2000 },
        )
        .toBe('ERR_SESSION_REVOKED');
    } finally {
      await Promise.all([a.close(), b.close()]);
      await Promise.all([s1.close(), s2.close()]);
    }
  });
});

describe('redis cluster (3 masters on loopback)', () => {
  let nodes: RedisServer[] = [];
  let url = '';
  beforeAll(async () => {
    nodes = await startCluster();
    url = clusterUrl(nodes);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });

  runStoreConformance(
    { describe, it },
    {
      name: 'redis cluster',
      createStore: () => redisStore({ url, keyPrefix: prefix }),
      createPeer: () => redisStore({ url, keyPrefix: prefix }),
      capabilities: { revocationHead: true, subscribed: true },
    },
  );
});

describe("redis: one user's flood of sessions (issue #21, finding 9)", () => {
  it("a login sets apart what ended (the index walked by logins and the device list holds active sessions) and keeps the 100 most recently ended; another user's keys are his own", async () => {
    const keyPrefix = `${prefix}flood-${randomBytes(3).toString('hex')}:`;
    const store = redisStore({ url: URL, keyPrefix });
    const raw = new Redis(URL);
    const userId = `flood-${randomBytes(4).toString('hex')}`;
    const tag = sampleSession(0, { userId }).id.slice(0, 4);
    const index = `${keyPrefix}{${tag}}:u:${userId}`;
    const ended = `${keyPrefix}{${tag}}:e:${userId}`;
    const sessionKeys = async (): Promise<number> => {
      let [cursor, count] = ['0', 0];
      do {
        const [next, keys] = await raw.scan(cursor, 'MATCH', `${keyPrefix}{${tag}}:s:*`, 'COUNT', 1000);
        [cursor, count] = [next, count + keys.length];
      } while (cursor !== '0');
      return count;
    };
    try {
      const now = Date.now();
      const bob = sampleSession(now - 10_000);
      await store.createSession(bob, { maxSessionsPerUser: 50, now, revocationTtlMs: 60_000 });
      // 300 sessions revoked one by one stay in the index (as instances before this version leave them too) ...
      const old = Array.from({ length: 300 }, (_, i) => sampleSession(now - 5000 + i, { userId }));
      for (const s of old) await store.createSession(s, { maxSessionsPerUser: 0, now: now - 5000, revocationTtlMs: 60_000 });
      for (const [i, s] of old.entries()) await store.revokeSession(s.id, { now: now - 4000 + i, reason: 'logout', revocationTtlMs: 60_000 });
      expect(await raw.zcard(index)).toBe(300);
      // ... until the next login sets them apart and keeps the most recently ended.
      const fresh = sampleSession(now, { userId });
      await store.createSession(fresh, { maxSessionsPerUser: 50, now, revocationTtlMs: 60_000 });
      expect(await raw.zrange(index, '0', '-1')).toEqual([fresh.id]);
      expect(await raw.zcard(ended)).toBe(ENDED_SESSIONS_PER_USER);
      expect((await raw.zrange(ended, '0', '-1')).sort()).toEqual(
        old
          .slice(-ENDED_SESSIONS_PER_USER)
          .map((s) => s.id)
          .sort(),
      );
      expect(await sessionKeys()).toBe(ENDED_SESSIONS_PER_USER + 1);
      expect(await raw.pttl(ended)).toBeGreaterThan(0);
      // A flood of single-session logins: each evicts the one before; the sets stay bounded.
      for (let i = 1; i <= 150; i++)
        await store.createSession(sampleSession(now + i, { userId }), { maxSessionsPerUser: 1, now: now + i, revocationTtlMs: 60_000 });
      expect(await raw.zcard(index)).toBe(1);
      expect(await raw.zcard(ended)).toBe(ENDED_SESSIONS_PER_USER);
      expect(await sessionKeys()).toBe(ENDED_SESSIONS_PER_USER + 1);
      expect((await store.sessionHistory(userId, now + 200)).length).toBe(50);
      // Bob's index is his: one session, untouched.
      const bobIndex = `${keyPrefix}{${bob.id.slice(0, 4)}}:u:${bob.userId}`;
      expect(await raw.zrange(bobIndex, '0', '-1')).toEqual([bob.id]);
      expect(await store.listSessions(bob.userId, now + 200)).toEqual([bob]);
      // Logging out everywhere still reaches every session not revoked yet, in both sets.
      expect(await store.revokeUserSessions(userId, { now: now + 300, reason: 'logout_everywhere', revocationTtlMs: 60_000 })).toHaveLength(1);
    } finally {
      raw.disconnect();
      await store.close();
    }
  }, 60_000);

  it('rolling upgrade: a session that ended by time and was set apart (e:) by a login here is missed by an instance before 0.3 (its "log out everywhere" walks u: only), and that loses nothing: its last access token expired with it', async () => {
    const keyPrefix = `${prefix}upgrade-${randomBytes(3).toString('hex')}:`;
    const store = redisStore({ url: URL, keyPrefix });
    const raw = new Redis(URL);
    let now = Date.now();
    const baton = createBaton({
      issuer: 'https://redis.test',
      keys: [generateKey('HS256', 'k')],
      refreshTokenSecret: randomBytes(32),
      store,
      now: () => now,
      accessTokenTtl: '15m',
      refreshTokenTtl: '1h',
      sessionMaxAge: '1h',
      refreshRateLimit: false,
    });
    const userId = `upgrade-${randomBytes(4).toString('hex')}`;
    try {
      const v = await baton.login(userId);
      const tag = v.session_id.slice(0, 4);
      now += 59 * 60_000;
      const pair = await baton.refresh(v.refresh_token); // before the cap: valid 15 min, 14 past the session's end
      now += 2 * 60_000;
      await baton.login(userId); // sets V apart
      expect(await raw.zrange(`${keyPrefix}{${tag}}:u:${userId}`, '0', '-1')).not.toContain(v.session_id);
      expect(await raw.zrange(`${keyPrefix}{${tag}}:e:${userId}`, '0', '-1')).toEqual([v.session_id]);
      // What an instance before 0.3 does for "log out everywhere": revoke what u: holds.
      for (const id of await raw.zrange(`${keyPrefix}{${tag}}:u:${userId}`, '0', '-1')) await baton.revokeSession(id, 'logout_everywhere');
      expect((await store.getSession(v.session_id))?.revokedAt).toBeNull();
      await expect(baton.verify(pair.access_token)).rejects.toMatchObject({ code: 'ERR_TOKEN_EXPIRED' });
    } finally {
      await baton.close();
      raw.disconnect();
      await store.close();
    }
  }, 60_000);
});

describe('redis catch-up under a step of the wall clock (issue #21, finding 17)', () => {
  it('a revocation published while the subscriber was down is delivered by the re-read after it reconnects, while the wall clock is a day ahead', async () => {
    const server = await startRedis(); // its own server: the subscriber is dropped with CLIENT KILL TYPE pubsub
    const { url } = server;
    const a = redisStore({ url, keyPrefix: prefix });
    const b = redisStore({ url, keyPrefix: prefix });
    const admin = new Redis(url);
    const heard: string[] = [];
    const real = Date.now.bind(Date);
    try {
      await b.subscribe((e) => heard.push(e.id));
      const id = `lost-${randomBytes(6).toString('hex')}`;
      const now = real();
      const step = vi.spyOn(Date, 'now').mockImplementation(() => real() + 24 * 3_600_000); // a forward step of the wall clock
      try {
        await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'); // the subscription drops
        await a.announce({ kind: 'session', id, at: now, expiresAt: now + 3_600_000, reason: 'logout' }); // its message is lost
        await eventually(() => heard.includes(id), { what: 'the revocation, by the re-read after the reconnect', timeoutMs: 3000 });
      } finally {
        step.mockRestore();
      }
    } finally {
      admin.disconnect();
      await a.close();
      await b.close();
      await server.stop();
    }
  });
});
