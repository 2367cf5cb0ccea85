/**
 * Laws of the token engine, checked with fast-check:
 * - verify(sign(x)) = x for every claims set and algorithm;
 * - the node:crypto fast path agrees with jose on random valid and mutated tokens;
 * - any input whatever is refused with a typed error, never a crash;
 * - a hit of the verified-token cache answers what an uncached verification answers, whichever way the clock moved;
 * - the rotation table serves a retired refresh token only for |elapsed| <= grace: never on a clock far behind its retirement;
 * - the two base64url checks are the same rule.
 */
import { createHmac, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { JwtVerifier, signJwt } from '../../packages/baton-auth/src/core/access-token.ts';
import type { AccessTokenClaims } from '../../packages/baton-auth/src/core/access-token.ts';
import { decodeBase64url, isCanonicalBase64url } from '../../packages/baton-auth/src/core/jws.ts';
import { BatonError, generateKey, isBatonError, KeyRing } from 'baton-auth';
import type { Baton, RingKey } from 'baton-auth';
import { RefreshTokenCodec } from '../../packages/baton-auth/src/core/refresh-token.ts';
import { decideRotation, GRACE_RETRY_MS } from '../../packages/baton-auth/src/core/rotation.ts';
import { request, sampleSession } from '../../packages/baton-auth/src/stores/conformance/support.ts';
import { makeBaton } from '../support/baton.ts';
import { ManualClock } from '../support/clock.ts';

const ISSUER = 'https://auth.test';
const NOW = Date.UTC(2026, 10, 22, 12);
const NOW_S = Math.floor(NOW / 1000);
const policy = { issuer: ISSUER, audience: ISSUER, leewaySec: 5 };

const text = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' });
const claimsArb: fc.Arbitrary<AccessTokenClaims> = fc.record(
  {
    iss: fc.constant(ISSUER),
    sub: text,
    aud: fc.oneof(
      fc.constant(ISSUER),
      fc.array(text, { maxLength: 3 }).map((a) => [...a, ISSUER]),
    ),
    exp: fc.integer({ min: NOW_S + 1, max: NOW_S + 86_400 }),
    iat: fc.integer({ min: NOW_S - 3600, max: NOW_S }),
    jti: text,
    sid: text,
    client_id: fc.string({ maxLength: 20 }),
    scope: fc.string({ maxLength: 60 }),
  },
  { requiredKeys: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'sid', 'client_id'] },
);

/** `undefined` four times in five, else a value of `arb`. */
const rarely = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

const rings = {
  HS256: new KeyRing([generateKey('HS256', 'k')]),
  ES256: new KeyRing([generateKey('ES256', 'k')]),
  EdDSA: new KeyRing([generateKey('EdDSA', 'k')]),
  RS256: new KeyRing([generateKey('RS256', 'k')]),
  PS256: new KeyRing([generateKey('PS256', 'k')]),
};

