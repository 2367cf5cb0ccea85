/**
 * A recent successful client authentication (`recentClientAuths`, #26): the same client presenting
 * its right secret from the same address again writes nothing, and still meets a block; a wrong
 * secret, a changed secret or another address takes the full path, counted before it is answered.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, createLoginProtection, staticClients } from 'baton-auth/http';
import type { ClientRecord } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';

const ISSUER = 'https://auth.test';
const SECRET = 'gateway-secret-of-at-least-32-characters';
const NEW_SECRET = 'gateway-secret-rotated-of-32-characters!';
const A = '203.0.113.9';
const B = '198.51.100.7';
const basic = (secret: string) => `Basic ${Buffer.from(`gateway:${encodeURIComponent(secret)}`).toString('base64')}`;

function setup(options: { store?: ReturnType<typeof memoryStore>; peekCacheMs?: number } = {}) {
  const store = options.store ?? memoryStore();
  // The counters' clock, moved by the tests.
  const clock = { now: 1_800_000_000_000 };
  const baton = createBaton({ issuer: ISSUER, keys: [generateKey('HS256', 'k')], refreshTokenSecret: randomBytes(32), store });
  // Every counter operation of the client protection, by kind.
  const ops = { reads: 0, writes: 0 };
  const counters = {
    hitCounter: (...a: Parameters<typeof store.hitCounter>) => (ops.writes++, store.hitCounter(...a)),
    getCounter: (...a: Parameters<typeof store.getCounter>) => (ops.reads++, store.getCounter(...a)),
    deleteCounter: (...a: Parameters<typeof store.deleteCounter>) => (ops.writes++, store.deleteCounter(...a)),
    counterKeys: (...a: Parameters<typeof store.counterKeys>) => store.counterKeys(...a),
  };
  // The registry as an operator's: the gateway's secret can change under it.
  let records = staticClients([{ id: 'default' }, { id: 'gateway', secret: SECRET, introspect: true }]);
  const rotate = () => (records = staticClients([{ id: 'default' }, { id: 'gateway', secret: NEW_SECRET, introspect: true }]));
  const handler = createAuthHandler({
    baton,
    authenticate: async () => null,
    clients: { get: (id: string): Promise<ClientRecord | null> => records.get(id) },
    clientProtection: createLoginProtection({
      store: counters,
      keyPrefix: 'client',
      failures: { max: 3, blockMs: 60_000 },
      now: () => clock.now,
      ...(options.peekCacheMs === undefined ? {} : { peekCacheMs: options.peekCacheMs }),
    }),
  });
  const introspect = async (secret: string, ip = A) => {
    const res = await handler(
      new Request(`${ISSUER}/oauth/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(secret) },
        body: new URLSearchParams({ token: 'not-a-token' }),
      }),
      { ip },
    );
    return res.status;
  };
  return { ops, introspect, rotate, clock };
}

describe('a recent successful client authentication', () => {
  it('the first success writes its count and gives it back; the next ones from the same address only read, once a second', async () => {
    const { ops, introspect, clock } = setup();
    expect(await introspect(SECRET)).toBe(200);
    expect(ops.writes).toBeGreaterThan(0);
    const first = { ...ops };
    for (let i = 0; i < 20; i++) expect(await introspect(SECRET)).toBe(200);
    expect(ops.writes).toBe(first.writes);
    expect(ops.reads - first.reads).toBe(2); // the pair's and the address's block, once
    clock.now += 999;
    expect(await introspect(SECRET)).toBe(200);
    expect(ops.reads - first.reads).toBe(2);
    clock.now += 1;
    expect(await introspect(SECRET)).toBe(200);
    expect(ops.reads - first.reads).toBe(4); // a second later: read again
    clock.now -= 5_000; // a clock stepped back does not stretch the clean read
    expect(await introspect(SECRET)).toBe(200);
    expect(ops.reads - first.reads).toBe(6);
  });

  it('peekCacheMs: 0 reads the block at every request', async () => {
    const { ops, introspect } = setup({ peekCacheMs: 0 });
    expect(await introspect(SECRET)).toBe(200);
    const first = { ...ops };
    for (let i = 0; i < 5; i++) expect(await introspect(SECRET)).toBe(200);
    expect(ops.reads - first.reads).toBe(5 * 2);
    expect(ops.writes).toBe(first.writes);
    expect(() => createLoginProtection({ peekCacheMs: -1 })).toThrow(/peekCacheMs must be 0 or more milliseconds, got -1/);
  });

  it('any failure counted by this process forgets the clean reads: the next request reads its block again', async () => {
    const { ops, introspect } = setup();
    expect(await introspect(SECRET)).toBe(200);
    expect(await introspect(SECRET)).toBe(200); // read, found clean
    const before = ops.reads;
    expect(await introspect(SECRET)).toBe(200);
    expect(ops.reads).toBe(before);
    expect(await introspect('wrong secret', B)).toBe(401); // another pair, another address
    const after = ops.reads;
    expect(await introspect(SECRET)).toBe(200);
    expect(ops.reads - after).toBe(2);
  });

  it('a block set by another instance on the same store refuses the right secret here within a second (the clean read)', async () => {
    const store = memoryStore();
    const here = setup({ store });
    const there = setup({ store });
    expect(await here.introspect(SECRET)).toBe(200);
    expect(await here.introspect(SECRET)).toBe(200); // found clean: trusted for a second
    for (let i = 0; i < 2; i++) expect(await there.introspect(`wrong secret ${i}`)).toBe(401);
    expect(await there.introspect('wrong secret 2')).toBe(429); // the pair is blocked on the store
    // The window SECURITY.md states: this process has not seen the block yet.
    expect(await here.introspect(SECRET)).toBe(200);
    here.clock.now += 1000;
    expect(await here.introspect(SECRET)).toBe(429);
    // The guesser's own first try here finds the block at once (it takes the full path).
    const other = setup({ store });
    expect(await other.introspect(SECRET)).toBe(429);
  });

  it('another address takes the full path (a guesser elsewhere is counted before any answer)', async () => {
    const { ops, introspect } = setup();
    expect(await introspect(SECRET, A)).toBe(200);
    const before = ops.writes;
    expect(await introspect(SECRET, B)).toBe(200);
    expect(ops.writes).toBeGreaterThan(before);
  });

  it('a block set after the success still refuses the right secret from that address (no oracle for a guesser there)', async () => {
    const { introspect } = setup();
    expect(await introspect(SECRET)).toBe(200);
    for (let i = 0; i < 2; i++) expect(await introspect(`wrong secret ${i}`)).toBe(401);
    expect(await introspect('wrong secret 2')).toBe(429);
    expect(await introspect(SECRET)).toBe(429);
    expect(await introspect(SECRET, B)).toBe(200);
  });

  it('a wrong secret from an address with a recent success is counted as any other', async () => {
    const { ops, introspect } = setup();
    expect(await introspect(SECRET)).toBe(200);
    const before = ops.writes;
    expect(await introspect('wrong secret')).toBe(401);
    expect(ops.writes).toBeGreaterThan(before);
  });

  it('a changed secret: the old one is refused at once, the new one authenticates', async () => {
    const { introspect, rotate } = setup();
    expect(await introspect(SECRET)).toBe(200);
    rotate();
    expect(await introspect(SECRET)).toBe(401);
    expect(await introspect(NEW_SECRET)).toBe(200);
  });

  it('the trade SECURITY states: failures counted by another instance are not cleared by successes here within the clean read, so the block comes sooner', async () => {
    const sequence = async (peekCacheMs?: number) => {
      const store = memoryStore();
      const here = setup({ store, ...(peekCacheMs === undefined ? {} : { peekCacheMs }) });
      const there = setup({ store });
      const seen = [await here.introspect(SECRET), await here.introspect(SECRET)];
      for (let i = 0; i < 3; i++) seen.push(await there.introspect(`old secret ${i}`), await here.introspect(SECRET));
      here.clock.now += 1000;
      seen.push(await here.introspect(SECRET));
      return seen;
    };
    // A client whose other worker still sends an old secret to another instance: blocked at the third failure (here too, after the second).
    expect(await sequence()).toEqual([200, 200, 401, 200, 401, 200, 429, 200, 429]);
    // Read at every request, each success clears the failures counted before it: no block.
    expect(await sequence(0)).toEqual([200, 200, 401, 200, 401, 200, 401, 200, 200]);
  });
});

describe('the clean reads are bounded', () => {
  it('10,000 pairs at most: past them the oldest is read again, never refused', async () => {
    const store = memoryStore();
    let reads = 0;
    const counters = {
      hitCounter: (...a: Parameters<typeof store.hitCounter>) => store.hitCounter(...a),
      getCounter: (...a: Parameters<typeof store.getCounter>) => (reads++, store.getCounter(...a)),
      deleteCounter: (...a: Parameters<typeof store.deleteCounter>) => store.deleteCounter(...a),
      counterKeys: (...a: Parameters<typeof store.counterKeys>) => store.counterKeys(...a),
    };
    const protection = createLoginProtection({ store: counters, keyPrefix: 'client', failuresPerIp: false, now: () => 1_800_000_000_000 });
    const peek = protection.peek as NonNullable<typeof protection.peek>;
    await peek('client-0', A);
    const once = reads;
    expect(once).toBeGreaterThan(0);
    await peek('client-0', A);
    expect(reads).toBe(once); // remembered
    for (let i = 1; i <= 10_000; i++) await peek(`client-${i}`, A);
    const before = reads;
    expect(await peek('client-0', A)).toEqual({ retryAfterMs: 0, failures: 0 });
    expect(reads - before).toBe(once); // dropped at the bound: read again
  });
});
