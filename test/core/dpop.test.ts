/**
 * DPoP proofs (RFC 9449 §4.3) and server nonces (§8): every check of the proof, each refused on
 * its own with the rest of the proof correct, and nonces shared by instances through their secret.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { calculateJwkThumbprint, EmbeddedJWK, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { isBatonError } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { DpopVerifier } from '../../packages/baton-auth/src/dpop/proof.ts';
import type { DpopRequest } from '../../packages/baton-auth/src/dpop/proof.ts';
import { dpopProof } from '../support/dpop.ts';

const URL_ = 'https://auth.test/oauth/token';
const secret = randomBytes(32);

async function keyPair(alg: 'ES256' | 'EdDSA' | 'Ed25519' | 'RS256' | 'PS256' = 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, privateKey, jwk: await exportJWK(publicKey) };
}

type Key = Awaited<ReturnType<typeof keyPair>>;

/** A proof for POST URL_ (test/support/dpop.ts's); `claims` and `header` override. */
function proof(
  key: { alg: string; privateKey: CryptoKey; jwk: JWK },
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  return dpopProof(key, 'POST', URL_, { claims, header });
}

function verifier(now: () => number = Date.now, nonceSecret: Uint8Array = secret) {
  return new DpopVerifier({ nonceSecret, ledger: memoryStore(), now });
}

const POST: DpopRequest = { method: 'POST', url: URL_ };

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string; nonce: string | undefined }> {
  try {
    await p;
  } catch (err) {
    if (!isBatonError(err)) throw err;
    return { code: err.code, message: err.message, nonce: (err as { nonce?: string }).nonce };
  }
  throw new Error('expected a refusal');
}

