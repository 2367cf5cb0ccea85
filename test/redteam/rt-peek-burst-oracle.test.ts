/**
 * Red team of the clean read (`peekCacheMs`, #26): a block set by another instance reaches this one
 * within a second, and "a guesser's own try finds it at once, on the full path". A guesser sharing
 * the gateway's address sends his candidates at once: the wrong ones forgot the clean reads only
 * once refused (after a read of the store), so every right one among them that reached the fast
 * path meanwhile was answered 200 from the clean read — while the pair was blocked, and however
 * many wrong candidates arrived before it: an oracle over a whole burst, not the first request only.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, createLoginProtection, staticClients } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';

const ISSUER = 'https://auth.test';
const SECRET = 'gateway-secret-of-at-least-32-characters';
const A = '203.0.113.9';
const basic = (secret: string) => `Basic ${Buffer.from(`gateway:${encodeURIComponent(secret)}`).toString('base64')}`;

function instance(store: ReturnType<typeof memoryStore>) {
  const baton = createBaton({ issuer: ISSUER, keys: [generateKey('HS256', 'k')], refreshTokenSecret: randomBytes(32), store });
  const handler = createAuthHandler({
    baton,
    authenticate: async () => null,
    clients: staticClients([{ id: 'default' }, { id: 'gateway', secret: SECRET, introspect: true }]),
    clientProtection: createLoginProtection({ store, keyPrefix: 'client', failures: { max: 3, blockMs: 3_600_000 } }),
  });
  return async (secret: string) =>
    (
      await handler(
        new Request(`${ISSUER}/oauth/introspect`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(secret) },
          body: new URLSearchParams({ token: 'not-a-token' }),
        }),
        { ip: A },
      )
    ).status;
}

describe('red team: a burst of candidates after a block set by another instance', () => {
  it('a right secret sent after wrong ones, all at once, is refused as they are (no oracle beyond the first request)', async () => {
    const store = memoryStore();
    const here = instance(store);
    const there = instance(store);
    expect(await here(SECRET)).toBe(200); // the full path: a recent success
    expect(await here(SECRET)).toBe(200); // found clean: trusted for a second here
    // The guesser (behind the gateway's NAT) spends the pair's budget on the other instance.
    for (let i = 0; i < 2; i++) expect(await there(`wrong ${i}`)).toBe(401);
    expect(await there('wrong 2')).toBe(429);
    // Then his candidates here, at once; the right one is the 21st.
    const candidates = [...Array.from({ length: 20 }, (_, i) => `candidate ${i}`), SECRET];
    const answers = await Promise.all(candidates.map((c) => here(c)));
    expect(answers.slice(0, 20)).toEqual(Array(20).fill(429));
    expect(answers[20]).toBe(429);
  });
});
