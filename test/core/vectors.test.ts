/**
 * Public JOSE vectors, in the project under test/vectors (sources and licences in its README):
 * Wycheproof's JWS, ECDSA P-256 (P1363), Ed25519 and HMAC-SHA256 files and the RFC 7520 examples.
 * No `invalid` case may be accepted; every `valid` case of a supported algorithm must be. Keys
 * go through the shipped import (a `KeyInput` in a `KeyRing`, the algorithm pinned), JWS through
 * the access-token verifier's own signature path.
 */
import { readFileSync } from 'node:fs';
import { createPublicKey, createSecretKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateKey, isBatonError, KeyRing } from 'baton-auth';
import type { RingKey, SigningAlg } from 'baton-auth';
import { JwtVerifier } from '../../packages/baton-auth/src/core/access-token.ts';
import type { Jwk } from '../../packages/baton-auth/src/core/jwk.ts';
import { decodeBase64url, JwsError, parseHeader, splitCompact, verifySignature } from '../../packages/baton-auth/src/core/jws.ts';

const DIR = new URL('../vectors/', import.meta.url);
const load = (path: string): any => JSON.parse(readFileSync(new URL(path, DIR), 'utf8'));

/**
 * A ring holding the vector's key as configuration gives it (a `KeyInput`: the secret, or the
 * public JWK, with `alg` pinned), beside a signer of Baton's own (a ring must be able to sign).
 */
function ringOf(jwk: Jwk, alg: SigningAlg): { ring: KeyRing; key: RingKey } {
  const kid = jwk.kid ?? 'vector';
  const { d: _private, ...publicKey } = jwk;
  const input = jwk.kty === 'oct' ? { kid, alg, secret: Buffer.from(jwk.k ?? '', 'base64url') } : { kid, alg, publicKey };
  const ring = new KeyRing([generateKey('HS256', 'baton-signer'), { ...input, status: 'next' }]);
  return { ring, key: ring.get(kid) as RingKey };
}

/**
 * A compact JWS through the steps of `JwtVerifier.verify` that every JWS has (split, header
 * rules, the key's pinned algorithm, signature, strict base64url payload), without the rules
 * that only access tokens have (`typ: at+jwt`, `kid`, claims). Returns the payload.
 */
function verifyJws(token: string, key: RingKey): Buffer {
  const [header, payload, signature, end] = splitCompact(token);
  if (parseHeader(header).alg !== key.alg) throw new JwsError('alg is not the algorithm of the key');
  if (!verifySignature(key.alg, key.verifyKey, token.slice(0, end), decodeBase64url(signature, 'signature'))) throw new JwsError('signature does not verify');
  return decodeBase64url(payload, 'payload');
}

interface Tally {
  byDesign: number;
  accepted: number;
  rejected: number;
  unsupported: number;
  defective: number;
  wrong: string[];
}
const tally = (): Tally => ({ byDesign: 0, accepted: 0, rejected: 0, unsupported: 0, defective: 0, wrong: [] });

/**
 * Cases of this copy of json_web_signature_test.json that no verifier can satisfy: 367 and 370
 * are byte-identical to the valid 357 in the same group (their padding was lost), and 372/373
 * are marked valid although a '?' was inserted into the signed base64url, which strict base64url
 * (RFC 7515 §2) must refuse. Counted apart, never as passes.
 */
const DEFECTIVE = new Map([
  [367, 'identical to the valid case 357'],
  [370, 'identical to the valid case 357'],
  [372, "'?' in the signing input: strict base64url refuses it"],
  [373, "'?' in the signing input: strict base64url refuses it"],
]);

/**
 * Valid JWS that an access-token verifier refuses on purpose: an empty payload (a JWT's claims are
 * a JSON object, RFC 7519 §7.2), and a header algorithm other than the one the key's JWK pins
 * (PS384 under a PS256 key: RFC 8725 §3.1). Each must be refused; counted apart.
 */
const BY_DESIGN = new Map([
  [259, 'empty payload'],
  [272, 'empty payload'],
  [346, 'PS384 under a key pinned to PS256'],
  [350, 'PS384 under a key pinned to PS256'],
]);