describe('DPoP proofs (RFC 9449 §4.3)', () => {
  it.each(['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] as const)("a %s proof verifies to its key's RFC 7638 thumbprint, once", async (alg) => {
    const key = await keyPair(alg);
    const v = verifier();
    const p = await proof(key);
    expect((await v.verify(p, POST)).jkt).toBe(await calculateJwkThumbprint(key.jwk, 'sha256'));
    expect(await refusal(v.verify(p, POST))).toMatchObject({ code: 'ERR_DPOP_INVALID', message: 'the DPoP proof was already used' });
  });

  it('each check refuses on its own', async () => {
    const key = await keyPair();
    const other = await keyPair();
    // The verifier's clock held at the moment the proofs are made: an iat 301 s ahead is 301 s
    // ahead when it is checked, not 300.x once the second turned while the others were verified.
    const now = Date.now();
    const v = verifier(() => now);
    const token = 'at_access-token';
    const ath = (await import('node:crypto')).createHash('sha256').update(token).digest('base64url');
    const cases: [string, Promise<string>, DpopRequest, RegExp][] = [
      ['another method', proof(key, { htm: 'GET' }), POST, /htm/],
      ['another URL', proof(key, { htu: 'https://auth.test/oauth/revoke' }), POST, /htu/],
      ['another host', proof(key, { htu: 'https://evil.test/oauth/token' }), POST, /htu/],
      ['typ JWT', proof(key, {}, { typ: 'JWT' }), POST, /dpop\+jwt/],
      [
        'signed by another key than its jwk',
        new SignJWT({ jti: 'x', htm: 'POST', htu: URL_, iat: Math.floor(now / 1000) })
          .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
          .sign(other.privateKey),
        POST,
        /dpop\+jwt/,
      ],
      ['a private jwk', (async () => proof(key, {}, { jwk: await exportJWK(key.privateKey) }))(), POST, /./],
      ['no jti', proof(key, { jti: undefined }), POST, /jti/],
      ['an old iat', proof(key, { iat: Math.floor(now / 1000) - 301 }), POST, /iat/],
      ['a future iat', proof(key, { iat: Math.ceil(now / 1000) + 301 }), POST, /iat/],
      ['no ath with an access token', proof(key), { ...POST, accessToken: token }, /ath/],
      [
        'the ath of another token',
        proof(key, { ath: ath.replace(/^./, 'A') === ath ? ath.replace(/^./, 'B') : ath.replace(/^./, 'A') }),
        { ...POST, accessToken: token },
        /ath/,
      ],
      ['an ath without an access token', proof(key, { ath }), POST, /ath/],
    ];
    for (const [what, made, request, message] of cases) {
      expect(await refusal(v.verify(await made, request)), what).toMatchObject({ code: 'ERR_DPOP_INVALID', message: expect.stringMatching(message) });
    }
    // The control: the same key, the right ath, a query string (ignored, item 9) passes.
    expect((await v.verify(await proof(key, { ath, htu: `${URL_}?x=1#f` }), { ...POST, accessToken: token })).jkt).toBe(await calculateJwkThumbprint(key.jwk));
  });

  it('a header that names a member twice is refused, though JSON.parse would keep the last (a signed typ JWT then dpop+jwt)', async () => {
    const key = await keyPair();
    const b64 = (text: string) => Buffer.from(text).toString('base64url');
    const jwk = JSON.stringify(key.jwk);
    const sign = async (headerJson: string) => {
      const input = `${b64(headerJson)}.${b64(JSON.stringify({ jti: randomBytes(8).toString('hex'), htm: 'POST', htu: URL_, iat: Math.floor(Date.now() / 1000) }))}`;
      const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, new TextEncoder().encode(input));
      return `${input}.${Buffer.from(signature).toString('base64url')}`;
    };
    const v = verifier();
    expect(await refusal(v.verify(await sign(`{"typ":"JWT","alg":"ES256","jwk":${jwk},"typ":"dpop+jwt"}`), POST))).toMatchObject({
      code: 'ERR_DPOP_INVALID',
      message: expect.stringMatching(/duplicate/),
    });
    expect((await v.verify(await sign(`{"typ":"dpop+jwt","alg":"ES256","jwk":${jwk}}`), POST)).jkt).toBe(await calculateJwkThumbprint(key.jwk)); // the control
  });

  it('symmetric and unsigned proofs are refused (item 5)', async () => {
    const v = verifier();
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = b64({ jti: 'n', htm: 'POST', htu: URL_, iat: Math.floor(Date.now() / 1000) });
    const none = `${b64({ alg: 'none', typ: 'dpop+jwt', jwk: (await keyPair()).jwk })}.${claims}.`;
    const hs = await new SignJWT({ jti: 'h', htm: 'POST', htu: URL_, iat: Math.floor(Date.now() / 1000) })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'c2VjcmV0' } as never })
      .sign(new TextEncoder().encode('secret'));
    for (const p of [none, hs, '', 'a.b.c', `${none}, ${none}`]) expect((await refusal(v.verify(p, POST))).code).toBe('ERR_DPOP_INVALID');
    expect((await refusal(v.verify(undefined, POST))).message).toBe('the DPoP header is missing');
  });

  it('anything at all as the header is a DpopError, never a crash (property)', async () => {
    const v = verifier();
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}$/)), async (header) => {
        expect((await refusal(v.verify(header, POST))).code).toBe('ERR_DPOP_INVALID');
      }),
      { numRuns: 200 },
    );
  });
});

