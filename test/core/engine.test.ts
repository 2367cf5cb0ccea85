import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { MAX_SESSIONS_PER_USER, createBaton, generateKey } from 'baton-auth';
import type { BatonOptions, BatonStore } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { codeOf, ISSUER, makeBaton } from '../support/baton.ts';

const decode = (segment: string): unknown => JSON.parse(Buffer.from(segment, 'base64url').toString());

describe('login and verify', () => {
  it('issues an RFC 9068 access token and a refresh token bound to a new session', async () => {
    const { baton, events } = makeBaton();
    const pair = await baton.login('user-1', { clientId: 'web', scope: 'read', device: { userAgent: 'UA' } });
    expect(pair).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'read', refresh_expires_in: 14 * 86400 });
    const [h, p] = pair.access_token.split('.') as [string, string];
    expect(decode(h)).toEqual({ alg: 'HS256', typ: 'at+jwt', kid: 'hs-1' });
    expect(Object.keys(decode(p) as object).sort()).toEqual(['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sid', 'sub']);
    expect(pair.refresh_token).toMatch(new RegExp(`^rt_${pair.session_id}\\.0\\.[A-Za-z0-9_-]{43}$`));
    const claims = await baton.verify(pair.access_token);
    expect(claims).toMatchObject({ iss: ISSUER, aud: ISSUER, sub: 'user-1', sid: pair.session_id, client_id: 'web', scope: 'read' });
    expect(Object.isFrozen(claims)).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['session.created']);
  });

  it('expires access tokens after their lifetime plus the leeway, from the cache too', async () => {
    const { baton, clock } = makeBaton({ accessTokenTtl: 60, leeway: 5 });
    const { access_token } = await baton.login('u');
    await baton.verify(access_token);
    clock.advance(64_000);
    await baton.verify(access_token);
    clock.advance(1_000);
    expect(await codeOf(baton.verify(access_token))).toBe('ERR_TOKEN_EXPIRED');
    const uncached = makeBaton({ accessTokenTtl: 60, leeway: 5, verifyCache: false });
    const t = (await uncached.baton.login('u')).access_token;
    uncached.clock.advance(65_000);
    expect(await codeOf(uncached.baton.verify(t))).toBe('ERR_TOKEN_EXPIRED');
  });

  it('signs with ES256 and EdDSA, and jose verifies the tokens against the published JWKS', async () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const { baton, clock } = makeBaton({ keys: [generateKey(alg, `${alg}-1`)] });
      const { access_token } = await baton.login('u');
      const jwks = createLocalJWKSet(baton.jwks());
      const { payload, protectedHeader } = await jwtVerify(access_token, jwks, {
        issuer: ISSUER,
        audience: ISSUER,
        typ: 'at+jwt',
        algorithms: [alg],
        currentDate: new Date(clock.ms),
      });
      expect(protectedHeader).toEqual({ alg, typ: 'at+jwt', kid: `${alg}-1` });
      expect(await baton.verify(access_token)).toEqual(payload);
    }
  });

  it('keeps HS256 secrets out of the JWKS', () => {
    const { baton } = makeBaton({ keys: [generateKey('HS256', 'a'), generateKey('EdDSA', 'b')] });
    expect(baton.jwks().keys.map((k) => k.kid)).toEqual(['b']);
    expect(JSON.stringify(baton.jwks())).not.toMatch(/"d"|"k"/);
  });
});

