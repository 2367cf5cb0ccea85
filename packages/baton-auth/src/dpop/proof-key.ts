/**
 * A DPoP proof's header and its key (RFC 9449 §4.2, §4.3 items 4–7): what the header may hold,
 * the keys a proof may carry and their bounds, the key imported once and its RFC 7638 thumbprint.
 * Everything here costs no signature check; `proof.ts` checks the rest.
 */
import { createHash, createPublicKey } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { decodeBase64url, topLevelNames } from '../core/jws.ts';
import type { KeyAlg } from '../core/keys.ts';

/**
 * The algorithms a DPoP proof may use: asymmetric only (§4.3 item 5). `Ed25519` is RFC 9864's
 * fully-specified name for what `EdDSA` signs with an Ed25519 key (oauth4webapi sends it).
 */
export const DPOP_ALGS = ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] as const;

/** A proof header that passed every check: its key, imported, and the key's thumbprint. */
export interface ProofKey {
  alg: KeyAlg;
  key: KeyObject;
  jkt: string;
}

/** What each proof algorithm needs of its key (RFC 7518 §3.3–3.5, RFC 8037 §3.1). */
const KEY_OF: Record<(typeof DPOP_ALGS)[number], { alg: KeyAlg; type: string; kty: string }> = {
  ES256: { alg: 'ES256', type: 'ec', kty: 'EC' },
  EdDSA: { alg: 'EdDSA', type: 'ed25519', kty: 'OKP' },
  Ed25519: { alg: 'EdDSA', type: 'ed25519', kty: 'OKP' },
  RS256: { alg: 'RS256', type: 'rsa', kty: 'RSA' },
  PS256: { alg: 'PS256', type: 'rsa', kty: 'RSA' },
};

/**
 * The RSA keys a proof may carry: the exponent 65537 and a modulus of 2048 to 4096 bits. Anyone
 * may send a proof, and an RSA check costs what the key makes it cost: with a 3,070-bit exponent,
 * 50 to 250 honest checks (9 ms here, 24 ms in issue #21, against 0.1–0.16 ms). Honest clients (the
 * SDK, jose, WebCrypto, openid-client, oauth4webapi) make exactly these keys.
 */
export const DPOP_RSA = { exponent: 65537n, minBits: 2048, maxBits: 4096 } as const;

/** Members only a private or symmetric key has: a proof's jwk must have none (§4.3 item 7). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The members of a JWK its RFC 7638 thumbprint covers, per key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = { EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'], RSA: ['e', 'kty', 'n'] };

/** RFC 9449 §4.2: `typ` is `dpop+jwt` (RFC 7515 §4.1.9 lets `application/` be omitted, case-insensitively). */
function isDpopJwt(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase();
  return t === 'dpop+jwt' || t === 'application/dpop+jwt';
}

const RSA_BOUNDS = `e AQAB (65537) and a modulus of ${DPOP_RSA.minBits} to ${DPOP_RSA.maxBits} bits`;

/**
 * Why an RSA jwk is out of bounds, read from its members before anything is imported (so a huge
 * key costs no import either), or undefined. RFC 7518 §6.3.1.1: `n` in the fewest octets.
 */
function rsaOutOfBounds(jwk: Record<string, unknown>): string | undefined {
  if (jwk.e !== 'AQAB') return `the proof's RSA jwk must have ${RSA_BOUNDS}: its exponent is not 65537`;
  let n: Buffer;
  try {
    n = decodeBase64url(typeof jwk.n === 'string' ? jwk.n : '', 'n');
  } catch {
    return "the proof's jwk is not a valid public key";
  }
  const bits = n.length === 0 || n[0] === 0 ? 0 : (n.length - 1) * 8 + (32 - Math.clz32(n[0] as number));
  if (bits < DPOP_RSA.minBits || bits > DPOP_RSA.maxBits) return `the proof's RSA jwk must have ${RSA_BOUNDS}: its modulus has ${bits} bits`;
  return undefined;
}

