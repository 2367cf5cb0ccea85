/**
 * Red team of the clean read (`peekCacheMs`, #26): the attacks that held. A clean read is trusted
 * for a second at most, forgotten by any attempt this process counts, keyed finer than the
 * counters (an address's other spellings read again), and only a verified right secret reaches it.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, createLoginProtection, resetFailures, staticClients } from 'baton-auth/http';
import type { ClientRecord, LoginProtection } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';

const ISSUER = 'https://auth.test';
const SECRET = 'gateway-secret-of-at-least-32-characters';
const A = '203.0.113.9';
const B = '198.51.100.7';
const T0 = 1_800_000_000_000;
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

type Store = ReturnType<typeof memoryStore>;

/** A store counting its counter reads; `hold` holds the reads of the gateway's counters until `go`. */
function countingStore(store: Store) {
  const ops = { reads: 0, writes: 0 };
  const gate = { slow: false, waiting: [] as (() => void)[] };
  const wait = (key: string) => (gate.slow && key.includes('gateway') ? new Promise<void>((r) => gate.waiting.push(r)) : Promise.resolve());
  return {
    ops,
    gate: { hold: () => void (gate.slow = true), go: () => ((gate.slow = false), gate.waiting.splice(0).forEach((r) => r())), held: () => gate.waiting.length },
    counters: {
      hitCounter: (...a: Parameters<Store['hitCounter']>) => (ops.writes++, store.hitCounter(...a)),
      getCounter: async (...a: Parameters<Store['getCounter']>) => (ops.reads++, await wait(a[0]), store.getCounter(...a)),
      deleteCounter: (...a: Parameters<Store['deleteCounter']>) => (ops.writes++, store.deleteCounter(...a)),
      counterKeys: (...a: Parameters<Store['counterKeys']>) => store.counterKeys(...a),
    },
  };
}

