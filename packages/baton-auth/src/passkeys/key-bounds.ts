/**
 * What a registration may cost and keep: its attestation statement is not checked (the options ask
 * for none, and nothing here reads one), and its public key must be one whose signature check costs
 * what a passkey's does. An RSA key's check costs what its exponent and modulus make it cost — with
 * a 3,064-bit exponent on a 3,072-bit modulus, 17 ms, sixty times an ordinary one's — and every
 * sign-in with it (no credentials needed, and a right signature is never counted as a failure) would
 * pay it: the same bounds as a DPoP proof's RSA key (`dpop/proof-key.ts`), e = 65537 and 2048 to 4096 bits.
 */
import { DPOP_RSA } from '../dpop/proof-key.ts';
import { decodeAttestationObject, decodeCredentialPublicKey, isoBase64URL, isoCBOR, parseAuthenticatorData } from '@simplewebauthn/server/helpers';

/** The COSE algorithms a passkey may use (§5.8.5 `pubKeyCredParams`): EdDSA, ES256, RS256. */
export const PASSKEY_ALGORITHMS = [-8, -7, -257];

const RSA = DPOP_RSA;
/** COSE key members (RFC 9053): kty, alg; RSA's n and e; EC2's crv. */
const KTY = 1;
const ALG = 3;
const RSA_N = -1;
const RSA_E = -2;
const EC2_CRV = -1;

/** The bit length of a big-endian unsigned integer. */
function bitLength(b: Uint8Array): number {
  let i = 0;
  while (i < b.length && b[i] === 0) i += 1;
  if (i === b.length) return 0;
  return (b.length - i - 1) * 8 + (32 - Math.clz32(b[i] as number));
}

/**
 * The attestation object with its statement dropped (`fmt: none`), once its credential public key is
 * within bounds; a sentence otherwise. Only cheap work: CBOR decoding of a body the handler bounded.
 */
export function withinBounds(attestationObject: string): { attestationObject: string } | { refused: string } {
  let authData: Uint8Array<ArrayBuffer>;
  let key: Map<number, unknown>;
  try {
    const decoded = decodeAttestationObject(isoBase64URL.toBuffer(attestationObject));
    authData = decoded.get('authData') as Uint8Array<ArrayBuffer>;
    const cose = parseAuthenticatorData(authData).credentialPublicKey;
    if (cose === undefined) return { refused: 'its authenticator data holds no public key' };
    key = decodeCredentialPublicKey(cose) as unknown as Map<number, unknown>;
  } catch {
    return { refused: 'its attestation object could not be read' };
  }
  const alg = key.get(ALG);
  if (typeof alg !== 'number' || !PASSKEY_ALGORITHMS.includes(alg))
    return { refused: `its key's algorithm is none of EdDSA, ES256, RS256 (COSE ${PASSKEY_ALGORITHMS.join(', ')})` };
  if (key.get(KTY) === 3) {
    const n = key.get(RSA_N);
    const e = key.get(RSA_E);
    if (!(e instanceof Uint8Array) || e.length > 8 || BigInt(`0x${Buffer.from(e).toString('hex') || '0'}`) !== RSA.exponent)
      return { refused: 'its RSA key’s exponent is not 65537' };
    const bits = n instanceof Uint8Array ? bitLength(n) : 0;
    if (bits < RSA.minBits || bits > RSA.maxBits) return { refused: `its RSA key’s modulus has ${bits} bits, not ${RSA.minBits} to ${RSA.maxBits}` };
  } else if (key.get(KTY) === 2 && key.get(EC2_CRV) !== 1) {
    return { refused: 'its EC key is not on P-256' };
  }
  const none = new Map<string, unknown>([
    ['fmt', 'none'],
    ['attStmt', new Map()],
    ['authData', authData],
  ]);
  return { attestationObject: isoBase64URL.fromBuffer(isoCBOR.encode(none as never)) };
}
