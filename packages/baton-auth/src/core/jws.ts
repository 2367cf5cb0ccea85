/**
 * Compact JWS (RFC 7515) on `node:crypto`, for the hot path of access-token verification.
 *
 * Written by hand because it measurably beats the libraries on the request path (see README,
 * "Verification speed"), with the same rules as `jose`: one algorithm pinned per key (RFC 8725
 * §3.1), no `alg: none`, no keys from the token (`jwk`, `jku`, `x5u`, `x5c` refused), `crit`
 * refused (RFC 7515 §4.1.11), strict base64url. A differential property test checks it against
 * `jose` on random valid and invalid tokens.
 */
import { constants, createHmac, sign as cryptoSign, timingSafeEqual, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { KeyAlg } from './keys.ts';

/** Why a JWS was refused; the caller turns it into a typed error. */
export class JwsError extends Error {}

/** A parsed, cached protected header. */
export interface JwsHeader {
  readonly alg: string;
  readonly kid: string | undefined;
  readonly typ: string | undefined;
  /** The header's member names, to let callers allow-list them. */
  readonly names: readonly string[];
}

const B64URL = /^[A-Za-z0-9_-]+$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Header parameters that would let a token choose its own key: never honoured, always refused. */
const KEY_HEADERS = ['jwk', 'jku', 'x5u', 'x5c'];

/**
 * True when `s` is base64url without padding whose unused trailing bits are zero, so that one
 * byte string has exactly one encoding (RFC 7515 §2, RFC 4648 §3.5).
 */
export function isCanonicalBase64url(s: string): boolean {
  if (!B64URL.test(s)) return false;
  const rem = s.length % 4;
  if (rem === 0) return true;
  if (rem === 1) return false;
  const last = ALPHABET.indexOf(s[s.length - 1] as string);
  return (last & (rem === 2 ? 0x0f : 0x03)) === 0;
}

const SIXBITS = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) SIXBITS[ALPHABET.charCodeAt(i)] = i;

/**
 * Decodes strict base64url, or throws; the same rule as `isCanonicalBase64url`, checked without a
 * pass over the string: Node's decoder skips characters outside the alphabet and stops at `=`, so
 * a decoded length short of ⌊3n/4⌋ betrays them; `+` and `/` (which it would accept) are looked
 * for directly; the unused trailing bits must be zero.
 */
export function decodeBase64url(s: string, what: string): Buffer {
  const rem = s.length % 4;
  const bytes = Buffer.from(s, 'base64url');
  if (
    rem === 1 ||
    bytes.length !== (s.length * 3) >> 2 ||
    s.includes('+') ||
    s.includes('/') ||
    (rem !== 0 && (SIXBITS[s.charCodeAt(s.length - 1)] as number) & (rem === 2 ? 0x0f : 0x03))
  ) {
    throw new JwsError(`${what} is not canonical base64url`);
  }
  return bytes;
}

/**
 * The names of a JSON object's top-level members, in order. Used on headers only (they are
 * cached), to refuse duplicate names (RFC 7515 §4).
 */