/** The header members of a proof (RFC 9449 §4.2: typ, alg, jwk); any other is refused, nothing more is read. */
const HEADER_MEMBERS: ReadonlySet<string> = new Set(['typ', 'alg', 'jwk']);

/** A header's checks that depend on the header alone; the key is imported once per (alg, key) (`keyOf`). */
export function headerOf(segment: string): { alg: (typeof DPOP_ALGS)[number]; jwk: Record<string, unknown>; cacheKey: string } | string {
  let json: string;
  let h: Record<string, unknown>;
  try {
    json = decodeBase64url(segment, 'header').toString('utf8');
    h = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return 'the proof header is not base64url JSON';
  }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) return 'the proof header is not a JSON object';
  const names = topLevelNames(json);
  if (new Set(names).size !== names.length) return 'the proof header has duplicate member names';
  const extra = names.find((n) => !HEADER_MEMBERS.has(n));
  if (extra !== undefined) return `the proof header may have typ, alg and jwk only (RFC 9449 §4.2), not ${JSON.stringify(extra.slice(0, 32))}`;
  if (!isDpopJwt(h.typ)) return "the proof's typ is not dpop+jwt";
  const wanted = typeof h.alg === 'string' && Object.hasOwn(KEY_OF, h.alg) ? KEY_OF[h.alg as (typeof DPOP_ALGS)[number]] : undefined;
  if (wanted === undefined) return `the proof's alg must be one of ${DPOP_ALGS.join(', ')}`;
  const jwk = h.jwk as Record<string, unknown> | undefined;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'the proof header has no jwk';
  if (PRIVATE_MEMBERS.some((m) => m in jwk) || jwk.kty === 'oct') return "the proof's jwk must be a public key";
  if (jwk.kty !== wanted.kty) return `the proof's jwk is not a key for ${h.alg as string}`;
  const members = THUMBPRINT_MEMBERS[wanted.kty] as readonly string[];
  if (members.some((m) => typeof jwk[m] !== 'string')) return "the proof's jwk is not a valid public key";
  // The key is what its thumbprint's members say: the cache holds one entry per (alg, key), whatever else the header carries.
  return { alg: h.alg as (typeof DPOP_ALGS)[number], jwk, cacheKey: `${h.alg as string}.${members.map((m) => jwk[m] as string).join('.')}` };
}

/** Imports a proof's key (§4.3 items 5–7), within bounds; a string says why not. */
export function keyOf(alg: (typeof DPOP_ALGS)[number], jwk: Record<string, unknown>): ProofKey | string {
  const wanted = KEY_OF[alg];
  const outOfBounds = wanted.kty === 'RSA' ? rsaOutOfBounds(jwk) : undefined;
  if (outOfBounds !== undefined) return outOfBounds;
  const members = THUMBPRINT_MEMBERS[wanted.kty] as readonly string[];
  let key: KeyObject;
  try {
    // Only the members the thumbprint covers: the key imported is the one its cache entry names.
    key = createPublicKey({ key: Object.fromEntries(members.map((m) => [m, jwk[m]])) as JsonWebKey, format: 'jwk' });
  } catch {
    return "the proof's jwk is not a valid public key";
  }
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType !== wanted.type || (wanted.type === 'ec' && details?.namedCurve !== 'prime256v1')) {
    return `the proof's jwk is not a key for ${alg}`;
  }
  // The bounds again on the key as imported: they are what the signature check will cost.
  const bits = details?.modulusLength ?? 0;
  if (wanted.type === 'rsa' && (details?.publicExponent !== DPOP_RSA.exponent || bits < DPOP_RSA.minBits || bits > DPOP_RSA.maxBits)) {
    return `the proof's RSA jwk must have ${RSA_BOUNDS}`;
  }
  // RFC 7638 §3: the required members of the key as imported, in order, without whitespace.
  const exported = key.export({ format: 'jwk' }) as Record<string, string>;
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(exported[m])}`).join(',')}}`;
  return { alg: wanted.alg, key, jkt: createHash('sha256').update(canonical).digest('base64url') };
}