describe('refresh rotation', () => {
  it('rotates on each use and emits refresh.rotated', async () => {
    const { baton, clock, events } = makeBaton();
    const first = await baton.login('u');
    clock.advance(1000);
    const second = await baton.refresh(first.refresh_token);
    expect(second.session_id).toBe(first.session_id);
    expect(second.refresh_token).toMatch(/\.1\./);
    expect(second.access_token).not.toBe(first.access_token);
    expect((await baton.verify(second.access_token)).sid).toBe(first.session_id);
    expect(events.at(-1)).toMatchObject({ type: 'refresh.rotated', generation: 1, fingerprint: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/) });
  });

  it('hands a retired token inside the grace window the current pair, then revokes the session on reuse after it', async () => {
    const { baton, clock, events } = makeBaton({ refreshGrace: '10s' });
    const first = await baton.login('u');
    const child = await baton.refresh(first.refresh_token);
    clock.advance(9_000);
    const again = await baton.refresh(first.refresh_token);
    expect(again.refresh_token).toBe(child.refresh_token);
    expect(events.at(-1)).toMatchObject({ type: 'refresh.grace', generation: 1, presentedGeneration: 0 });
    clock.advance(1_001);
    expect(await codeOf(baton.refresh(first.refresh_token))).toBe('ERR_REFRESH_REUSED');
    expect(events.map((e) => e.type).slice(-2)).toEqual(['refresh.reused', 'session.revoked']);
    expect(await codeOf(baton.refresh(child.refresh_token))).toBe('ERR_SESSION_ENDED');
    expect(await codeOf(baton.verify(child.access_token))).toBe('ERR_SESSION_REVOKED');
  });

  it('refuses forged, malformed, future and foreign-client tokens without touching the session', async () => {
    const { baton } = makeBaton();
    const pair = await baton.login('u', { clientId: 'web' });
    const [prefix, gen, mac] = pair.refresh_token.split('.') as [string, string, string];
    const forged = `${prefix}.${gen}.${mac.slice(0, -2)}${mac.endsWith('AA') ? 'BA' : 'AA'}`;
    for (const bad of [forged, `${prefix}.1.${mac}`, 'rt_x', '', 'a'.repeat(10_000), pair.access_token]) {
      expect(await codeOf(baton.refresh(bad))).toBe('ERR_REFRESH_INVALID');
    }
    expect(await codeOf(baton.refresh(pair.refresh_token, { clientId: 'mobile' }))).toBe('ERR_REFRESH_INVALID');
    // A request that names no client acts as the default client: another client's token is refused (RFC 6749 §6, §10.4).
    expect(await codeOf(baton.refresh(pair.refresh_token))).toBe('ERR_REFRESH_INVALID');
    const next = await baton.refresh(pair.refresh_token, { clientId: 'web' });
    expect(next.refresh_token).toMatch(/\.1\./);
  });

  it('binds refresh tokens to their client even when the refresh names none (the default client, as at login)', async () => {
    const { baton } = makeBaton();
    const web = await baton.login('u', { clientId: 'web' });
    expect(await codeOf(baton.refresh(web.refresh_token))).toBe('ERR_REFRESH_INVALID');
    expect((await baton.refresh(web.refresh_token, { clientId: 'web' })).refresh_token).toMatch(/\.1\./);
    const unnamed = await baton.login('u');
    expect((await baton.refresh(unnamed.refresh_token)).refresh_token).toMatch(/\.1\./);
    expect(await codeOf(baton.refresh(unnamed.refresh_token, { clientId: 'web' }))).toBe('ERR_REFRESH_INVALID');
  });

  it('ends sessions at their idle and absolute lifetimes', async () => {
    const idle = makeBaton({ accessTokenTtl: '1m', refreshTokenTtl: '1h', sessionMaxAge: '3h' });
    const a = await idle.baton.login('u');
    idle.clock.advance(3_600_000);
    expect(await codeOf(idle.baton.refresh(a.refresh_token))).toBe('ERR_SESSION_ENDED');

    const absolute = makeBaton({ accessTokenTtl: '1m', refreshTokenTtl: '1h', sessionMaxAge: '3h' });
    let pair = await absolute.baton.login('u');
    for (let i = 0; i < 3; i++) {
      absolute.clock.advance(50 * 60_000);
      pair = await absolute.baton.refresh(pair.refresh_token);
    }
    expect(pair.refresh_expires_in).toBe(30 * 60); // the absolute limit, sooner than the idle one
    absolute.clock.advance(30 * 60_000);
    expect(await codeOf(absolute.baton.refresh(pair.refresh_token))).toBe('ERR_SESSION_ENDED');
  });

  it('rate-limits refreshes per session', async () => {
    const { baton, clock } = makeBaton({ refreshRateLimit: { max: 2, window: '1m' } });
    let pair = await baton.login('u');
    pair = await baton.refresh(pair.refresh_token);
    pair = await baton.refresh(pair.refresh_token);
    const err = await baton.refresh(pair.refresh_token).catch((e: unknown) => e as { code: string; retryAfterMs: number });
    expect(err).toMatchObject({ code: 'ERR_RATE_LIMITED', retryAfterMs: 60_000 });
    clock.advance(60_000);
    await baton.refresh(pair.refresh_token);
  });

  it("a herd of 100 racers on one refresh token: all get the child, and the session's next refresh still succeeds", async () => {
    const { baton, clock, events } = makeBaton(); // the default rate limit: 30 refreshes a minute
    const first = await baton.login('u');
    clock.advance(1000);
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => baton.refresh(first.refresh_token)));
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r.reason as { code?: string }).code);
    expect(refused).toEqual([]);
    const children = new Set(results.map((r) => (r as PromiseFulfilledResult<{ refresh_token: string }>).value.refresh_token));
    expect(children.size).toBe(1);
    expect(events.filter((e) => e.type === 'refresh.rotated')).toHaveLength(1);
    clock.advance(1000);
    const next = await baton.refresh([...children][0] as string);
    expect(next.refresh_token).toMatch(/\.2\./);
  });

  it('bounds grace answers per generation with refreshGraceLimit: the next one is ERR_RATE_LIMITED for 1 s', async () => {
    const { baton } = makeBaton({ refreshGraceLimit: 2 });
    const first = await baton.login('u');
    const child = await baton.refresh(first.refresh_token);
    for (let i = 0; i < 2; i++) expect((await baton.refresh(first.refresh_token)).refresh_token).toBe(child.refresh_token);
    expect(await baton.refresh(first.refresh_token).catch((e: unknown) => e)).toMatchObject({ code: 'ERR_RATE_LIMITED', retryAfterMs: 1000 });
    expect((await baton.refresh(child.refresh_token)).refresh_token).toMatch(/\.2\./);
  });

  it('reports a store outage as ERR_STORE_UNAVAILABLE and loses nothing', async () => {
    const store = memoryStore();
    let down = false;
    const flaky = new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (down ? Promise.reject(new Error('ECONNREFUSED')) : (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    }) as BatonStore;
    const { baton } = makeBaton({ store: flaky });
    const pair = await baton.login('u');
    down = true;
    expect(await codeOf(baton.refresh(pair.refresh_token))).toBe('ERR_STORE_UNAVAILABLE');
    expect(await codeOf(baton.login('u'))).toBe('ERR_STORE_UNAVAILABLE');
    await baton.verify(pair.access_token); // JWTs verify from memory while the store is away
    down = false;
    const next = await baton.refresh(pair.refresh_token);
    expect(next.refresh_token).toMatch(/\.1\./);
  });
});