describe('what a proof may cost (issue #21)', () => {
  const b64 = (v: object | Buffer) => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString('base64url');
  const rsaProof = async (options: { modulusLength: number; publicExponent?: number }, alg: 'RS256' | 'PS256' = 'RS256') => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', options);
    const key = { alg, privateKey: (await importJWK(privateKey.export({ format: 'jwk' }), alg)) as CryptoKey, jwk: publicKey.export({ format: 'jwk' }) as JWK };
    return proof(key);
  };

  it('RSA keys: e = 65537 with a 2048- to 4096-bit modulus verify; another exponent or a longer modulus is refused with a sentence, even signed right', async () => {
    const v = verifier();
    expect((await v.verify(await rsaProof({ modulusLength: 2048 }), POST)).jkt).toMatch(/^[\w-]{43}$/);
    expect((await v.verify(await rsaProof({ modulusLength: 4096 }, 'PS256'), POST)).jkt).toMatch(/^[\w-]{43}$/);
    expect(await refusal(v.verify(await rsaProof({ modulusLength: 2048, publicExponent: 3 }), POST))).toMatchObject({
      code: 'ERR_DPOP_INVALID',
      message: "the proof's RSA jwk must have e AQAB (65537) and a modulus of 2048 to 4096 bits: its exponent is not 65537",
    });
    // A 3,070-bit exponent, an 8,192-bit modulus, a modulus with a leading zero octet: refused before anything is imported.
    const n = (bytes: number) => Buffer.concat([Buffer.from([0xff]), randomBytes(bytes - 2), Buffer.from([1])]);
    const forged = (jwk: object) =>
      `${b64({ alg: 'RS256', typ: 'dpop+jwt', jwk })}.${b64({ jti: 'j', htm: 'POST', htu: URL_, iat: Math.floor(Date.now() / 1000) })}.${b64(randomBytes(384))}`;
    expect(
      (await refusal(v.verify(forged({ kty: 'RSA', n: b64(n(384)), e: b64(Buffer.concat([Buffer.from([0x20]), randomBytes(382), Buffer.from([1])])) }), POST)))
        .message,
    ).toMatch(/exponent is not 65537/);
    expect((await refusal(v.verify(forged({ kty: 'RSA', n: b64(n(1024)), e: 'AQAB' }), POST))).message).toMatch(/its modulus has 8192 bits/);
    expect((await refusal(v.verify(forged({ kty: 'RSA', n: b64(n(192)), e: 'AQAB' }), POST))).message).toMatch(/its modulus has 1536 bits/);
    expect((await refusal(v.verify(forged({ kty: 'RSA', n: b64(Buffer.concat([Buffer.from([0]), n(256)])), e: 'AQAB' }), POST))).message).toMatch(
      /its modulus has 0 bits/,
    );
  });

  it('a proof wrong in any cheap way is refused for that and its signature is never checked (property)', async () => {
    const key = await keyPair();
    const v = verifier();
    const now = Math.floor(Date.now() / 1000);
    const defects: [Record<string, unknown>, DpopRequest, RegExp][] = [
      [{ htm: 'GET' }, POST, /htm/],
      [{ htu: 'https://auth.test/other' }, POST, /htu/],
      [{ jti: '' }, POST, /jti/],
      [{ jti: 'x'.repeat(257) }, POST, /jti/],
      [{ iat: 'now' }, POST, /iat/],
      [{ iat: now - 400 }, POST, /iat/], // well past the 5-minute window, however long the runs take
      [{ iat: now + 400 }, POST, /iat/],
      [{ ath: 'A'.repeat(43) }, POST, /ath/],
      [{}, { ...POST, accessToken: 'at_x' }, /ath/],
    ];
    await fc.assert(
      fc.asyncProperty(fc.nat(defects.length - 1), fc.uint8Array({ minLength: 64, maxLength: 64 }), async (i, signature) => {
        const [claims, request, message] = defects[i] as [Record<string, unknown>, DpopRequest, RegExp];
        const good = await proof(key, claims);
        const forged = `${good.slice(0, good.lastIndexOf('.'))}.${Buffer.from(signature).toString('base64url')}`;
        expect(await refusal(v.verify(forged, request))).toMatchObject({ code: 'ERR_DPOP_INVALID', message: expect.stringMatching(message) });
      }),
      { numRuns: 60 },
    );
    // A stale or missing nonce is answered before the signature too.
    const unsigned = await proof(key, { nonce: 'not-current' });
    expect((await refusal(v.verify(`${unsigned.slice(0, unsigned.lastIndexOf('.'))}.${'A'.repeat(86)}`, POST))).code).toBe('ERR_DPOP_NONCE');
  });

  it('check does not spend: the same proof checks again, and is refused once spent', async () => {
    const v = verifier();
    const p = await proof(await keyPair());
    const checked = v.check(p, POST);
    expect(v.check(p, POST)).toEqual(checked);
    await v.spend(checked);
    expect(await refusal(v.spend(v.check(p, POST)))).toMatchObject({ message: 'the DPoP proof was already used' });
  });
});