/** The algorithm a key is pinned to: its own `alg`, else the only one Baton uses for its type. */
function pinnedAlg(jwk: Jwk): SigningAlg | undefined {
  const alg =
    jwk.alg ??
    (jwk.kty === 'oct' ? 'HS256' : jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : jwk.kty === 'OKP' && jwk.crv === 'Ed25519' ? 'EdDSA' : undefined);
  return alg === 'HS256' || alg === 'ES256' || alg === 'EdDSA' || alg === 'RS256' || alg === 'PS256' ? alg : undefined;
}

describe('Wycheproof JWS (json_web_signature_test.json)', () => {
  it('accepts every valid case of HS256/ES256/EdDSA/RS256/PS256 and no invalid case', () => {
    const data = load('wycheproof/json_web_signature_test.json');
    const t = tally();
    let total = 0;
    for (const group of data.testGroups) {
      const jwk: Jwk = group.public ?? group.private;
      const alg = pinnedAlg(jwk);
      for (const test of group.tests) {
        total++;
        if (DEFECTIVE.has(test.tcId)) {
          t.defective++;
          continue;
        }
        let ok: boolean;
        try {
          if (alg === undefined) throw new Error('unsupported');
          const { ring, key } = ringOf(jwk, alg);
          // None is an access token (no typ at+jwt): the access-token verifier refuses every one, with its own error.
          const asAccessToken = (() => {
            try {
              return new JwtVerifier(ring).verify(test.jws, { issuer: 'i', audience: 'a', leewaySec: 0 }, 0);
            } catch (err) {
              return err;
            }
          })();
          if (!isBatonError(asAccessToken)) t.wrong.push(`${test.tcId}: the access-token verifier answered ${String(asAccessToken)}`);
          verifyJws(test.jws, key);
          ok = true;
        } catch {
          ok = false;
        }
        if (alg === undefined) {
          if (ok) t.wrong.push(`${test.tcId}: accepted with an unsupported key`);
          t.unsupported++;
          continue;
        }
        if (BY_DESIGN.has(test.tcId)) {
          if (ok) t.wrong.push(`${test.tcId}: accepted (${BY_DESIGN.get(test.tcId)})`);
          t.byDesign++;
          continue;
        }
        if (ok) t.accepted++;
        else t.rejected++;
        if (ok !== (test.result === 'valid')) t.wrong.push(`${test.tcId} ${test.comment}: expected ${test.result}`);
      }
    }
    expect(t.wrong).toEqual([]);
    expect(total).toBe(401);
    expect(t.defective).toBe(4);
    // RS384, PS512 and the other algorithms Baton does not sign with: counted, never accepted.
    expect(t.accepted + t.rejected + t.unsupported + t.defective + t.byDesign).toBe(401);
    expect(t.byDesign).toBe(4);
    expect(t.accepted).toBeGreaterThanOrEqual(8);
    console.info(
      `Wycheproof JWS: ${t.accepted} valid accepted, ${t.rejected} invalid rejected, ${t.byDesign} valid JWS refused by design, ${t.unsupported} of unsupported algorithms, ${t.defective} defective`,
    );
  });
});

function runPrimitiveFile(file: string, alg: SigningAlg, keyOf: (group: any) => ReturnType<typeof createPublicKey>): Tally {
  const data = load(`wycheproof/${file}`);
  const t = tally();
  for (const group of data.testGroups) {
    const key = keyOf(group);
    for (const test of group.tests) {
      const ok = verifySignature(alg, key, Buffer.from(test.msg, 'hex'), Buffer.from(test.sig ?? test.tag, 'hex'));
      if (ok) t.accepted++;
      else t.rejected++;
      if (ok && test.result !== 'valid') t.wrong.push(`${test.tcId} ${test.comment}: accepted an ${test.result} case`);
      if (!ok && test.result === 'valid') t.wrong.push(`${test.tcId} ${test.comment}: refused a valid case`);
    }
  }
  return t;
}