describe('sessions and revocation', () => {
  it('single session: a new login evicts the old device', async () => {
    const { baton, events } = makeBaton({ maxSessionsPerUser: 1 });
    const laptop = await baton.login('u');
    const phone = await baton.login('u');
    expect(events.filter((e) => e.type === 'session.evicted')).toMatchObject([{ sessionId: laptop.session_id, userId: 'u' }]);
    expect(await codeOf(baton.verify(laptop.access_token))).toBe('ERR_SESSION_REVOKED');
    expect(await codeOf(baton.refresh(laptop.refresh_token))).toBe('ERR_SESSION_ENDED');
    await baton.verify(phone.access_token);
    expect((await baton.listSessions('u')).map((s) => s.id)).toEqual([phone.session_id]);
  });

  it(`one user's logins keep at most MAX_SESSIONS_PER_USER (${MAX_SESSIONS_PER_USER}) active sessions at the ceiling: the device list and "log out everywhere" read no more`, async () => {
    const { baton, clock, events } = makeBaton({ maxSessionsPerUser: MAX_SESSIONS_PER_USER, loginRateLimit: false });
    const first = await baton.login('flooder');
    for (let i = 0; i < MAX_SESSIONS_PER_USER + 4; i++) {
      clock.advance(1);
      await baton.login('flooder');
    }
    expect(events.filter((e) => e.type === 'session.evicted')).toHaveLength(5);
    expect(await codeOf(baton.verify(first.access_token))).toBe('ERR_SESSION_REVOKED');
    expect(await baton.listSessions('flooder')).toHaveLength(MAX_SESSIONS_PER_USER);
    expect(await baton.revokeUserSessions('flooder')).toHaveLength(MAX_SESSIONS_PER_USER);
  });

  it("revokes one access token, one session, or all of a user's sessions but one", async () => {
    const { baton, clock } = makeBaton();
    const a = await baton.login('u', { device: { name: 'laptop' } });
    clock.advance(1);
    const b = await baton.login('u', { device: { name: 'phone' } });
    clock.advance(1);
    const c = await baton.login('u', { device: { name: 'tablet' } });
    const a2 = await baton.refresh(a.refresh_token);
    await baton.revoke(a.access_token);
    expect(await codeOf(baton.verify(a.access_token))).toBe('ERR_TOKEN_REVOKED');
    await baton.verify(a2.access_token);
    await baton.revoke(b.refresh_token);
    expect(await codeOf(baton.verify(b.access_token))).toBe('ERR_SESSION_REVOKED');
    expect(await baton.revokeUserSessions('u', { except: c.session_id })).toEqual([a.session_id]);
    expect((await baton.listSessions('u')).map((s) => s.device.name)).toEqual(['tablet']);
    await baton.verify(c.access_token);
  });

  it('treats unknown, invalid and expired tokens as already revoked (RFC 7009 §2.2)', async () => {
    const { baton, clock, events } = makeBaton();
    const pair = await baton.login('u');
    for (const junk of ['', 'garbage', 'rt_nope', 'a.b.c', `${pair.access_token}x`, `rt_${pair.session_id}.0.${'A'.repeat(43)}`]) {
      await expect(baton.revoke(junk)).resolves.toBeUndefined();
    }
    expect((await baton.verify(pair.access_token)).sid).toBe(pair.session_id); // nothing was revoked
    clock.advance(3600_000);
    await expect(baton.revoke(pair.access_token)).resolves.toBeUndefined();
    expect(events.filter((e) => e.type === 'token.revoked' || e.type === 'session.revoked')).toEqual([]);
  });

  it('replay guard: a one-time token is accepted exactly once, even in parallel', async () => {
    const { baton } = makeBaton();
    const { access_token } = await baton.login('u');
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => baton.verify(access_token, { oneTime: true })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const codes = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { code: string }).code] : []));
    expect(new Set(codes)).toEqual(new Set(['ERR_TOKEN_REPLAYED']));
    await baton.verify(access_token); // routes without the guard still accept it
  });
});

