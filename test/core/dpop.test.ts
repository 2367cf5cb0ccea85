/**
 * DPoP proofs (RFC 9449 §4.3) and server nonces (§8): every check of the proof, each refused on
 * its own with the rest of the proof correct, and nonces shared by instances through their secret.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { calculateJwkThumbprint, EmbeddedJWK, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { isBatonError } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { DpopVerifier } from '../../packages/baton-auth/src/core/dpop.ts';
import type { DpopRequest } from '../../packages/baton-auth/src/core/dpop.ts';

const URL_ = 'https://auth.test/oauth/token';
const secret = randomBytes(32);

async function keyPair(alg: 'ES256' | 'EdDSA' | 'Ed25519' | 'RS256' | 'PS256' = 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, privateKey, jwk: await exportJWK(publicKey) };
}

type Key = Awaited<ReturnType<typeof keyPair>>;

function proof(key: { alg: string; privateKey: CryptoKey; jwk: JWK }, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ jti: randomBytes(12).toString('base64url'), htm: 'POST', htu: URL_, iat: Math.floor(Date.now() / 1000), ...claims })
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk, ...header })
    .sign(key.privateKey);
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
  it.each(['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] as const)('a %s proof verifies to its key\'s RFC 7638 thumbprint, once', async (alg) => {
    const key = await keyPair(alg);
    const v = verifier();
    const p = await proof(key);
    expect((await v.verify(p, POST)).jkt).toBe(await calculateJwkThumbprint(key.jwk, 'sha256'));
    expect(await refusal(v.verify(p, POST))).toMatchObject({ code: 'ERR_DPOP_INVALID', message: 'the DPoP proof was already used' });
  });

  it('each check refuses on its own', async () => {
    const key = await keyPair();
    const other = await keyPair();
    const v = verifier();
    const token = 'at_access-token';
    const ath = (await import('node:crypto')).createHash('sha256').update(token).digest('base64url');
    const cases: [string, Promise<string>, DpopRequest, RegExp][] = [
      ['another method', proof(key, { htm: 'GET' }), POST, /htm/],
      ['another URL', proof(key, { htu: 'https://auth.test/oauth/revoke' }), POST, /htu/],
      ['another host', proof(key, { htu: 'https://evil.test/oauth/token' }), POST, /htu/],
      ['typ JWT', proof(key, {}, { typ: 'JWT' }), POST, /dpop\+jwt/],
      ['signed by another key than its jwk', new SignJWT({ jti: 'x', htm: 'POST', htu: URL_, iat: Math.floor(Date.now() / 1000) }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk }).sign(other.privateKey), POST, /dpop\+jwt/],
      ['a private jwk', (async () => proof(key, {}, { jwk: await exportJWK(key.privateKey) }))(), POST, /./],
      ['no jti', proof(key, { jti: undefined }), POST, /jti/],
      ['an old iat', proof(key, { iat: Math.floor(Date.now() / 1000) - 301 }), POST, /iat/],
      ['a future iat', proof(key, { iat: Math.floor(Date.now() / 1000) + 301 }), POST, /iat/],
      ['no ath with an access token', proof(key), { ...POST, accessToken: token }, /ath/],
      ['the ath of another token', proof(key, { ath: ath.replace(/^./, 'A') === ath ? ath.replace(/^./, 'B') : ath.replace(/^./, 'A') }), { ...POST, accessToken: token }, /ath/],
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
    expect(await refusal(v.verify(await sign(`{"typ":"JWT","alg":"ES256","jwk":${jwk},"typ":"dpop+jwt"}`), POST))).toMatchObject({ code: 'ERR_DPOP_INVALID', message: expect.stringMatching(/duplicate/) });
    expect((await v.verify(await sign(`{"typ":"dpop+jwt","alg":"ES256","jwk":${jwk}}`), POST)).jkt).toBe(await calculateJwkThumbprint(key.jwk)); // the control
  });

  it('symmetric and unsigned proofs are refused (item 5)', async () => {
    const v = verifier();
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = b64({ jti: 'n', htm: 'POST', htu: URL_, iat: Math.floor(Date.now() / 1000) });
    const none = `${b64({ alg: 'none', typ: 'dpop+jwt', jwk: (await keyPair()).jwk })}.${claims}.`;
    const hs = await new SignJWT({ jti: 'h', htm: 'POST', htu: URL_, iat: Math.floor(Date.now() / 1000) })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'c2VjcmV0' } as never }).sign(new TextEncoder().encode('secret'));
    for (const p of [none, hs, '', 'a.b.c', `${none}, ${none}`]) expect((await refusal(v.verify(p, POST))).code).toBe('ERR_DPOP_INVALID');
    expect((await refusal(v.verify(undefined, POST))).message).toBe('the DPoP header is missing');
  });

  it('anything at all as the header is a DpopError, never a crash (property)', async () => {
    const v = verifier();
    await fc.assert(fc.asyncProperty(fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}$/)), async (header) => {
      expect((await refusal(v.verify(header, POST))).code).toBe('ERR_DPOP_INVALID');
    }), { numRuns: 200 });
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
    const jose = (p: string) => jwtVerify(p, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] }).then(() => true, () => false);
    const ours = (p: string) => verifier().verify(p, POST).then(() => true, () => false);
    const valid = await Promise.all(keys.map((k) => proof(k)));
    for (const p of valid) expect([await jose(p), await ours(p)]).toEqual([true, true]);
    const otherHeader = (await proof(other)).split('.')[0] as string;
    await fc.assert(fc.asyncProperty(fc.nat(valid.length - 1), fc.nat(), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'), fc.boolean(), async (which, at, char, swap) => {
      const original = valid[which] as string;
      const mutated = swap
        ? `${otherHeader}${original.slice(original.indexOf('.'))}`
        : `${original.slice(0, at % original.length)}${char}${original.slice((at % original.length) + 1)}`;
      if (mutated === original) return;
      if (await ours(mutated)) expect(await jose(mutated)).toBe(true);
    }), { numRuns: 300 });
  });
});
