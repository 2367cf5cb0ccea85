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

function setup() {
  const store = memoryStore();
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
    clientProtection: createLoginProtection({ store: counters, keyPrefix: 'client', failures: { max: 3, blockMs: 60_000 } }),
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
  return { ops, introspect, rotate };
}

describe('a recent successful client authentication', () => {
  it('the first success writes its count and gives it back; the next ones from the same address only read', async () => {
    const { ops, introspect } = setup();
    expect(await introspect(SECRET)).toBe(200);
    expect(ops.writes).toBeGreaterThan(0);
    const first = { ...ops };
    for (let i = 0; i < 20; i++) expect(await introspect(SECRET)).toBe(200);
    expect(ops.writes).toBe(first.writes);
    expect(ops.reads - first.reads).toBe(20 * 2); // the pair's and the address's block, each time
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
});