describe('introspection (RFC 7662)', () => {
  it('describes active tokens and says only active: false otherwise', async () => {
    const { baton } = makeBaton();
    const pair = await baton.login('u', { clientId: 'web', scope: 'read' });
    expect(await baton.introspect(pair.access_token)).toMatchObject({
      active: true,
      token_type: 'Bearer',
      sub: 'u',
      client_id: 'web',
      scope: 'read',
      sid: pair.session_id,
    });
    const refresh = await baton.introspect(pair.refresh_token);
    expect(refresh).toMatchObject({ active: true, sub: 'u', client_id: 'web' });
    // RFC 7662 §2.2: token_type names an access token's type; username a human-readable name Baton does not know.
    expect(refresh).not.toHaveProperty('token_type');
    expect(refresh).not.toHaveProperty('username');
    const next = await baton.refresh(pair.refresh_token, { clientId: 'web' });
    expect(await baton.introspect(pair.refresh_token)).toEqual({ active: false });
    expect(await baton.introspect(next.refresh_token)).toMatchObject({ active: true });
    for (const junk of ['', 'x', 'rt_bad', 'a.b.c']) expect(await baton.introspect(junk)).toEqual({ active: false });
    await baton.revokeSession(pair.session_id);
    expect(await baton.introspect(next.refresh_token)).toEqual({ active: false });
    expect(await baton.introspect(next.access_token)).toEqual({ active: false });
  });
});

