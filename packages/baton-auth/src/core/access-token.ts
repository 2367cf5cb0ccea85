/**
 * Access tokens: issuing and verifying the three formats (`jwt`, `jwe`, `opaque`).
 * Claims follow RFC 9068 (`typ: at+jwt`); nothing personal goes in them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { BatonError } from './errors.ts';
import { decodeBase64url, isCanonicalBase64url, JwsError, parseHeader, signSegment, splitCompact, verifySignature } from './jws.ts';
import type { KeyRing, RingKey } from './keys.ts';
import { namesAudience } from '../protocol/audience.ts';
import type { AccessTokenClaims } from './claims.ts';

export type { AccessTokenClaims } from './claims.ts';

/** What `verify` checks the claims against. */
export interface ClaimPolicy {
  issuer: string;
  /** The audience `aud` must name; absent: checked by the caller (an API's own audience, per request). */
  audience?: string;
  /** Clock tolerance for `exp`, `nbf` and `iat`, in seconds. */
  leewaySec: number;
  /**
   * The longest lifetime (`exp` − `iat`) a token may claim, in seconds: this issuer's access-token
   * lifetime plus the leeway. A longer one was not issued here (a forged token's three-day life).
   */
  maxLifetimeSec?: number;
}

/** The access-token formats Baton issues. */
export type TokenFormat = 'jwt' | 'jwe' | 'opaque';

const HEADER_NAMES = new Set(['alg', 'kid', 'typ']);
const OPAQUE = /^at_[A-Za-z0-9_-]{43}$/;

function invalid(detail: string, cause?: unknown): BatonError {
  return new BatonError('ERR_TOKEN_INVALID', detail, cause === undefined ? undefined : { cause });
}

/** RFC 9068 §4: `typ` is `at+jwt`; RFC 7515 §4.1.9 lets `application/` be omitted, case-insensitively. */
function isAtJwt(typ: string | undefined): boolean {
  if (typ === undefined) return false;
  const t = typ.toLowerCase();
  return t === 'at+jwt' || t === 'application/at+jwt';
}

/** RFC 9449 §6.1: `cnf` is `{ jkt }`, the base64url SHA-256 thumbprint (43 characters) of the key. */
export function isJktConfirmation(cnf: unknown): boolean {
  return (
    typeof cnf === 'object' &&
    cnf !== null &&
    !Array.isArray(cnf) &&
    typeof (cnf as { jkt?: unknown }).jkt === 'string' &&
    /^[A-Za-z0-9_-]{43}$/.test((cnf as { jkt: string }).jkt)
  );
}

/**
 * `ERR_TOKEN_NOT_YET_VALID` for a token whose `nbf` or `iat` is ahead of `nowMs` by more than the
 * leeway (RFC 7519 §4.1.5, §4.1.6; whole seconds, as jose): every key source's, and on a cache hit
 * (a clock that went back), so that the engine and `remoteIssuer` decide alike.
 */
export function checkNotYetValid(c: { readonly nbf?: number | undefined; readonly iat: number }, nowMs: number, leewaySec: number): void {
  const later = Math.floor(nowMs / 1000) + leewaySec;
  if (c.nbf !== undefined && c.nbf > later) throw new BatonError('ERR_TOKEN_NOT_YET_VALID', 'nbf is in the future');
  if (c.iat > later) throw new BatonError('ERR_TOKEN_NOT_YET_VALID', 'iat is in the future');
}

