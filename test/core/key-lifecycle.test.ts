/**
 * Keys do not live forever: a retired key verifies only while a token it made can be valid, then
 * leaves the ring and the JWKS; a removed (compromised) key stops verifying at once, cached
 * tokens included; refresh-token keys rotate without logging anyone out.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signJwt } from '../../packages/baton-auth/src/core/access-token.ts';
import type { RingKey } from 'baton-auth';
import { generateKey } from 'baton-auth';
import { codeOf, ISSUER, makeBaton } from '../support/baton.ts';

const MINUTE = 60_000;

/** A token signed now by `key`, with claims that would otherwise pass (a minute's life, as the engines below give). */
function forge(key: RingKey, nowMs: number, sid = 'sid-forged'): string {
  const iat = Math.floor(nowMs / 1000);
  return signJwt({ iss: ISSUER, sub: 'attacker', aud: ISSUER, exp: iat + 60, iat, jti: randomUUID(), sid, client_id: 'default', scope: 'admin' }, key);
}

describe('retired keys', () => {
  it('verify nothing once no token they signed can still be valid, and leave the JWKS, before any prune', async () => {
    const { baton, clock } = makeBaton({ keys: [generateKey('EdDSA', 'k1')], accessTokenTtl: '1m', leeway: 5, verifyCache: false });
    await baton.rotateKeys();
    const k1 = baton.keys.get('k1') as RingKey;
    expect(k1.status).toBe('retired');
    // Within the retention a token signed by the retired key still verifies (it may have been issued just before).
    await baton.verify(forge(k1, clock.ms));
    expect(baton.jwks().keys.map((k) => k.kid)).toContain('k1');
    clock.advance(MINUTE + 5_000);
    // A holder of the old private key (a backup, a dump) mints a fresh-looking token: refused.
    expect(await codeOf(baton.verify(forge(k1, clock.ms)))).toBe('ERR_TOKEN_INVALID');
    expect(baton.jwks().keys.map((k) => k.kid)).not.toContain('k1');
    expect(baton.keys.get('k1')).toBeDefined(); // not pruned yet: refusal does not wait for it
  });

  it('a removed key stops verifying at once, also for tokens the verified-token cache holds', async () => {
    const { baton } = makeBaton({ keys: [generateKey('EdDSA', 'k1'), { ...generateKey('EdDSA', 'k2'), status: 'next' }] });
    const pair = await baton.login('u');
    await baton.verify(pair.access_token); // cached now
    expect(baton.keys.remove('k1', Date.now())).toBe(true);
    expect(await codeOf(baton.verify(pair.access_token))).toBe('ERR_TOKEN_INVALID');
    expect(baton.keys.active('sig')?.kid).toBe('k2'); // signing never stops: the published successor took over
    await baton.verify((await baton.login('u')).access_token);
  });
});

describe('refresh-token keys', () => {
  it('rotate without logging anyone out; a retired refresh key stops after the longest idle lifetime', async () => {
    const { baton, clock } = makeBaton({ refreshTokenTtl: '1h', refreshGrace: '10s', leeway: 5 });
    const before = await baton.login('u');
    const first = await baton.rotateKeys('refresh');
    const after = await baton.login('u');
    // The old session's token, minted by the retired key, still rotates; the new pair is minted by the new key.
    const rotated = await baton.refresh(before.refresh_token);
    await baton.refresh(after.refresh_token);
    expect(first.active).not.toBe('refresh-0');
    // A token the retired key minted can live at most the idle lifetime: after that the key verifies nothing.
    const idle = await baton.login('v');
    await baton.rotateKeys('refresh');
    clock.advance(60 * MINUTE + 15_001);
    expect(await codeOf(baton.refresh(idle.refresh_token))).toBe('ERR_REFRESH_INVALID');
    expect(rotated.refresh_token).toMatch(/^rt_/);
  });

  it('a refresh key never verifies an access token, and a signing key never a refresh token', async () => {
    const { baton, clock } = makeBaton();
    const refreshKey = baton.keys.active('refresh') as RingKey;
    expect(refreshKey.alg).toBe('HS256');
    expect(await codeOf(baton.verify(forge(refreshKey, clock.ms)))).toBe('ERR_TOKEN_INVALID');
  });
});

