/**
 * Red team of the single verification pipeline (`core/pipeline.ts`): each attempt against the
 * engine (`baton.verify`) and `remoteIssuer` (the same issuer's JWKS, feed and introspection,
 * reached in process through its `fetch` option), each decided twice so that the second answer
 * comes through the verified-token cache where the first was accepted. A test fails if the attack
 * works. Clocks are injected (one for both verifiers) so that time attacks are exact.
 */
import { createPublicKey, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { API, b64, clock, decision, ISSUER, key, publicOf, sec, setup, sign, stranger, verifiers, verifyWith } from './pipeline-harness.ts';

const h = setup();

describe('forgery, algorithm confusion, kid tricks: refused by both, again after a valid token was cached', () => {
  it('a signature by another key under the issuer kid, a tampered payload keeping a cached signature, alg none and HS256 over the public key', async () => {
    const valid = await sign();
    for (const v of verifiers) expect(await decision(verifyWith(h, v, valid))).toBe('accepted'); // now in both caches
    const [head, , s] = valid.split('.');
    const pub = publicOf(key);
    const pem = createPublicKey({ key: pub as never, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const hmac = await new SignJWT({ iss: ISSUER, aud: API, sub: 'ada', client_id: 'app', iat: sec(), exp: sec() + 300, jti: randomUUID() })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: key.kid })
      .sign(new TextEncoder().encode(JSON.stringify(pub)));
    const hmacPem = await new SignJWT({ iss: ISSUER, aud: API, sub: 'app', client_id: 'app', iat: sec(), exp: sec() + 300, jti: randomUUID() })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: key.kid })
      .sign(new TextEncoder().encode(pem));
    const attempts = {
      strangerUnderOurKid: await sign({}, { kid: key.kid }, stranger),
      // The cache is keyed by the last segment: a payload swapped under a cached signature must not hit.
      swappedPayload: `${head}.${b64({ iss: ISSUER, aud: API, sub: 'admin', client_id: 'app', iat: sec(), exp: sec() + 300, jti: randomUUID() })}.${s}`,
      algNone: `${b64({ alg: 'none', typ: 'at+jwt', kid: key.kid })}.${b64({ iss: ISSUER, aud: API, sub: 'admin', iat: sec(), exp: sec() + 300, jti: 'x', client_id: 'app' })}.`,
      hs256OverPublicKey: hmac,
      hs256OverPem: hmacPem,
      unknownKid: await sign({}, { kid: 'nope' }),
      kidTraversal: await sign({}, { kid: '../../es' }),
      kidNotAString: await sign({}, { kid: 7 }),
      jku: await sign({}, { jku: 'https://evil.test/jwks' }, stranger),
      embeddedJwk: await sign({}, { jwk: publicOf(stranger), kid: undefined }, stranger),
      otherIssuer: await sign({ iss: 'https://evil.test' }),
      typJwt: await sign({}, { typ: 'JWT' }),
      noTyp: await sign({}, { typ: undefined }),
    };
    for (const [name, token] of Object.entries(attempts)) {
      for (const v of verifiers) {
        for (let round = 0; round < 2; round++)
          expect({ name, v, round, d: await decision(verifyWith(h, v, token)) }).toEqual({ name, v, round, d: 'ERR_TOKEN_INVALID' });
        // Never claims without a signature check: the engine refuses at once, remoteIssuer (asynchronous keys) says it cannot tell.
        if (v === 'engine') expect(() => h.baton.verifySync(token, { audience: API })).toThrow();
        else expect(h.rs.verifySync?.(token, { audience: API })).toBeUndefined();
      }
    }
  });

  it('a token missing a claim RFC 9068 §2.2 requires (exp, sub, jti, aud; client_id for remoteIssuer) is refused', async () => {
    for (const claim of ['exp', 'sub', 'jti', 'aud', 'iat']) {
      const token = await sign({ [claim]: undefined });
      for (const v of verifiers)
        expect({ claim, v, d: await decision(verifyWith(h, v, token)) }).toEqual({ claim, v, d: expect.stringMatching(/^ERR_TOKEN_/) });
    }
  });
});

describe('audience: checked per call, from the cache too', () => {
  it('a token for an audience list verifies for each audience it names and for no other, cached or not, async or sync', async () => {
    const token = await sign({ aud: ['https://other.test', API] });
    for (const v of verifiers) {
      for (let round = 0; round < 2; round++) {
        expect(await decision(verifyWith(h, v, token, { audience: API }))).toBe('accepted');
        expect(await decision(verifyWith(h, v, token, { audience: 'https://other.test' }))).toBe('accepted');
        expect(await decision(verifyWith(h, v, token, { audience: 'https://third.test' }))).toBe('ERR_TOKEN_INVALID');
        expect(await decision(verifyWith(h, v, token, { audience: '' }))).toBe('ERR_TOKEN_INVALID');
        // An audience list where a string is expected (a JavaScript caller) names nothing.
        expect(await decision(verifyWith(h, v, token, { audience: [API] as unknown as string }))).toBe('ERR_TOKEN_INVALID');
      }
    }
    // With the default audience (the engine's is its issuer; remoteIssuer's, API).
    expect(await decision(h.baton.verify(token))).toBe('ERR_TOKEN_INVALID');
    expect(await decision(h.rs.verify(token))).toBe('accepted');
  });

  it('an aud that only looks like a list (an object, a comma-joined string, a prefix) names nothing', async () => {
    for (const aud of [{ 0: API, length: 1 }, `https://other.test,${API}`, `${API}/`, `${API}.evil`, [[API]]]) {
      const token = await sign({ aud });
      for (const v of verifiers) expect({ aud, v, d: await decision(verifyWith(h, v, token)) }).toEqual({ aud, v, d: 'ERR_TOKEN_INVALID' });
    }
  });
});

describe('time: expiry, not-before and issued-at, from the cache too and after the clock went back', () => {
  it('a cached token is refused once past its exp and the leeway', async () => {
    const token = await sign({ exp: sec() + 20 });
    for (const v of verifiers) expect(await decision(verifyWith(h, v, token))).toBe('accepted');
    clock.t += 26_000;
    try {
      for (const v of verifiers) expect({ v, d: await decision(verifyWith(h, v, token)) }).toEqual({ v, d: 'ERR_TOKEN_EXPIRED' });
    } finally {
      clock.t -= 26_000;
    }
  });

  it('a token not yet valid (nbf, or iat, in the future past the leeway) is refused by both with ERR_TOKEN_NOT_YET_VALID', async () => {
    for (const claims of [{ nbf: sec() + 60 }, { iat: sec() + 60, exp: sec() + 400 }, { iat: sec() + 86_400 * 365, exp: sec() + 86_400 * 365 + 300 }]) {
      const token = await sign(claims);
      for (const v of verifiers) expect({ claims, v, d: await decision(verifyWith(h, v, token)) }).toEqual({ claims, v, d: 'ERR_TOKEN_NOT_YET_VALID' });
    }
  });

  it('a token cached, then the clock back before its nbf and iat: refused by both, as without the cache', async () => {
    const token = await sign({ iat: sec(), nbf: sec() });
    for (const v of verifiers) expect(await decision(verifyWith(h, v, token))).toBe('accepted');
    clock.t -= 3_600_000;
    try {
      for (const v of verifiers) expect({ v, d: await decision(verifyWith(h, v, token)) }).toEqual({ v, d: 'ERR_TOKEN_NOT_YET_VALID' });
      expect(() => h.rs.verifySync?.(token, { audience: API })).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_NOT_YET_VALID' }));
    } finally {
      clock.t += 3_600_000;
    }
  });
});