describe('access-token formats', () => {
  it('jwe: claims are encrypted (dir + A256GCM) and verify like a JWT', async () => {
    const { baton } = makeBaton({ keys: [generateKey('HS256', 's'), generateKey('dir', 'e')], tokenFormat: 'jwe' });
    const pair = await baton.login('secret-user');
    const segments = pair.access_token.split('.');
    expect(segments).toHaveLength(5);
    expect(decode(segments[0] as string)).toEqual({ alg: 'dir', enc: 'A256GCM', kid: 'e', typ: 'at+jwt' });
    expect(Buffer.from(pair.access_token).toString()).not.toContain('secret-user');
    for (const s of segments.slice(1)) expect(Buffer.from(s, 'base64url').toString('latin1')).not.toContain('secret-user');
    expect((await baton.verify(pair.access_token)).sub).toBe('secret-user');
    const tampered = segments.map((s, i) => (i === 3 ? `${s.slice(0, -2)}${s.endsWith('AA') ? 'BA' : 'AA'}` : s)).join('.');
    expect(await codeOf(baton.verify(tampered))).toBe('ERR_TOKEN_INVALID');
    await baton.revokeSession(pair.session_id);
    expect(await codeOf(baton.verify(pair.access_token))).toBe('ERR_SESSION_REVOKED');
  });

  it('opaque: random tokens looked up in the store, instantly revocable', async () => {
    const { baton } = makeBaton({ tokenFormat: 'opaque' });
    const pair = await baton.login('u');
    expect(pair.access_token).toMatch(/^at_[A-Za-z0-9_-]{43}$/);
    expect((await baton.verify(pair.access_token)).sub).toBe('u');
    expect(await codeOf(baton.verify(`at_${'A'.repeat(43)}`))).toBe('ERR_TOKEN_INVALID');
    await baton.revoke(pair.access_token);
    expect(await codeOf(baton.verify(pair.access_token))).toBe('ERR_TOKEN_INVALID');
  });
});

describe('key rotation', () => {
  it('publishes the next key before it signs; retired keys keep verifying', async () => {
    const { baton } = makeBaton({ keys: [generateKey('EdDSA', 'k1')] });
    const old = await baton.login('u');
    const first = await baton.rotateKeys();
    expect(baton.jwks().keys.map((k) => k.kid)).toEqual(['k1', first.active, first.next]);
    const fresh = await baton.login('u');
    expect(decode(fresh.access_token.split('.')[0] as string)).toMatchObject({ kid: first.active });
    await baton.verify(old.access_token);
    const second = await baton.rotateKeys();
    expect(second.active).toBe(first.next); // what was published ahead is what signs now
  });

  it('drops retired keys once no token they signed can be valid', async () => {
    const { baton, clock } = makeBaton({ keys: [generateKey('HS256', 'k1')], accessTokenTtl: '1m', verifyCache: false });
    const old = await baton.login('u');
    await baton.rotateKeys();
    clock.advance(2 * 60_000);
    await baton.rotateKeys();
    expect(baton.keys.get('k1')).toBeUndefined();
    expect(await codeOf(baton.verify(old.access_token))).toBe('ERR_TOKEN_INVALID');
  });
});

