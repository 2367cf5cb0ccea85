/**
 * The toolkit's caches, which the engine and `remoteIssuer` share: the verified-token cache never
 * answers past a token's end nor for another token with the same signature segment or key; the
 * revocation cache, when bounded, refuses an event rather than drop a revocation in force, and
 * has room again once entries expired on both clocks.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RevocationCache } from '../../packages/baton-auth/src/protocol/revocation-cache.ts';
import { keyOf, VerifiedTokenCache } from '../../packages/baton-auth/src/protocol/token-cache.ts';

describe('VerifiedTokenCache', () => {
  it('answers a token held until its end, then ERR_TOKEN_EXPIRED and forgets it', () => {
    const cache = new VerifiedTokenCache<{ sub: string }>(10);
    cache.set('h.p.sig', { sub: 'a' }, 1000);
    expect(cache.get('h.p.sig', 999)).toEqual({ sub: 'a' });
    expect(() => cache.get('h.p.sig', 1000)).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_EXPIRED' }));
    expect(cache.get('h.p.sig', 0)).toBeUndefined();
  });

  it('never answers for another token ending in the same segment, and keeps at most max', () => {
    const cache = new VerifiedTokenCache<string>(2);
    cache.set('h.p.sig', 'first', 1000);
    expect(cache.get('h.other.sig', 0)).toBeUndefined();
    cache.set('a.b.c1', 'c1', 1000);
    cache.set('a.b.c2', 'c2', 1000);
    expect([cache.get('h.p.sig', 0), cache.get('a.b.c1', 0), cache.get('a.b.c2', 0)]).toEqual([undefined, 'c1', 'c2']);
  });
});

describe('VerifiedTokenCache keys (a hash of the last eight characters)', () => {
  /** Two tokens whose keys meet: random signature tails until two hash alike (about 41,000 tries for 30 bits). */
  function collision(): [string, string] {
    const seen = new Map<number, string>();
    for (;;) {
      const token = `h.p.${randomBytes(6).toString('base64url')}`;
      const other = seen.get(keyOf(token));
      if (other !== undefined && other !== token) return [other, token];
      seen.set(keyOf(token), token);
    }
  }

  it("two live tokens whose keys meet take each other's place, and neither is ever answered for the other", () => {
    const [a, b] = collision();
    expect(keyOf(a)).toBe(keyOf(b));
    const cache = new VerifiedTokenCache<string>(10);
    cache.set(a, 'claims of a', 1000);
    expect(cache.get(b, 0)).toBeUndefined(); // held under b's key, but not b
    expect(cache.get(a, 0)).toBe('claims of a');
    cache.set(b, 'claims of b', 1000);
    expect([cache.get(a, 0), cache.get(b, 0)]).toEqual([undefined, 'claims of b']);
  });

  it('differ with any of the last eight characters', () => {
    const token = `h.p.${randomBytes(32).toString('base64url')}`;
    for (let at = token.length - 8; at < token.length; at++) {
      const changed = token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
      expect(keyOf(changed)).not.toBe(keyOf(token));
    }
  });
});

describe('RevocationCache, bounded', () => {
  const event = (id: string, at: number, life: number) => ({ kind: 'session' as const, id, at, expiresAt: at + life });

  it('refuses an event past max rather than drop one in force, says so at 80%, and has room once entries expired on both clocks', () => {
    let mono = 0;
    const near: number[] = [];
    const cache = new RevocationCache({ monotonic: () => mono, max: 5, onNearCap: (s) => near.push(s.held) });
    for (let i = 0; i < 5; i++) expect(cache.apply(event(`s${i}`, 0, 60_000), 0)).toBe(true);
    expect(near).toEqual([4]);
    expect(cache.apply(event('late', 0, 60_000), 0)).toBe(false);
    expect(cache.hasRoom).toBe(false);
    for (let i = 0; i < 5; i++) expect(cache.isRevoked('session', `s${i}`, 30_000)).toBe(true);
    expect(cache.apply(event('s0', 0, 90_000), 0)).toBe(true); // one held: its end moves, nothing added
    mono = 61_000; // past every deadline but s0's; and on the verifier's clock
    cache.prune(61_000);
    expect(cache.hasRoom).toBe(true);
    expect(cache.apply(event('late', 0, 60_000), 61_000)).toBe(true);
    expect(cache.isRevoked('session', 's0', 61_000)).toBe(true);
  });

  it('keeps no entry past maxLifetimeMs, whatever its expiresAt', () => {
    let mono = 0;
    const cache = new RevocationCache({ monotonic: () => mono, maxLifetimeMs: 1000 });
    cache.apply(event('forever', 0, Number.MAX_SAFE_INTEGER), 0);
    expect(cache.isRevoked('session', 'forever', 999)).toBe(true);
    mono = 1001;
    expect(cache.isRevoked('session', 'forever', 1001)).toBe(false);
  });
});
