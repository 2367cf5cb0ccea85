/**
 * ES256 verification re-encodes the JWS signature r‖s (IEEE P1363, RFC 7518 §3.4) in DER for
 * node:crypto (`p1363ToDer`, core/jws.ts). Held to jose's verdict on signatures bent where an
 * encoder goes wrong: r or s of 0, of n or above, with leading zero bytes, with the high bit set,
 * the other half of the pair (n − s), and any 64 bytes. Red team of #23.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import fc from 'fast-check';
import { flattenedVerify, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { verifySignature } from '../../packages/baton-auth/src/core/jws.ts';

/** The order of P-256 (SEC 2 §2.4.2). */
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const TOP = 2n ** 256n;

const hex32 = (v: bigint): Buffer => Buffer.from(v.toString(16).padStart(64, '0'), 'hex');
const big = (b: Buffer): bigint => BigInt(`0x${b.toString('hex') || '0'}`);

describe('ES256 signatures as DER against jose (differential)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const header = Buffer.from(JSON.stringify({ alg: 'ES256' })).toString('base64url');
  const joseKey = importJWK(publicKey.export({ format: 'jwk' }) as never, 'ES256');
  const jose = async (payload: string, signature: Buffer): Promise<boolean> =>
    flattenedVerify({ protected: header, payload, signature: signature.toString('base64url') }, await joseKey, { algorithms: ['ES256'] }).then(
      () => true,
      () => false,
    );
  const ours = (payload: string, signature: Buffer): boolean => verifySignature('ES256', publicKey, `${header}.${payload}`, signature);
  const signed = (payload: string): Buffer => sign('sha256', Buffer.from(`${header}.${payload}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });

  /** Ways to bend one half (r or s) of a valid signature. */
  const bend = fc.oneof(
    fc.constant((_v: bigint) => 0n),
    fc.constant((_v: bigint) => N),
    fc.constant((v: bigint) => v + N), // same value mod n, ≥ n
    fc.constant((v: bigint) => N - v), // the other s of the pair: valid for ECDSA
    fc.constant((_v: bigint) => TOP - 1n),
    fc.constant((v: bigint) => v | (1n << 255n)), // high bit
    fc.constant((v: bigint) => v & ((1n << 248n) - 1n)), // a leading zero byte
    fc.constant((v: bigint) => v & ((1n << 128n) - 1n)), // many leading zero bytes
    fc.constant((_v: bigint) => 1n),
    fc.bigInt({ min: 0n, max: TOP - 1n }).map((x) => (_v: bigint) => x),
  );

  it('valid signatures pass both, and whatever is made of r and s is refused by ours whenever by jose, and accepted whenever by jose', async () => {
    const outcomes = { 'ok/ok': 0, 'refused/refused': 0, disagree: 0 };
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 0, maxLength: 40 }), fc.constantFrom('r', 's', 'both'), bend, bend, async (text, which, f, g) => {
        const payload = Buffer.from(text).toString('base64url');
        const sig = signed(payload);
        expect([ours(payload, sig), await jose(payload, sig)]).toEqual([true, true]);
        const [r, s] = [big(sig.subarray(0, 32)), big(sig.subarray(32))];
        const bent = Buffer.concat([hex32(which === 's' ? r : f(r) % TOP), hex32(which === 'r' ? s : (which === 'both' ? g(s) : f(s)) % TOP)]);
        const [a, b] = [ours(payload, bent), await jose(payload, bent)];
        outcomes[a === b ? (a ? 'ok/ok' : 'refused/refused') : 'disagree']++;
        expect(a, `r‖s ${bent.toString('hex')}`).toBe(b);
      }),
      { numRuns: 600 },
    );
    expect(outcomes.disagree).toBe(0);
    expect(outcomes['ok/ok']).toBeGreaterThan(0); // n − s, and the unchanged halves
    expect(outcomes['refused/refused']).toBeGreaterThan(0);
  });

  it('a signature with leading zeros in r or s (1 in 256 of real ones) verifies: found by signing until one comes', async () => {
    let found = 0;
    for (let i = 0; found < 3 && i < 20_000; i++) {
      const payload = Buffer.from(`m${i}`).toString('base64url');
      const sig = signed(payload);
      if (sig[0] !== 0 && sig[32] !== 0) continue;
      found++;
      expect([ours(payload, sig), await jose(payload, sig)]).toEqual([true, true]);
    }
    expect(found).toBe(3);
  });

  it('signatures of other lengths are refused by both (63, 65, 0, 72 bytes as DER would be)', async () => {
    const payload = Buffer.from('x').toString('base64url');
    const sig = signed(payload);
    for (const bad of [
      sig.subarray(0, 63),
      Buffer.concat([sig, Buffer.from([0])]),
      Buffer.alloc(0),
      Buffer.alloc(72, 1),
      Buffer.concat([Buffer.from([0]), sig.subarray(0, 63)]),
    ]) {
      expect([ours(payload, bad), await jose(payload, bad)]).toEqual([false, false]);
    }
  });
});