describe('events', () => {
  it('a throwing listener never fails a token operation', async () => {
    const { baton } = makeBaton({
      onEvent: () => {
        throw new Error('listener bug');
      },
    });
    const seen: string[] = [];
    const stop = baton.on('refresh.rotated', (e) => seen.push(e.type));
    const pair = await baton.login('u');
    await baton.refresh(pair.refresh_token);
    stop();
    await baton.refresh((await baton.login('u')).refresh_token);
    expect(seen).toEqual(['refresh.rotated']);
  });
});

describe('key ring sync (a rotation made by another instance)', () => {
  it('follows a saved copy, with the same defaults as the constructor, and keeps signing', async () => {
    const { KeyRing } = await import('baton-auth');
    const saved = [generateKey('EdDSA', 'a'), { ...generateKey('EdDSA', 'b'), status: 'next' as const }];
    const ring = new KeyRing(saved);
    expect(ring.sync(saved, Date.now())).toBe(false);
    expect(ring.active('sig')?.kid).toBe('a');
    const other = new KeyRing(saved);
    other.rotate('EdDSA', Date.now());
    expect(ring.sync(other.export(), Date.now())).toBe(true);
    expect(ring.active('sig')?.kid).toBe('b');
    expect(ring.get('a')?.status).toBe('retired');
    expect(ring.list()).toHaveLength(3);
  });
});

describe('onRevocation', () => {
  it('hears each revocation once, though the store echoes back the ones made here', async () => {
    const { baton } = makeBaton();
    const heard: string[] = [];
    baton.onRevocation((e) => heard.push(`${e.kind}:${e.id}`));
    const pair = await baton.login('u');
    await baton.revokeSession(pair.session_id, 'admin');
    await new Promise((r) => setTimeout(r, 50)); // the memory store's subscription delivers on a later tick
    expect(heard).toEqual([`session:${pair.session_id}`]);
  });
});