function instance(options: { store?: Store; clock?: { now: number }; clients?: () => ClientRecord[] } = {}) {
  const store = options.store ?? memoryStore();
  const clock = options.clock ?? { now: T0 };
  const { ops, gate, counters } = countingStore(store);
  const baton = createBaton({ issuer: ISSUER, keys: [generateKey('HS256', 'k')], refreshTokenSecret: randomBytes(32), store });
  const registry = staticClients([{ id: 'default' }, { id: 'gateway', secret: SECRET, introspect: true }, { id: 'other', secret: SECRET, introspect: true }]);
  const protection = createLoginProtection({
    store: counters,
    keyPrefix: 'client',
    failures: { max: 3, blockMs: 3_600_000 },
    failuresPerIp: { max: 6, windowMs: 3_600_000 },
    now: () => clock.now,
  });
  const peeks = { calls: 0 };
  const spied: LoginProtection = { check: (n, ip) => protection.check(n, ip), peek: (n, ip) => (peeks.calls++, protection.peek!(n, ip)) };
  let removed = false;
  const handler = createAuthHandler({
    baton,
    authenticate: async () => null,
    clients: { get: async (id: string) => (removed && id === 'gateway' ? null : registry.get(id)) },
    clientProtection: spied,
  });
  const call = async (secret: string | undefined, opts: { ip?: string; id?: string; path?: string } = {}) =>
    (
      await handler(
        new Request(`${ISSUER}${opts.path ?? '/oauth/introspect'}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            ...(secret === undefined ? {} : { authorization: basic(opts.id ?? 'gateway', secret) }),
          },
          body: new URLSearchParams({
            token: 'not-a-token',
            grant_type: 'client_credentials',
            ...(secret === undefined ? { client_id: opts.id ?? 'gateway' } : {}),
          }),
        }),
        { ip: opts.ip ?? A },
      )
    ).status;
  return { call, ops, gate, clock, store, peeks, protection, remove: () => void (removed = true) };
}

/** Sets a block of the gateway's pair from `ip` on `store`, as another instance does. */
async function blockElsewhere(store: Store, ip = A, clock = { now: T0 }) {
  const there = instance({ store, clock });
  for (let i = 0; i < 2; i++) expect(await there.call(`wrong ${i}`, { ip })).toBe(401);
  expect(await there.call('wrong 2', { ip })).toBe(429);
}

describe('red team (held): the clean read of a recent success', () => {
  it('a block set by another instance: never more than a second, and the first wrong try here ends the clean read', async () => {
    const store = memoryStore();
    const here = instance({ store });
    expect(await here.call(SECRET)).toBe(200);
    expect(await here.call(SECRET)).toBe(200); // clean, trusted for a second
    await blockElsewhere(store);
    expect(await here.call(SECRET)).toBe(200); // the documented second
    here.clock.now += 999;
    expect(await here.call(SECRET)).toBe(200);
    here.clock.now += 1;
    expect(await here.call(SECRET)).toBe(429);
    // Kept warm by no one: the block is read at every request from now on.
    for (let i = 0; i < 5; i++) expect(await here.call(SECRET)).toBe(429);

    const store2 = memoryStore();
    const again = instance({ store: store2 });
    expect(await again.call(SECRET)).toBe(200);
    expect(await again.call(SECRET)).toBe(200);
    await blockElsewhere(store2);
    expect(await again.call('candidate')).toBe(429); // the guesser's first try here
    expect(await again.call(SECRET)).toBe(429); // and his right secret after it, at once
  });

  it('the clock: a step forward ends the read, a step back does not stretch it, a read stamped in the future is not trusted now', async () => {
    const store = memoryStore();
    const here = instance({ store });
    expect(await here.call(SECRET)).toBe(200);
    here.clock.now += 60_000_000; // a jump forward (then back): the read made then is not trusted before it
    expect(await here.call(SECRET)).toBe(200);
    here.clock.now = T0 + 10;
    await blockElsewhere(store, A, here.clock);
    expect(await here.call(SECRET)).toBe(429);
  });

  it('a failure counted while a read is in flight: the read is not trusted after it', async () => {
    const store = memoryStore();
    const here = instance({ store });
    expect(await here.call(SECRET)).toBe(200);
    here.gate.hold();
    const reading = here.call(SECRET); // its clean read waits on the store
    while (here.gate.held() === 0) await new Promise((r) => setImmediate(r));
    expect(await here.call('wrong', { id: 'other', ip: B })).toBe(401); // any failure, counted while the read waits
    here.gate.go();
    expect(await reading).toBe(200);
    await blockElsewhere(store);
    expect(await here.call(SECRET)).toBe(429); // the read that raced was not kept
  });

  it("an address's other spellings (IPv4-mapped, /64 siblings, zone ids) read again: they share its budget, not its clean read", async () => {
    for (const [first, other] of [
      [A, `::ffff:${A}`],
      ['2001:db8:1:2::1', '2001:db8:1:2::abcd'],
      ['fe80::1%eth0', 'fe80::1%eth1'],
    ] as const) {
      const store = memoryStore();
      const here = instance({ store });
      expect(await here.call(SECRET, { ip: first })).toBe(200);
      expect(await here.call(SECRET, { ip: first })).toBe(200); // clean for `first`
      await blockElsewhere(store, other); // the budget address's pair, blocked under the other spelling
      expect(await here.call(SECRET, { ip: other })).toBe(429); // recent success shared, clean read not
      here.clock.now += 1000;
      expect(await here.call(SECRET, { ip: first })).toBe(429);
    }
  });

  it("an address's block set in this process through other clients refuses the gateway's right secret at once", async () => {
    const here = instance();
    expect(await here.call(SECRET)).toBe(200);
    expect(await here.call(SECRET)).toBe(200);
    for (let i = 0; i < 5; i++) expect(await here.call('wrong', { id: `nobody-${i}` })).toBe(401);
    expect(await here.call('wrong', { id: 'nobody-5' })).toBe(429); // the address's sixth failure
    expect(await here.call(SECRET)).toBe(429);
    expect(await here.call(SECRET, { ip: B })).toBe(200);
  });

  it('every endpoint that authenticates a client forgets the clean reads with its attempt (token, revoke, PAR)', async () => {
    const store = memoryStore();
    for (const path of ['/oauth/token', '/oauth/revoke', '/oauth/par']) {
      const here = instance({ store });
      expect(await here.call(SECRET)).toBe(200);
      expect(await here.call(SECRET)).toBe(200);
      await blockElsewhere(store);
      expect(await here.call('candidate', { path })).toBe(429);
      expect(await here.call(SECRET)).toBe(429);
      await resetFailures(store, 'client', A, () => T0);
    }
  });

  it('only a verified right secret reaches the clean read: unknown clients, public ones, wrong secrets and other addresses never call peek', async () => {
    const here = instance();
    expect(await here.call(SECRET)).toBe(200); // the gateway's recent success from A
    const first = here.peeks.calls;
    for (let i = 0; i < 200; i++) {
      await here.call(`wrong ${i}`, { ip: `2001:db8:${i}::1` });
      await here.call(SECRET, { id: `unknown-${i}`, ip: `2001:db8:${i}::1` });
      await here.call(undefined, { id: 'default', ip: `2001:db8:${i}::1` });
    }
    expect(await here.call('wrong')).not.toBe(200); // the pair with a recent success, a wrong secret
    expect(here.peeks.calls).toBe(first);
  });

  it('a client removed, and `baton limits reset`: no clean read answers for the one, none stays refused after the other', async () => {
    let store = memoryStore();
    const here = instance({ store });
    expect(await here.call(SECRET)).toBe(200);
    expect(await here.call(SECRET)).toBe(200);
    here.remove();
    expect(await here.call(SECRET)).toBe(401);

    const there = instance({ store: (store = memoryStore()) });
    await blockElsewhere(store);
    expect(await there.call(SECRET)).toBe(429);
    expect(await resetFailures(store, 'client', A, () => T0)).toBeGreaterThan(0);
    expect(await there.call(SECRET)).toBe(200);
  });

  it('a client id containing "\\n" keys its own clean read: it neither reads nor fills the gateway\'s', async () => {
    const store = memoryStore();
    const p = createLoginProtection({ store, keyPrefix: 'client', failures: { max: 3, blockMs: 3_600_000 }, now: () => T0 });
    expect(await p.peek!(`gateway\n${A}`, B)).toEqual({ retryAfterMs: 0, failures: 0 });
    await blockElsewhere(store, B);
    expect((await p.peek!('gateway', B)).retryAfterMs).toBeGreaterThan(0);
  });
});