export function topLevelNames(json: string): string[] {
  const names: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let j = i + 1;
      while (j < json.length && json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        names.push(JSON.parse(json.slice(i, j + 1)) as string);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return names;
}

/** Parses and checks a protected header segment. */
export function parseHeader(segment: string): JwsHeader {
  const json = decodeBase64url(segment, 'header').toString('utf8');
  let header: unknown;
  try {
    header = JSON.parse(json);
  } catch {
    throw new JwsError('header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new JwsError('header is not a JSON object');
  const h = header as Record<string, unknown>;
  const names = topLevelNames(json);
  if (new Set(names).size !== names.length) throw new JwsError('header has duplicate member names');
  if (typeof h.alg !== 'string') throw new JwsError('header has no alg');
  if (h.alg.toLowerCase() === 'none') throw new JwsError('alg none is never accepted');
  if ('crit' in h) throw new JwsError('header has crit: no extension is understood');
  if ('b64' in h) throw new JwsError('unencoded payloads (b64) are not accepted');
  for (const name of KEY_HEADERS) if (name in h) throw new JwsError(`header carries ${name}: keys never come from the token`);
  if (h.kid !== undefined && typeof h.kid !== 'string') throw new JwsError('kid is not a string');
  if (h.typ !== undefined && typeof h.typ !== 'string') throw new JwsError('typ is not a string');
  return { alg: h.alg, kid: h.kid as string | undefined, typ: h.typ as string | undefined, names };
}

/** Splits a compact JWS into its three segments, or throws. */
export function splitCompact(token: string): [header: string, payload: string, signature: string, signingInputEnd: number] {
  const i = token.indexOf('.');
  const j = i < 0 ? -1 : token.indexOf('.', i + 1);
  if (j < 0 || token.indexOf('.', j + 1) !== -1) throw new JwsError('a compact JWS has exactly three segments');
  if (i === 0 || j === i + 1 || j === token.length - 1) throw new JwsError('a JWS segment is empty');
  return [token.slice(0, i), token.slice(i + 1, j), token.slice(j + 1), j];
}

const SIG_LENGTH: Partial<Record<KeyAlg, number>> = { HS256: 32, ES256: 64, EdDSA: 64 };

/** RSASSA-PSS as JWS uses it (RFC 7518 §3.5): MGF1 with the same hash, a salt as long as the hash. */
const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } as const;

/** The signature length of `alg` with `key`: fixed, or an RSA key's modulus in bytes (RFC 8017 §8.1.2, §8.2.2). */
function signatureLength(alg: KeyAlg, key: KeyObject): number | undefined {
  return SIG_LENGTH[alg] ?? ((key.asymmetricKeyDetails?.modulusLength ?? 0) + 7) >> 3;
}

/** A DER INTEGER (X.690 §8.3) of an unsigned big-endian number: shortest form, a 0 before a high bit. */
function derInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const value = bytes.subarray(start);
  const pad = (value[0] as number) & 0x80 ? 1 : 0;
  const out = Buffer.alloc(2 + pad + value.length);
  out[0] = 0x02;
  out[1] = pad + value.length;
  value.copy(out, 2 + pad);
  return out;
}

/**
 * An ECDSA P-256 signature r‖s (IEEE P1363, JWS's form) as the DER `Ecdsa-Sig-Value` SEQUENCE
 * that `verify` takes by default (RFC 3279 §2.2.3). Node also takes r‖s through
 * `{ key, dsaEncoding: 'ieee-p1363' }`; workerd's `node:crypto` refuses a `KeyObject` in that
 * object, so the signature is re-encoded instead (a few bytes; the key is the same `KeyObject`).
 */
function p1363ToDer(signature: Buffer): Buffer {
  const r = derInteger(signature.subarray(0, 32));
  const s = derInteger(signature.subarray(32));
  return Buffer.concat([Buffer.from([0x30, r.length + s.length]), r, s]);
}

/**
 * Verifies `signature` over `signingInput` with `key` for `alg`, in constant time for MACs.
 * The caller has already checked that `alg` is the algorithm pinned to `key`.
 */
export function verifySignature(alg: KeyAlg, key: KeyObject, signingInput: string | Buffer, signature: Buffer): boolean {
  if (signature.length !== signatureLength(alg, key)) return false;
  const data = (): Buffer => (typeof signingInput === 'string' ? Buffer.from(signingInput) : signingInput);
  switch (alg) {
    case 'HS256':
      return timingSafeEqual(createHmac('sha256', key).update(signingInput).digest(), signature);
    case 'ES256':
      // IEEE P1363 r‖s as JWS uses (RFC 7518 §3.4), of 64 bytes (checked above), re-encoded in
      // DER; OpenSSL refuses r = 0 or s = 0 either way (CVE-2022-21449).
      return cryptoVerify('sha256', data(), key, p1363ToDer(signature));
    case 'EdDSA':
      return cryptoVerify(null, data(), key, signature);
    case 'RS256':
      // RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
      return cryptoVerify('sha256', data(), key, signature);
    case 'PS256':
      return cryptoVerify('sha256', data(), { key, ...PSS }, signature);
    default:
      return false;
  }
}

/** Signs `signingInput` with `key` for `alg` and returns the base64url signature. */
export function signSegment(alg: KeyAlg, key: KeyObject, signingInput: string): string {
  switch (alg) {
    case 'HS256':
      return createHmac('sha256', key).update(signingInput).digest('base64url');
    case 'ES256':
      return cryptoSign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    case 'EdDSA':
      return cryptoSign(null, Buffer.from(signingInput), key).toString('base64url');
    case 'RS256':
      return cryptoSign('sha256', Buffer.from(signingInput), key).toString('base64url');
    case 'PS256':
      return cryptoSign('sha256', Buffer.from(signingInput), { key, ...PSS }).toString('base64url');
    default:
      throw new JwsError(`cannot sign with ${alg}`);
  }
}