describe('a key revoked on one instance', () => {
  it('stops verifying on the others at once, cached tokens included, and no saved copy brings it back', async () => {
    const { memoryStore } = await import('baton-auth/stores/memory');
    const { createBaton } = await import('baton-auth');
    const store = memoryStore();
    const keys = [generateKey('EdDSA', 'k1'), { ...generateKey('EdDSA', 'k2'), status: 'next' as const }];
    const make = () => createBaton({ issuer: ISSUER, keys, refreshTokenSecret: 'r'.repeat(32), store });
    const [a, b] = [make(), make()];
    await Promise.all([a.ready(), b.ready()]);
    const pair = await b.login('u');
    await b.verify(pair.access_token); // in B's cache
    expect(await a.revokeKey('k1')).toBe(true);
    expect(await codeOf(b.verify(pair.access_token))).toBe('ERR_TOKEN_INVALID');
    expect(b.keys.get('k1')).toBeUndefined();
    b.keys.sync(keys, Date.now()); // a stale saved ring still listing it
    expect(b.keys.get('k1')).toBeUndefined();
    expect(await a.revokeKey('k1')).toBe(false);
  });
});

describe('persistKeys', () => {
  it('saves the ring after each rotation and revocation, the revocation before any instance hears of it', async () => {
    const { memoryStore } = await import('baton-auth/stores/memory');
    const { createBaton } = await import('baton-auth');
    const store = memoryStore();
    const saved: string[][] = [];
    const heard: string[] = [];
    await store.subscribe((event) => heard.push(event.id));
    const baton = createBaton({
      issuer: ISSUER,
      keys: [generateKey('EdDSA', 'k1')],
      refreshTokenSecret: 'r'.repeat(32),
      store,
      persistKeys: async (ring) => {
        saved.push(
          ring
            .list()
            .filter((k) => k.use === 'sig')
            .map((k) => `${k.kid}:${k.status}`),
        );
        expect(heard).toEqual([]);
      },
    });
    const { active, next } = await baton.rotateKeys();
    expect(saved[0]?.sort()).toEqual(['k1:retired', `${active}:active`, `${next}:next`].sort());
    expect(await baton.revokeKey('k1')).toBe(true);
    expect(saved[1]?.sort()).toEqual([`${active}:active`, `${next}:next`].sort());
    expect(heard).toEqual(['k1']);
    expect(await baton.revokeKey('k1')).toBe(false);
    expect(saved).toHaveLength(2); // nothing changed, nothing saved
    await baton.close();
  });

  it('is refused at creation when it is not a function', async () => {
    const { memoryStore } = await import('baton-auth/stores/memory');
    const { createBaton } = await import('baton-auth');
    expect(() =>
      createBaton({
        issuer: ISSUER,
        keys: [generateKey('EdDSA', 'k1')],
        refreshTokenSecret: 'r'.repeat(32),
        store: memoryStore(),
        persistKeys: 'yes' as never,
      }),
    ).toThrow(/persistKeys/);
  });
});

describe('an active key revoked elsewhere', () => {
  it('is replaced here by the published next key, the one the revoking instance promoted, so signing never stops', async () => {
    const { KeyRing } = await import('baton-auth');
    const saved = [generateKey('EdDSA', 'a'), { ...generateKey('EdDSA', 'b'), status: 'next' as const }];
    const here = new KeyRing(saved);
    const there = new KeyRing(saved);
    there.remove('a', 1000);
    here.drop('a', 1000);
    expect(here.active('sig')?.kid).toBe('b');
    expect(there.active('sig')?.kid).toBe('b');
  });

  it('a token claiming a longer life than this issuer gives is refused, even signed by a live key', async () => {
    const { baton, clock } = makeBaton({ keys: [generateKey('EdDSA', 'k1')], accessTokenTtl: '15m', leeway: 5 });
    const key = baton.keys.get('k1') as RingKey;
    const iat = Math.floor(clock.ms / 1000);
    const long = signJwt({ iss: ISSUER, sub: 'x', aud: ISSUER, exp: iat + 3 * 86_400, iat, jti: randomUUID(), sid: 's', client_id: 'default' }, key);
    expect(await codeOf(baton.verify(long))).toBe('ERR_TOKEN_INVALID');
    const fair = signJwt({ iss: ISSUER, sub: 'x', aud: ISSUER, exp: iat + 900, iat, jti: randomUUID(), sid: 's', client_id: 'default' }, key);
    await baton.verify(fair);
  });
});
