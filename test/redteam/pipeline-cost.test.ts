/**
 * Red team of the verification pipeline's costs (`core/pipeline.ts`) for junk an unauthenticated
 * caller sends the engine and `remoteIssuer`: requests to the issuer per junk token (discovery,
 * JWKS, introspection), the verified-token cache pushed by refused tokens, and a hostile DPoP
 * proof beside a token that is refused anyway. A test fails if the attack works.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { remoteIssuer } from 'baton-auth/remote';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import { API, b64, decision, sec, setup, sign, verifiers, verifyWith } from './pipeline-harness.ts';

const h = setup();
const N = 2000;
const total = (path: string): number => h.asked.get(path) ?? 0;

describe('requests to the issuer per junk token', () => {
  it('an over-long token costs no request at all (no introspection, no JWKS), whatever its shape', async () => {
    const before = new Map(h.asked);
    for (const token of ['x'.repeat(16_385), `${'a'.repeat(8000)}.${'b'.repeat(8000)}.${'c'.repeat(400)}`, `at_${'z'.repeat(20_000)}`])
      for (let i = 0; i < N / 4; i++) for (const v of verifiers) expect(await decision(verifyWith(h, v, token))).toBe('ERR_TOKEN_INVALID');
    expect(h.asked).toEqual(before);
  });

  it('the same junk opaque token again and again: one introspection; a junk JWS under unknown kids: at most one JWKS fetch a cooldown', async () => {
    const introspections = total('/oauth/introspect');
    const junk = `at_${randomBytes(32).toString('base64url').slice(0, 43)}`;
    for (let i = 0; i < N; i++) expect(await decision(h.rs.verify(junk))).toBe('ERR_TOKEN_INVALID');
    expect(total('/oauth/introspect') - introspections).toBe(1);
    // Distinct junk: one introspection each (the issuer decides what is active), never more, by Bearer or under DPoP.
    const before = total('/oauth/introspect');
    for (let i = 0; i < N / 4; i++) {
      const other = `at_${randomBytes(32).toString('base64url').slice(0, 43)}`;
      const dpop = { audience: API, dpop: { proof: 'x', method: 'GET', url: 'https://api.test/x' } };
      expect(await decision(i % 2 === 0 ? h.rs.verify(other) : h.rs.verify(other, dpop))).toBe('ERR_TOKEN_INVALID');
      expect(h.rs.verifySync?.(other, { audience: API })).toBeUndefined();
    }
    expect(total('/oauth/introspect') - before).toBe(N / 4);
    const jwks = [...h.asked].filter(([p]) => p.includes('jwks')).reduce((n, [, c]) => n + c, 0);
    const header = (kid: string) => b64({ alg: 'ES256', typ: 'at+jwt', kid });
    for (let i = 0; i < N; i++) {
      const token = `${header(`kid-${i}`)}.${b64({ iss: 'https://auth.test', aud: API, exp: sec() + 60 })}.${randomBytes(64).toString('base64url')}`;
      expect(await decision(h.rs.verify(token))).toBe('ERR_TOKEN_INVALID');
    }
    const after = [...h.asked].filter(([p]) => p.includes('jwks')).reduce((n, [, c]) => n + c, 0);
    expect(jwks).toBeGreaterThan(0); // the path counted is the key set's
    expect(after - jwks).toBeLessThanOrEqual(1);
  });
});

describe('the verified-token cache under refused tokens', () => {
  it('2,000 refused tokens (forged signatures, other audiences) leave a cached token a cache hit in both verifiers', async () => {
    const good = await sign();
    for (const v of verifiers) expect(await decision(verifyWith(h, v, good))).toBe('accepted');
    const hits = h.baton.stats().verify.cacheHits;
    for (let i = 0; i < N / 2; i++) {
      const forged = (await sign()).replace(/\.[^.]+$/, `.${randomBytes(64).toString('base64url')}`);
      for (const v of verifiers) expect(await decision(verifyWith(h, v, forged))).toBe('ERR_TOKEN_INVALID');
    }
    const otherAudience = await sign({ aud: 'https://other.test' });
    for (let i = 0; i < N / 2; i++) for (const v of verifiers) expect(await decision(verifyWith(h, v, otherAudience))).toBe('ERR_TOKEN_INVALID');
    expect(h.rs.verifySync?.(good, { audience: API })?.jti).toBeDefined(); // still in remoteIssuer's cache
    expect(h.baton.verifySync(good, { audience: API })?.jti).toBeDefined();
    expect(h.baton.stats().verify.cacheHits).toBeGreaterThan(hits); // from the engine's cache
  });
});

describe('a hostile DPoP proof beside a token refused anyway', () => {
  it('is never looked at: the token is refused for itself (its signature, its key binding) before any proof check', async () => {
    const rsa = await dpopKey('RS256', { modulusLength: 4096 });
    const victim = await dpopKey();
    const forged = (await sign({ cnf: { jkt: rsa.jkt } })).replace(/\.[^.]+$/, `.${randomBytes(64).toString('base64url')}`);
    const stolen = await sign({ cnf: { jkt: victim.jkt } });
    for (const v of verifiers) {
      const proofFor = async (token: string) => ({
        audience: API,
        dpop: { proof: await dpopProof(rsa, 'GET', 'https://api.test/x', { accessToken: token }), method: 'GET', url: 'https://api.test/x' },
      });
      expect({ v, d: await decision(verifyWith(h, v, forged, await proofFor(forged))) }).toEqual({ v, d: 'ERR_TOKEN_INVALID' });
      expect({ v, d: await decision(verifyWith(h, v, stolen, await proofFor(stolen))) }).toEqual({ v, d: 'ERR_DPOP_INVALID' });
    }
  });
});

describe('junk before the issuer is known', () => {
  it('an over-long or non-string token is refused for itself, before any discovery: no request, not a 503 while the issuer is away', async () => {
    let requests = 0;
    const away = remoteIssuer({
      issuer: 'https://away.test',
      audience: API,
      fetch: () => {
        requests++;
        return Promise.reject(new TypeError('fetch failed'));
      },
    });
    try {
      for (const token of ['x'.repeat(16_385), `at_${'z'.repeat(20_000)}`, 42 as unknown as string, null as unknown as string])
        for (let i = 0; i < 50; i++) expect(await decision(away.verify(token, { audience: API }))).toBe('ERR_TOKEN_INVALID');
      expect(requests).toBe(0);
      expect(await decision(away.verify('at_short', { audience: API }))).toBe('ERR_STORE_UNAVAILABLE'); // a token worth asking about: the issuer is away
      expect(requests).toBeGreaterThan(0);
    } finally {
      away.close();
    }
  });
});