/** Checks the claims of a decoded access token; returns them typed or throws a typed error. */
export function checkClaims(payload: unknown, policy: ClaimPolicy, nowMs: number): AccessTokenClaims {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalid('claims are not a JSON object');
  const c = payload as Record<string, unknown>;
  if (typeof c.exp !== 'number' || !Number.isFinite(c.exp)) throw invalid('exp is missing or not a number');
  if (typeof c.iat !== 'number' || !Number.isFinite(c.iat)) throw invalid('iat is missing or not a number');
  if (c.nbf !== undefined && (typeof c.nbf !== 'number' || !Number.isFinite(c.nbf))) throw invalid('nbf is not a number');
  if (c.iss !== policy.issuer) throw invalid('iss is not this issuer');
  if (typeof c.aud !== 'string' && !(Array.isArray(c.aud) && c.aud.length > 0 && c.aud.every((a) => typeof a === 'string'))) throw invalid('aud is missing');
  if (policy.audience !== undefined && !namesAudience(c.aud, policy.audience)) throw invalid('aud does not name this audience');
  if (typeof c.sub !== 'string' || c.sub === '') throw invalid('sub is missing');
  if (typeof c.jti !== 'string' || c.jti === '') throw invalid('jti is missing');
  if (typeof c.client_id !== 'string') throw invalid('client_id is missing');
  // A user's token names its session; only a client's own token (`sub` = `client_id`, RFC 9068 §2.2) has none.
  if (c.sid === undefined ? c.sub !== c.client_id : typeof c.sid !== 'string' || c.sid === '') throw invalid('sid is missing');
  if (c.scope !== undefined && typeof c.scope !== 'string') throw invalid('scope is not a string');
  if (c.cnf !== undefined && !isJktConfirmation(c.cnf)) throw invalid('cnf is not a DPoP key confirmation');
  // Same arithmetic as jose (RFC 7519 §4.1.4, §4.1.5): whole seconds, tolerance on both sides.
  const now = Math.floor(nowMs / 1000);
  if (c.exp <= now - policy.leewaySec) throw new BatonError('ERR_TOKEN_EXPIRED', 'exp is in the past');
  checkNotYetValid(c as { nbf?: number; iat: number }, nowMs, policy.leewaySec);
  if (policy.maxLifetimeSec !== undefined && c.exp - c.iat > policy.maxLifetimeSec) throw invalid('the token claims a longer life than this issuer gives');
  return c as unknown as AccessTokenClaims;
}

/** A header that resolved to a key, or the reason it did not. Cached per header segment. */
type HeaderResolution = RingKey | string;

/**
 * Verifies compact JWT access tokens on `node:crypto`. Parsed headers are cached (a token's
 * header is the same for every token a key signs), so the per-token work is one MAC or signature
 * check and one `JSON.parse`.
 */
export class JwtVerifier {
  readonly #ring: KeyRing;
  readonly #headers = new Map<string, HeaderResolution>();
  #ringVersion = -1;
  /** The last header seen and its resolution: most tokens share it, and a string compare beats hashing. */
  #lastSegment = '';
  #lastResolution: HeaderResolution = '';

  constructor(ring: KeyRing) {
    this.#ring = ring;
  }

  #resolve(segment: string): HeaderResolution {
    if (this.#ringVersion !== this.#ring.version) {
      this.#headers.clear();
      this.#lastSegment = '';
      this.#ringVersion = this.#ring.version;
    }
    if (segment === this.#lastSegment) return this.#lastResolution;
    let found = this.#headers.get(segment);
    if (found === undefined) {
      found = this.#resolveUncached(segment);
      if (this.#headers.size >= 256) this.#headers.clear(); // bounded: forged headers cannot grow it
      this.#headers.set(segment, found);
    }
    this.#lastSegment = segment;
    this.#lastResolution = found;
    return found;
  }

  #resolveUncached(segment: string): HeaderResolution {
    let header;
    try {
      header = parseHeader(segment);
    } catch (err) {
      return (err as Error).message;
    }
    for (const name of header.names) if (!HEADER_NAMES.has(name)) return `header parameter ${JSON.stringify(name)} is not accepted`;
    if (!isAtJwt(header.typ)) return 'typ is not at+jwt';
    if (header.kid === undefined) return 'kid is missing';
    const key = this.#ring.get(header.kid);
    if (key === undefined) return 'kid names no key of this issuer';
    // RFC 8725 §3.1: the algorithm is the one pinned to the key, never the token's choice, and a
    // key signs one kind of thing (a refresh-token secret never verifies a JWT).
    if (key.use !== 'sig' || key.alg !== header.alg) return 'alg is not the algorithm of the key';
    return key;
  }