describe('laws of access tokens', () => {
  it('verify(sign(x)) = x, for every algorithm', () => {
    fc.assert(
      fc.property(fc.constantFrom('HS256', 'ES256', 'EdDSA', 'RS256', 'PS256' as const), claimsArb, (alg, claims) => {
        const ring = rings[alg];
        const token = signJwt(claims, ring.active('sig') as never);
        expect(new JwtVerifier(ring).verify(token, policy, NOW)).toEqual(claims);
      }),
      { numRuns: 150 },
    );
  });

  it('agrees with jose on random valid and mutated tokens (differential)', async () => {
    const secret = randomBytes(32);
    const ring = new KeyRing([{ kid: 'k', alg: 'HS256', secret }]);
    const verifier = new JwtVerifier(ring);
    const key = ring.get('k')?.verifyKey;
    const b64 = (s: string): string => Buffer.from(s).toString('base64url');
    const mac = (input: string): string => createHmac('sha256', secret).update(input).digest('base64url');

    // Mutations an attacker (or a bug) could produce: claims out of range, headers bent, bytes flipped.
    const tokenArb = fc.record({
      claims: claimsArb,
      exp: rarely(fc.integer({ min: NOW_S - 100, max: NOW_S + 100 })),
      nbf: rarely(fc.integer({ min: NOW_S - 100, max: NOW_S + 100 })),
      iss: rarely(fc.constantFrom('https://evil.test', '', ISSUER + '/')),
      header: fc.constantFrom(
        { alg: 'HS256', typ: 'at+jwt', kid: 'k' },
        { alg: 'HS256', typ: 'at+jwt', kid: 'k' },
        { alg: 'HS256', typ: 'at+jwt', kid: 'k' },
        { alg: 'HS256', typ: 'application/at+jwt', kid: 'k' },
        { alg: 'HS256', typ: 'JWT', kid: 'k' },
        { alg: 'HS384', typ: 'at+jwt', kid: 'k' },
        { alg: 'none', typ: 'at+jwt', kid: 'k' },
        { alg: 'HS256', typ: 'at+jwt', kid: 'k', crit: ['x'], x: 1 },
        { alg: 'HS256', typ: 'at+jwt', kid: 'k', b64: false, crit: ['b64'] },
      ),
      flip: rarely(fc.nat()),
    });
    const outcomes = { 'ok/ok': 0, 'refused/refused': 0, 'refused/ok': 0, 'ok/refused': 0 };
    await fc.assert(
      fc.asyncProperty(tokenArb, async ({ claims, exp, nbf, iss, header, flip }) => {
        const c: Record<string, unknown> = { ...claims };
        if (exp !== undefined) c.exp = exp;
        if (nbf !== undefined) c.nbf = nbf;
        if (iss !== undefined) c.iss = iss;
        const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(c))}`;
        let token = `${input}.${mac(input)}`;
        if (flip !== undefined) {
          const i = flip % token.length;
          const ch = token[i] === 'A' ? 'B' : token[i] === '.' ? '.' : 'A';
          token = token.slice(0, i) + ch + token.slice(i + 1);
        }
        let ours: string;
        try {
          verifier.verify(token, policy, NOW);
          ours = 'ok';
        } catch (err) {
          expect(err).toBeInstanceOf(BatonError);
          ours = (err as BatonError).code;
        }
        let theirs: string;
        try {
          await jwtVerify(token, key as never, {
            algorithms: ['HS256'],
            typ: 'at+jwt',
            issuer: ISSUER,
            audience: ISSUER,
            clockTolerance: 5,
            currentDate: new Date(NOW),
            requiredClaims: ['exp', 'iat', 'sub', 'jti'],
          });
          theirs = 'ok';
        } catch (err) {
          theirs = (err as { code: string }).code === 'ERR_JWT_EXPIRED' ? 'ERR_TOKEN_EXPIRED' : 'refused';
        }
        // Baton is stricter on purpose (a future iat, a missing sid); it never accepts what jose refuses.
        if (ours === 'ok') expect(theirs).toBe('ok');
        if (theirs === 'ok' && ours !== 'ok') {
          expect(['ERR_TOKEN_NOT_YET_VALID', 'ERR_TOKEN_INVALID']).toContain(ours);
          expect(flip, 'only a flipped byte may separate them (jose decodes base64url leniently)').toBeDefined();
        }
        outcomes[`${ours === 'ok' ? 'ok' : 'refused'}/${theirs === 'ok' ? 'ok' : 'refused'}`] += 1;
        if (theirs === 'ERR_TOKEN_EXPIRED' && ours !== 'ERR_TOKEN_INVALID') expect(ours).toBe('ERR_TOKEN_EXPIRED');
      }),
      { numRuns: 400 },
    );
    expect(outcomes['ok/ok']).toBeGreaterThan(20);
    expect(outcomes['refused/refused']).toBeGreaterThan(100);
    expect(outcomes['ok/refused']).toBe(0);
  });

  it('RS256 and PS256 agree with jose both ways, mutated tokens and swapped algorithms included (differential)', async () => {
    for (const alg of ['RS256', 'PS256'] as const) {
      const ring = rings[alg];
      const key = ring.get('k') as RingKey;
      const other = alg === 'RS256' ? 'PS256' : 'RS256';
      const verifier = new JwtVerifier(ring);
      const options = { algorithms: [alg], typ: 'at+jwt', issuer: ISSUER, audience: ISSUER, clockTolerance: 5, currentDate: new Date(NOW) };
      await fc.assert(
        fc.asyncProperty(claimsArb, rarely(fc.nat()), fc.boolean(), async (claims, flip, swapAlg) => {
          // Ours, verified by jose.
          const mine = signJwt(claims, key);
          expect((await jwtVerify(mine, key.verifyKey, options)).payload).toEqual(claims);
          // Jose's, verified by ours, then bent: a flipped byte, or the other RSA algorithm's signature under this header.
          let theirs = await new SignJWT(claims as never)
            .setProtectedHeader({ alg: swapAlg ? other : alg, typ: 'at+jwt', kid: 'k' })
            .sign(key.signKey as never);
          if (flip !== undefined) {
            const i = flip % theirs.length;
            theirs = theirs.slice(0, i) + (theirs[i] === 'A' ? 'B' : theirs[i] === '.' ? '.' : 'A') + theirs.slice(i + 1);
          }
          let ours: string;
          try {
            expect(verifier.verify(theirs, policy, NOW)).toEqual(claims);
            ours = 'ok';
          } catch (err) {
            expect(err).toBeInstanceOf(BatonError);
            ours = 'refused';
          }
          const jose = await jwtVerify(theirs, key.verifyKey, options).then(
            () => 'ok',
            () => 'refused',
          );
          if (ours === 'ok') expect(jose).toBe('ok'); // never accepts what jose refuses
          if (swapAlg) expect(ours).toBe('refused'); // the algorithm is pinned to the key (RFC 8725 §3.1)
          if (flip === undefined && !swapAlg) expect(ours).toBe('ok');
        }),
        { numRuns: 40 },
      );
    }
  });

  it('refuses any string or value with a typed error, and never throws anything else', async () => {
    const { baton } = makeBaton();
    const valid = (await baton.login('u')).access_token;
    const arb = fc.oneof(
      fc.string({ maxLength: 600 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.array(fc.constantFrom(...'eyJ.AZaz09-_=+/ \u0000é'.split('')), { maxLength: 400 }).map((a) => a.join('')),
      fc.nat({ max: valid.length - 1 }).chain((i) => fc.string({ maxLength: 3 }).map((s) => valid.slice(0, i) + s + valid.slice(i + 1))),
      fc.anything(),
    );
    await fc.assert(
      fc.asyncProperty(arb, async (input) => {
        if (input === valid) return;
        for (const call of [() => baton.verify(input as string), () => baton.verify(input as string, { oneTime: true })]) {
          const err = await call().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(isBatonError(err), String(err)).toBe(true);
        }
        expect(await baton.introspect(input as string)).toEqual({ active: false });
        await expect(baton.refresh(input as string)).rejects.toMatchObject({ code: 'ERR_REFRESH_INVALID' });
        await baton.revoke(input as string);
      }),
      { numRuns: 400 },
    );
    await baton.verify(valid);
  });

  it('a hit of the verified-token cache answers what a verification without the cache answers', async () => {
    // Two engines on one clock and the same key, one with the cache (the default) and one without.
    const clock = new ManualClock(NOW);
    const keys = [generateKey('HS256', 'k')];
    const { baton: cached } = makeBaton({ keys, clock, leeway: 5 });
    const { baton: uncached } = makeBaton({ keys, clock, leeway: 5, verifyCache: false });
    await Promise.all([cached.ready(), uncached.ready()]);
    const key = new KeyRing(keys).active('sig') as RingKey;
    const outcome = (baton: Baton, token: string): { claims: unknown } | { code: string } => {
      try {
        return { claims: baton.verifyLocal(token) };
      } catch (err) {
        return { code: (err as BatonError).code };
      }
    };
    // Times near the token's edges: exp, nbf and iat within a few minutes of the first verification.
    const arb = fc.record({
      claims: claimsArb,
      exp: fc.integer({ min: NOW_S - 20, max: NOW_S + 300 }),
      iat: fc.integer({ min: NOW_S - 600, max: NOW_S + 20 }),
      nbf: rarely(fc.integer({ min: NOW_S - 60, max: NOW_S + 150 })),
      firstMs: fc.integer({ min: -100_000, max: 100_000 }),
      // The second call: some time later, or earlier (an injected clock that stepped back), or
      // within two seconds of the end of exp + leeway (often its last and first millisecond).
      later: fc.oneof(
        fc.record({ ms: fc.integer({ min: -300_000, max: 300_000 }) }),
        fc.record({ nearEnd: fc.oneof(fc.integer({ min: -2000, max: 2000 }), fc.constantFrom(-1, 0)) }),
      ),
    });
    const seen = { hits: 0, expiredHits: 0, notYetHits: 0 };
    fc.assert(
      fc.property(arb, ({ claims, exp, iat, nbf, firstMs, later }) => {
        const token = signJwt({ ...claims, exp, iat, ...(nbf === undefined ? {} : { nbf }) }, key);
        clock.ms = NOW + firstMs;
        const first = outcome(cached, token); // a valid token goes into the cache
        // Either way: a hit answers for the clock as it is now, not as it was when cached.
        clock.ms = 'ms' in later ? clock.ms + later.ms : (exp + 5) * 1000 + later.nearEnd;
        const fromCache = outcome(cached, token);
        expect(fromCache).toEqual(outcome(uncached, token));
        if ('claims' in first) {
          seen.hits++;
          if ('code' in fromCache && fromCache.code === 'ERR_TOKEN_EXPIRED') seen.expiredHits++;
          if ('code' in fromCache && fromCache.code === 'ERR_TOKEN_NOT_YET_VALID') seen.notYetHits++;
        }
      }),
      { numRuns: 400 },
    );
    // The property went through the cache, including entries that ran out between two calls.
    expect(seen.hits).toBeGreaterThan(100);
    expect(seen.expiredHits).toBeGreaterThan(20);
    expect(seen.notYetHits).toBeGreaterThan(5);
  });
});

describe('laws of encodings and refresh tokens', () => {
  it('decodeBase64url accepts exactly the canonical base64url strings', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const arb = fc.oneof(
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('base64url')),
      fc.array(fc.constantFrom(...`${alphabet}+/= ?.é\u0000`.split('')), { maxLength: 12 }).map((a) => a.join('')),
    );
    fc.assert(
      fc.property(arb, (s) => {
        let decoded = true;
        try {
          decodeBase64url(s, 's');
        } catch {
          decoded = false;
        }
        expect(decoded).toBe(isCanonicalBase64url(s) || s === '');
      }),
      { numRuns: 2000 },
    );
  });

  it("a refresh token parses back to its session and generation, and any change breaks it; a bound one only with its key's thumbprint", () => {
    const [current, previous, other] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const ring = (...secrets: Buffer[]) =>
      new KeyRing([
        generateKey('HS256', 'sig'),
        ...secrets.map((s, i) => ({
          kid: `r${i}`,
          alg: 'HS256' as const,
          use: 'refresh' as const,
          status: i === 0 ? ('active' as const) : ('retired' as const),
          secret: s,
        })),
      ]);
    const codec = new RefreshTokenCodec(ring(current, previous));
    const before = new RefreshTokenCodec(ring(previous));
    const old = new RefreshTokenCodec(ring(other));
    const thumbprint = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64url'));
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.nat({ max: 2 ** 40 }),
        fc.nat(),
        fc.option(thumbprint, { nil: undefined }),
        thumbprint,
        (sid, gen, at, jkt, otherJkt) => {
          const sessionId = Buffer.from(sid).toString('base64url');
          const bound = jkt !== undefined;
          const token = codec.mint(sessionId, gen, jkt);
          expect(token.startsWith(bound ? 'rtd_' : 'rt_')).toBe(true);
          expect(codec.parse(token, 0, jkt)).toEqual({ sessionId, generation: gen, bound });
          expect(codec.parse(before.mint(sessionId, gen, jkt), 0, jkt)).toEqual({ sessionId, generation: gen, bound }); // a former secret still verifies
          expect(old.parse(token, 0, jkt)).toBeUndefined();
          if (bound) {
            expect(codec.parse(token, 0)).toBeUndefined(); // no proof
            if (otherJkt !== jkt) expect(codec.parse(token, 0, otherJkt)).toBeUndefined(); // another key's proof
            expect(codec.parse(token.replace(/^rtd_/, 'rt_'), 0, jkt)).toBeUndefined(); // relabelled as unbound
          } else {
            expect(codec.parse(token, 0, otherJkt)).toEqual({ sessionId, generation: gen, bound: false }); // a proof does not matter
            expect(codec.parse(token.replace(/^rt_/, 'rtd_'), 0, otherJkt)).toBeUndefined(); // relabelled as bound
          }
          const i = at % token.length;
          const changed = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
          if (changed !== token) expect(codec.parse(changed, 0, jkt)).toBeUndefined();
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('laws of the rotation table', () => {
  it("a retired generation gets the current pair only when |now - retiredAt| <= grace; earlier (a clock behind the record's) it is refused for now with nothing changed", () => {
    const base = Date.UTC(2026, 10, 22, 12);
    let before = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 120_000 }),
        fc.integer({ min: 0, max: 120_000 }),
        fc.integer({ min: -2 * 3_600_000, max: 60_000 }),
        fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
        fc.integer({ min: 0, max: 4 }),
        (generation, behind, sincePrev, sinceRotated, offset, graceLimit, graceCount) => {
          const prevRotatedAt = base - sinceRotated - sincePrev;
          const session = sampleSession(prevRotatedAt - 1000, { generation, prevRotatedAt, rotatedAt: base - sinceRotated, graceCount });
          const presented = Math.max(0, generation - behind);
          const now = base + offset;
          const decision = decideRotation(session, request(session, presented, now, graceLimit === undefined ? {} : { graceLimit }));
          const retiredAt = presented === generation - 1 ? session.rotatedAt : presented === generation - 2 ? session.prevRotatedAt : Number.NEGATIVE_INFINITY;
          const elapsed = now - retiredAt;
          if (presented === generation) {
            expect(decision.status).toMatch(/^(rotated|rate_limited)$/);
            return;
          }
          if (decision.status === 'replayed_in_grace') expect(Math.abs(elapsed)).toBeLessThanOrEqual(10_000);
          if (decision.status === 'reused') expect(elapsed).toBeGreaterThan(10_000);
          if (elapsed < -10_000) {
            before++;
            expect(decision).toEqual({ status: 'rate_limited', session, retryAfterMs: GRACE_RETRY_MS });
          }
        },
      ),
      { numRuns: 2000 },
    );
    expect(before).toBeGreaterThan(200); // the property went through clocks behind the record
  });
});