describe('server nonces (RFC 9449 §8)', () => {
  it('a missing, stale or foreign nonce is use_dpop_nonce with the one to use; the current and the previous pass', async () => {
    let now = Date.now();
    const v = verifier(() => now);
    const key: Key = await keyPair();
    const at = (ms: number) => ({ iat: Math.floor(ms / 1000) });
    const missing = await refusal(v.verify(await proof(key, at(now)), { ...POST, requireNonce: true }));
    expect(missing).toMatchObject({ code: 'ERR_DPOP_NONCE', nonce: v.nonce() });
    const current = v.nonce();
    expect((await v.verify(await proof(key, { ...at(now), nonce: current }), { ...POST, requireNonce: true })).jti).toBeTruthy();
    now += 300_000; // the next step: the previous nonce still passes
    expect(v.nonce()).not.toBe(current);
    await v.verify(await proof(key, { ...at(now), nonce: current }), { ...POST, requireNonce: true });
    now += 300_000; // two steps on: stale
    expect(await refusal(v.verify(await proof(key, { ...at(now), nonce: current }), POST))).toMatchObject({ code: 'ERR_DPOP_NONCE', nonce: v.nonce() });
    const foreign = verifier(() => now, randomBytes(32)).nonce();
    expect((await refusal(v.verify(await proof(key, { ...at(now), nonce: foreign }), POST))).code).toBe('ERR_DPOP_NONCE');
  });

  it('instances sharing the secret issue and accept the same nonces; the proof is spent on all through the shared ledger', async () => {
    const ledger = memoryStore();
    const a = new DpopVerifier({ nonceSecret: secret, ledger, now: Date.now });
    const b = new DpopVerifier({ nonceSecret: secret, ledger, now: Date.now });
    expect(a.nonce()).toBe(b.nonce());
    const p = await proof(await keyPair('EdDSA'), { nonce: a.nonce() });
    await b.verify(p, { ...POST, requireNonce: true });
    expect((await refusal(a.verify(p, POST))).message).toBe('the DPoP proof was already used');
  });
});

describe('the node:crypto verifier against jose', () => {
  it('never accepts a proof jose refuses: valid proofs of every algorithm pass both, and any one-character change, header swap or key change is refused by ours whenever by jose (property)', async () => {
    const keys = await Promise.all((['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] as const).map((alg) => keyPair(alg)));
    const other = await keyPair();
    const jose = (p: string) =>
      jwtVerify(p, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] }).then(
        () => true,
        () => false,
      );
    const ours = (p: string) =>
      verifier()
        .verify(p, POST)
        .then(
          () => true,
          () => false,
        );
    const valid = await Promise.all(keys.map((k) => proof(k)));
    for (const p of valid) expect([await jose(p), await ours(p)]).toEqual([true, true]);
    const otherHeader = (await proof(other)).split('.')[0] as string;
    await fc.assert(
      fc.asyncProperty(
        fc.nat(valid.length - 1),
        fc.nat(),
        fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'),
        fc.boolean(),
        async (which, at, char, swap) => {
          const original = valid[which] as string;
          const mutated = swap
            ? `${otherHeader}${original.slice(original.indexOf('.'))}`
            : `${original.slice(0, at % original.length)}${char}${original.slice((at % original.length) + 1)}`;
          if (mutated === original) return;
          if (await ours(mutated)) expect(await jose(mutated)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