  /** Verifies signature and claims; throws a `BatonError` for anything else. */
  verify(token: string, policy: ClaimPolicy, nowMs: number): AccessTokenClaims {
    let payload: unknown;
    try {
      const [header, body, signature, end] = splitCompact(token);
      const key = this.#resolve(header);
      if (typeof key === 'string') throw invalid(key);
      if (key.status === 'retired' && !this.#ring.usable(key, nowMs)) throw invalid('the key retired longer ago than any token it signed can live');
      const sig = decodeBase64url(signature, 'signature');
      if (!verifySignature(key.alg, key.verifyKey, token.slice(0, end), sig)) throw invalid('signature does not verify');
      payload = JSON.parse(decodeBase64url(body, 'payload').toString('utf8'));
    } catch (err) {
      if (err instanceof BatonError) throw err;
      throw invalid(err instanceof JwsError ? err.message : 'payload is not JSON');
    }
    return checkClaims(payload, policy, nowMs);
  }
}

/** Signs claims as a compact JWT with the ring's active signing key. */
export function signJwt(claims: AccessTokenClaims, key: RingKey): string {
  if (key.signKey === undefined) throw new BatonError('ERR_CONFIG', `key ${key.kid} cannot sign`);
  const header = Buffer.from(JSON.stringify({ alg: key.alg, typ: 'at+jwt', kid: key.kid })).toString('base64url');
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${signSegment(key.alg, key.signKey, input)}`;
}

/** Encrypts claims as a compact JWE (`dir` + `A256GCM`, RFC 7516) with the active encryption key. */
export async function encryptJwe(claims: AccessTokenClaims, key: RingKey): Promise<string> {
  return new CompactEncrypt(Buffer.from(JSON.stringify(claims)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: key.kid, typ: 'at+jwt' })
    .encrypt(key.verifyKey);
}

/** Decrypts a JWE access token and checks its claims. */
export async function decryptJwe(token: string, ring: KeyRing, policy: ClaimPolicy, nowMs: number): Promise<AccessTokenClaims> {
  let plaintext: Uint8Array;
  try {
    const parts = token.split('.');
    if (parts.length !== 5 || parts.some((p, i) => i !== 1 && p === '') || parts.some((p) => p !== '' && !isCanonicalBase64url(p))) {
      throw invalid('a compact JWE has five base64url segments');
    }
    let kid = '';
    const result = await compactDecrypt(
      token,
      (header) => {
        const key = typeof header.kid === 'string' ? ring.get(header.kid) : undefined;
        if (key === undefined || key.use !== 'enc' || !ring.usable(key, nowMs)) throw invalid('kid names no encryption key of this issuer');
        if (!isAtJwt(header.typ)) throw invalid('typ is not at+jwt');
        kid = key.kid;
        return key.verifyKey;
      },
      { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] },
    );
    // The key left the ring while the token was being decrypted (revoked: the verified-token cache
    // was cleared then): refused, else it would reach the cache after the clear and be served from
    // there without its key until its `exp`.
    if (ring.get(kid) === undefined) throw invalid('the key was taken out of service during decryption');
    plaintext = result.plaintext;
  } catch (err) {
    if (err instanceof BatonError) throw err;
    throw invalid('the JWE does not decrypt with a key of this issuer', err);
  }
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(plaintext).toString('utf8'));
  } catch {
    throw invalid('payload is not JSON');
  }
  return checkClaims(payload, policy, nowMs);
}

/** A new opaque access token: 256 random bits, prefixed `at_`. */
export function newOpaqueToken(): string {
  return `at_${randomBytes(32).toString('base64url')}`;
}

/** True when `token` has the shape of an opaque access token. */
export function isOpaqueToken(token: string): boolean {
  return OPAQUE.test(token);
}

/** The store key of an opaque token: its SHA-256, so a leaked store holds no usable token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
