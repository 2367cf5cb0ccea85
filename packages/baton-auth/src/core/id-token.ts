/**
 * OpenID Connect ID tokens (OIDC Core §2), beside the access-token code: signed by the ring's
 * active signing key, the same one that signs access tokens, with the header `typ: JWT` and the
 * key's `kid`. The `typ` keeps the two apart (RFC 8725 §3.11): the access-token verifier takes
 * `at+jwt` only (`access-token.ts`), so an ID token is never accepted as an access token.
 */
import { BatonError } from './errors.ts';
import { decodeBase64url, JwsError, parseHeader, signSegment, splitCompact, verifySignature } from './jws.ts';
import type { KeyRing, RingKey } from './keys.ts';

/** The claims of an ID token Baton signs (OIDC Core §2). Times are seconds since the epoch. */
export interface IdTokenClaims {
  iss: string;
  sub: string;
  /** The client the token is for (its `client_id`): one audience, so no `azp` (OIDC Core §2). */
  aud: string;
  exp: number;
  iat: number;
  /** When the user authenticated (OIDC Core §2, `auth_time`). */
  auth_time: number;
  /** The authorization request's `nonce`, echoed when it had one (OIDC Core §3.1.2.1). */
  nonce?: string;
  /** The Baton session the code exchange opened (OIDC Front-Channel Logout §3's `sid`). */
  sid: string;
}

/** The longest `id_token_hint` read: a Baton ID token is well under 1 KiB (an RSA-4096 signature is 683 characters). */
const MAX_HINT_LENGTH = 4096;

/**
 * The key that signs ID tokens now: the active signing key, if it is asymmetric. An HS256 ID token
 * would be a MAC under the client's own secret (OIDC Core §10.1), and the ring's HS256 secret is
 * this server's alone: no client could check it. Throws `ERR_CONFIG` with what to change.
 */
export function idTokenKey(ring: KeyRing): RingKey {
  const key = ring.active('sig');
  if (key === undefined) throw new BatonError('ERR_STORE_UNAVAILABLE', 'no active signing key: the key ring is being reloaded');
  if (key.alg === 'HS256' || key.signKey === undefined)
    throw new BatonError(
      'ERR_CONFIG',
      'OpenID Connect needs an asymmetric signing key (EdDSA, ES256, RS256 or PS256): clients cannot check an ID token MACed with the ring’s HS256 secret. Rotate to one: baton.rotateKeys("sig", "EdDSA").',
    );
  return key;
}

/** Signs ID token claims as a compact JWS with `key` (`idTokenKey`): header `{ alg, typ: 'JWT', kid }`. */
export function signIdToken(claims: IdTokenClaims, key: RingKey): string {
  if (key.signKey === undefined || key.alg === 'HS256' || key.use !== 'sig') throw new BatonError('ERR_CONFIG', `key ${key.kid} cannot sign ID tokens`);
  const header = Buffer.from(JSON.stringify({ alg: key.alg, typ: 'JWT', kid: key.kid })).toString('base64url');
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${signSegment(key.alg, key.signKey, input)}`;
}

const HEADER_NAMES = new Set(['alg', 'kid', 'typ']);

/**
 * The claims of an ID token this issuer signed, whether expired or not (OIDC RP-Initiated Logout
 * §2: an `id_token_hint` may have expired), or undefined for anything else: too long, not a JWS,
 * another `typ`, a key not in the ring (or of another algorithm, or symmetric), a signature that
 * does not verify, another issuer, missing `sub`, `aud` or `sid`. Cheap checks first: the
 * signature is verified only for a token whose header names one of our keys.
 */
export function verifyIdTokenHint(token: string, ring: KeyRing, issuer: string): IdTokenClaims | undefined {
  if (token.length > MAX_HINT_LENGTH) return undefined;
  try {
    const [headerSegment, body, signature, end] = splitCompact(token);
    const header = parseHeader(headerSegment);
    if (header.names.some((n) => !HEADER_NAMES.has(n)) || header.typ !== 'JWT' || header.kid === undefined) return undefined;
    const key = ring.get(header.kid);
    // RFC 8725 §3.1: the algorithm is the key's, never the token's choice.
    if (key === undefined || key.use !== 'sig' || key.alg === 'HS256' || key.alg !== header.alg) return undefined;
    if (!verifySignature(key.alg, key.verifyKey, token.slice(0, end), decodeBase64url(signature, 'signature'))) return undefined;
    const c = JSON.parse(decodeBase64url(body, 'payload').toString('utf8')) as Partial<Record<keyof IdTokenClaims, unknown>> | null;
    if (typeof c !== 'object' || c === null || Array.isArray(c)) return undefined;
    if (c.iss !== issuer || typeof c.sub !== 'string' || c.sub === '' || typeof c.aud !== 'string' || typeof c.sid !== 'string' || c.sid === '')
      return undefined;
    return c as IdTokenClaims;
  } catch (err) {
    if (err instanceof JwsError || err instanceof SyntaxError) return undefined;
    throw err;
  }
}