describe('steps of the clock (issue #21, finding 17)', () => {
  const HOUR = 3_600_000;

  it('a one-hour backward step: a retired refresh token is never a grace answer; nothing dies, the current token still refreshes, and reuse detection resumes', async () => {
    const { baton, clock, events } = makeBaton({ refreshGrace: '10s' });
    const stolen = await baton.login('u');
    const owner = await baton.refresh(stolen.refresh_token);
    clock.advance(11_000); // outside the grace window
    clock.ms -= HOUR; // the clock steps back: elapsed since the retirement is now negative
    for (let i = 0; i < 3; i++) {
      // Neither a fresh pair for the thief nor a dead session for the owner: refused for now.
      expect(await baton.refresh(stolen.refresh_token).catch((e: unknown) => e)).toMatchObject({ code: 'ERR_RATE_LIMITED', retryAfterMs: 1000 });
    }
    expect(events.filter((e) => e.type === 'refresh.grace' || e.type === 'refresh.reused')).toEqual([]);
    const next = await baton.refresh(owner.refresh_token);
    await baton.verify(next.access_token);
    expect(await codeOf(baton.refresh(stolen.refresh_token))).toBe('ERR_RATE_LIMITED'); // two behind, retired "in the future"
    const last = await baton.refresh(next.refresh_token);
    // Three behind: no record of its retirement vouches for it, whatever the clock: reuse.
    expect(await codeOf(baton.refresh(stolen.refresh_token))).toBe('ERR_REFRESH_REUSED');
    expect(await codeOf(baton.verify(last.access_token))).toBe('ERR_SESSION_REVOKED');
  });

  it('a forward-then-back step forgets no revocation, with a sweep and a prune run meanwhile: a logged-out access token stays refused', async () => {
    const { baton, clock } = makeBaton();
    const loggedOut = await baton.login('u');
    const denied = await baton.login('v');
    await baton.revoke(loggedOut.refresh_token); // the session
    await baton.revoke(denied.access_token); // one access token
    clock.advance(2 * HOUR); // past the revocations' lifetime (the access lifetime + leeway + 1 min)
    await baton.sweep();
    await baton.revoke((await baton.login('w')).refresh_token); // a revocation prunes the in-process view
    expect(await codeOf(baton.verify(loggedOut.access_token))).toBe('ERR_TOKEN_EXPIRED');
    clock.ms -= 2 * HOUR; // and back: the tokens have not expired
    expect(await codeOf(baton.verify(loggedOut.access_token))).toBe('ERR_SESSION_REVOKED');
    expect(await codeOf(baton.verify(denied.access_token))).toBe('ERR_TOKEN_REVOKED');
    expect(() => baton.verifySync(loggedOut.access_token)).toThrow(expect.objectContaining({ code: 'ERR_SESSION_REVOKED' }));
  });

  /** An engine on its default clock (no `now` option). */
  const onDefaultClock = (options: Partial<BatonOptions> = {}) => ({
    baton: createBaton({ issuer: ISSUER, keys: [generateKey('HS256', 'k')], refreshTokenSecret: randomBytes(32), store: memoryStore(), ...options }),
  });

  /** The engine's default clock over a wall clock this test steps (`Date.now`), as NTP would. */
  function defaultClock() {
    const real = Date.now.bind(Date);
    let offset = 0;
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => real() + offset);
    return { step: (ms: number) => (offset += ms), [Symbol.dispose]: () => spy.mockRestore() };
  }

  it('a forward step past the refresh lifetime logs nobody out with the default clock; access tokens stay valid', async () => {
    using wall = defaultClock();
    const { baton } = onDefaultClock({ refreshTokenTtl: '14d' });
    const pair = await baton.login('u');
    wall.step(15 * 24 * HOUR);
    await baton.verify(pair.access_token);
    const next = await baton.refresh(pair.refresh_token);
    wall.step(-15 * 24 * HOUR);
    await baton.verify(next.access_token);
    await baton.refresh(next.refresh_token);
    // An injected clock is the caller's: there, the step is taken as it comes.
    const injected = makeBaton({ refreshTokenTtl: '14d' });
    const other = await injected.baton.login('u');
    injected.clock.advance(15 * 24 * HOUR);
    expect(await codeOf(injected.baton.refresh(other.refresh_token))).toBe('ERR_SESSION_ENDED');
  });

  it('a backward step of an hour: access tokens stay valid with the default clock; across instances, a clock behind by more than the leeway refuses them as not yet valid', async () => {
    {
      using wall = defaultClock();
      const { baton } = onDefaultClock();
      const before = await baton.login('u');
      wall.step(-HOUR);
      await baton.verify(before.access_token);
      const after = await baton.login('u');
      await baton.verify(after.access_token);
      expect(baton.verifySync(before.access_token)?.sid).toBe(before.session_id);
    }
    // Two instances on one store, the second's clock behind: the leeway (5 s) is the tolerance.
    const keys = [generateKey('HS256', 'k')];
    const store = memoryStore();
    const issuer = makeBaton({ keys, store, refreshTokenSecret: 'x'.repeat(32) });
    const token = (await issuer.baton.login('u')).access_token;
    for (const [behindMs, expected] of [
      [5_000, 'resolved'],
      [6_000, 'ERR_TOKEN_NOT_YET_VALID'],
    ] as const) {
      const peer = makeBaton({ keys, store, refreshTokenSecret: 'x'.repeat(32) });
      peer.clock.ms = issuer.clock.ms - behindMs;
      expect(await codeOf(peer.baton.verify(token))).toBe(expected);
    }
  });
});