describe('Wycheproof primitives', () => {
  it('ECDSA P-256 SHA-256 in P1363 (r‖s) form, the JWS ES256 encoding', () => {
    const t = runPrimitiveFile('ecdsa_secp256r1_sha256_p1363_test.json', 'ES256', (g) =>
      createPublicKey({ key: Buffer.from(g.publicKeyDer, 'hex'), format: 'der', type: 'spki' }),
    );
    expect(t.wrong).toEqual([]);
    expect(t.accepted).toBe(173);
    expect(t.rejected).toBe(89);
  });

  it('RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys: RS256', () => {
    const t = runPrimitiveFile('rsa_signature_2048_sha256_test.json', 'RS256', (g) =>
      createPublicKey({ key: Buffer.from(g.publicKeyDer, 'hex'), format: 'der', type: 'spki' }),
    );
    expect(t.wrong).toEqual([]);
    console.info(`Wycheproof RSA PKCS#1 v1.5: ${t.accepted} valid accepted, ${t.rejected} invalid rejected`);
    expect(t.accepted + t.rejected).toBe(259);
  });

  it('RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt, 2048-bit keys: PS256', () => {
    const t = runPrimitiveFile('rsa_pss_2048_sha256_mgf1_32_test.json', 'PS256', (g) =>
      createPublicKey({ key: Buffer.from(g.publicKeyDer, 'hex'), format: 'der', type: 'spki' }),
    );
    expect(t.wrong).toEqual([]);
    console.info(`Wycheproof RSA-PSS: ${t.accepted} valid accepted, ${t.rejected} invalid rejected`);
    expect(t.accepted + t.rejected).toBe(108);
  });

  it('Ed25519', () => {
    const t = runPrimitiveFile('ed25519_test.json', 'EdDSA', (g) => createPublicKey({ key: Buffer.from(g.publicKeyDer, 'hex'), format: 'der', type: 'spki' }));
    expect(t.wrong).toEqual([]);
    expect(t.accepted).toBe(88);
    expect(t.rejected).toBe(63);
  });

  it('HMAC-SHA256: full-length tags verify; truncated tags are never accepted', () => {
    const data = load('wycheproof/hmac_sha256_test.json');
    const t = tally();
    let truncatedValid = 0;
    for (const group of data.testGroups) {
      for (const test of group.tests) {
        const ok = verifySignature('HS256', createSecretKey(Buffer.from(test.key, 'hex')), Buffer.from(test.msg, 'hex'), Buffer.from(test.tag, 'hex'));
        if (group.tagSize !== 256) {
          if (ok) t.wrong.push(`${test.tcId}: accepted a ${group.tagSize}-bit tag`);
          if (test.result === 'valid') truncatedValid++;
          continue;
        }
        if (ok !== (test.result === 'valid')) t.wrong.push(`${test.tcId} ${test.comment}: expected ${test.result}`);
        if (ok) t.accepted++;
        else t.rejected++;
      }
    }
    expect(t.wrong).toEqual([]);
    expect(t.accepted).toBeGreaterThan(20);
    expect(truncatedValid).toBeGreaterThan(0);
  });
});

describe('RFC 7520 examples (ietf-jose/cookbook)', () => {
  it('verifies the HS256 (§4.4) and Ed25519 examples', () => {
    for (const [file, alg] of [
      ['4_4.hmac-sha2_integrity_protection.json', 'HS256'],
      ['jws.json', 'EdDSA'],
    ] as const) {
      const c = load(`jose-cookbook/${file}`);
      const { key } = ringOf(c.input.key, alg);
      expect(verifyJws(c.output.compact, key).toString('utf8')).toBe(c.input.payload);
      const tampered = c.output.compact.replace(/.$/, (ch: string) => (ch === 'A' ? 'Q' : 'A'));
      expect(() => verifyJws(tampered, key)).toThrow();
    }
  });

  it('refuses the unencoded-payload example (RFC 7797 b64: false) and the ES512 one (not a Baton algorithm)', () => {
    const b64 = load('jose-cookbook/4.2.hmac-sha2_b64_false.json');
    // The unencoded payload contains '.', so it can only be sent encoded; the header still says b64: false.
    const compact = `${b64.signing.protected_b64u}.${Buffer.from(b64.input.payload).toString('base64url')}.${b64.signing.sig}`;
    expect(() => verifyJws(compact, ringOf(b64.input.key, 'HS256').key)).toThrow(/b64|crit/);
    const es512 = load('jose-cookbook/4_3.ecdsa_signature.json');
    expect(() => ringOf(es512.input.key, 'ES256')).toThrow(/P-256/);
  });
});
