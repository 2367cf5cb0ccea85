/**
 * Red team of the clean read (`peekCacheMs`, #26): a block set in this process must forget every
 * clean read, also one made while the block was being written. `failed()` forgot the clean reads
 * before it wrote the block: a read of the address made between the two found its count at the
 * limit (not past it) and the client's pair clean, and was trusted for a second after the block —
 * the right secret answered 200 while the address was refused (an oracle for a guesser there).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, createLoginProtection, staticClients } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';

const ISSUER = 'https://auth.test';
const SECRET = 'gateway-secret-of-at-least-32-characters';
const A = '203.0.113.9';
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

function setup(failures: { max: number; blockMs: number } | false) {
  const store = memoryStore();
  const clock = { now: 1_800_000_000_000 };
  const baton = createBaton({ issuer: ISSUER, keys: [generateKey('HS256', 'k')], refreshTokenSecret: randomBytes(32), store });
  // The address's block is written slowly (a busy SQLite file): held until `release`.
  let release = () => {};
  let writing: Promise<void> | undefined;
  const held = { on: false };
  const counters = {
    hitCounter: async (...a: Parameters<typeof store.hitCounter>) => {
      if (held.on && a[4] === true && a[0].startsWith('client:addr:')) {
        const gate = new Promise<void>((r) => (release = r));
        writing = Promise.resolve();
        await gate;
      }
      return store.hitCounter(...a);
    },
    getCounter: (...a: Parameters<typeof store.getCounter>) => store.getCounter(...a),
    deleteCounter: (...a: Parameters<typeof store.deleteCounter>) => store.deleteCounter(...a),
    counterKeys: (...a: Parameters<typeof store.counterKeys>) => store.counterKeys(...a),
  };
  const handler = createAuthHandler({
    baton,
    authenticate: async () => null,
    clients: staticClients([{ id: 'default' }, { id: 'gateway', secret: SECRET, introspect: true }]),
    clientProtection: createLoginProtection({
      store: counters,
      keyPrefix: 'client',
      failures,
      failuresPerIp: { max: 3, windowMs: 3_600_000 },
      now: () => clock.now,
    }),
  });
  const introspect = async (id: string, secret: string) =>
    (
      await handler(
        new Request(`${ISSUER}/oauth/introspect`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(id, secret) },
          body: new URLSearchParams({ token: 'not-a-token' }),
        }),
        { ip: A },
      )
    ).status;
  const blockWritten = async () => {
    while (writing === undefined) await new Promise((r) => setImmediate(r));
  };
  return { introspect, held, blockWritten, release: () => release(), clock };
}

describe('red team: a block being written in this process and the clean read', () => {
  for (const failures of [{ max: 10, blockMs: 3_600_000 }, false] as const) {
    it(`a read made while the address's block is written is not trusted after it (failures per pair: ${failures === false ? 'off' : 'on'})`, async () => {
      const { introspect, held, blockWritten, release, clock } = setup(failures);
      expect(await introspect('gateway', SECRET)).toBe(200); // the full path: a recent success
      // Wrong secrets of other client ids from the same address: the address's budget (3).
      for (let i = 0; i < 2; i++) expect(await introspect(`nobody-${i}`, 'wrong')).toBe(401);
      held.on = true;
      const last = introspect('nobody-2', 'wrong'); // the third failure: failed() writes the block
      await blockWritten();
      // Meanwhile the gateway's right secret: the address is not refused yet (its count is at the limit).
      expect(await introspect('gateway', SECRET)).toBe(200);
      release();
      expect(await last).toBe(429);
      // The address is refused now, and this process set that block itself: no second of grace.
      clock.now += 1;
      expect(await introspect('gateway', SECRET)).toBe(429);
    });
  }
});
