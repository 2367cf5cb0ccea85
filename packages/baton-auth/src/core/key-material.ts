/**
 * Key material: the algorithms, keys as configured and as held, importing them (with a sentence
 * for each mistake) and generating new ones. The ring that holds them is in `keys.ts`.
 */
import { createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync, KeyObject, randomBytes, randomUUID } from 'node:crypto';
import type { JsonWebKey as NodeJwk } from 'node:crypto';
import { BatonConfigError } from './errors.ts';
import { checkJwkMembers } from './jwk.ts';

/** Algorithms Baton signs access tokens with. `alg: none` is never one of them. */
export type SigningAlg = 'HS256' | 'ES256' | 'EdDSA' | 'RS256' | 'PS256';
/** `dir` + `A256GCM` content encryption, for the `jwe` access-token format. */
export type EncryptionAlg = 'dir';
export type KeyAlg = SigningAlg | EncryptionAlg;

/**
 * `next`: published (JWKS) but not used yet; `active`: signs (or encrypts) new tokens;
 * `retired`: only verifies tokens issued before it retired, for as long as one of them can be valid.
 */
export type KeyStatus = 'next' | 'active' | 'retired';

/**
 * What a key is for: `sig` signs access tokens (JWS), `enc` encrypts them (JWE), `refresh`
 * authenticates refresh tokens (an HMAC secret that never signs a JWT, so that neither kind of
 * token can be passed off as the other).
 */
export type KeyUse = 'sig' | 'enc' | 'refresh';

/** Key material as given in configuration. */
export interface KeyInput {
  /** Key id, put in the `kid` header of every token this key signs. */
  kid: string;
  /** The one algorithm this key is used with (RFC 8725 §3.1: pin algorithms per key). */
  alg: KeyAlg;
  /** What the key is for. Default: `enc` for `dir`, `sig` otherwise; `refresh` keys are HS256 secrets. */
  use?: KeyUse;
  /**
   * HS256 and `dir`: the shared secret, at least 32 bytes (RFC 7518 §3.2, §5.3). A string is
   * read as UTF-8, or as base64url when it starts with `base64url:` (what `generateKey` produces).
   */
  secret?: string | Uint8Array;
  /** ES256 / EdDSA: the private key as a JWK, a PEM string or a `KeyObject`. Omit for verify-only keys. */
  privateKey?: NodeJwk | string | KeyObject;
  /** ES256 / EdDSA: the public key; derived from `privateKey` when omitted. */
  publicKey?: NodeJwk | string | KeyObject;
  /** Defaults to `active` for the first key of each use and `retired` for the others. */
  status?: KeyStatus;
  /** When the key retired (ms since the epoch); it keeps verifying for one token lifetime after. */
  retiredAt?: number;
}

/** A key as the ring holds it. */
export interface RingKey {
  readonly kid: string;
  readonly alg: KeyAlg;
  readonly use: KeyUse;
  status: KeyStatus;
  retiredAt: number | undefined;
  /** Secret (HS256, dir) or public key (ES256, EdDSA). */
  readonly verifyKey: KeyObject;
  /** Secret or private key; undefined for verify-only keys. */
  readonly signKey: KeyObject | undefined;
}

const CURVE: Record<string, string> = { ES256: 'prime256v1', EdDSA: 'ed25519', RS256: 'rsa', PS256: 'rsa' };
const KEY_NAME: Record<string, string> = { ES256: 'an EC P-256', EdDSA: 'an Ed25519', RS256: 'an RSA', PS256: 'an RSA' };
/** RFC 7518 §3.3 and §3.5: RSA keys of 2048 bits or more. */
const MIN_RSA_BITS = 2048;
const MIN_SECRET_BYTES = 32;

function toKeyObject(value: NodeJwk | string | KeyObject, kind: 'private' | 'public'): KeyObject {
  if (value instanceof KeyObject) return value;
  if (typeof value === 'string') return kind === 'private' ? createPrivateKey(value) : createPublicKey(value);
  return kind === 'private' ? createPrivateKey({ key: value, format: 'jwk' }) : createPublicKey({ key: value, format: 'jwk' });
}

/** The prefix of a secret given in base64url. */
export const B64 = 'base64url:';

function secretBytes(secret: string | Uint8Array): Uint8Array {
  if (typeof secret !== 'string') return secret;
  return secret.startsWith(B64) ? Buffer.from(secret.slice(B64.length), 'base64url') : Buffer.from(secret, 'utf8');
}

/** Builds a ring key from configuration, failing with a sentence that says what to fix. */
export function importKey(input: KeyInput, status: KeyStatus): RingKey {
  const where = `key ${JSON.stringify(input.kid)}`;
  if (typeof input.kid !== 'string' || input.kid.length === 0 || input.kid.length > 128) {
    throw new BatonConfigError('Every key needs a `kid`: a string of 1 to 128 characters.');
  }
  const use = input.use ?? (input.alg === 'dir' ? 'enc' : 'sig');
  if ((use === 'enc') !== (input.alg === 'dir') || (use === 'refresh' && input.alg !== 'HS256') || !['sig', 'enc', 'refresh'].includes(use)) {
    throw new BatonConfigError(
      `${where}: use ${JSON.stringify(use)} does not go with ${input.alg}; signing keys are HS256, ES256, EdDSA, RS256 or PS256, encryption keys 'dir', refresh-token keys HS256 with use 'refresh'.`,
    );
  }
  const base = { kid: input.kid, alg: input.alg, use, status, retiredAt: input.retiredAt };
  if (input.alg === 'HS256' || input.alg === 'dir') {
    if (input.secret === undefined) throw new BatonConfigError(`${where} (${input.alg}) needs a \`secret\` of at least 32 bytes.`);
    const bytes = secretBytes(input.secret);
    if (input.alg === 'HS256' && bytes.length < MIN_SECRET_BYTES) {
      throw new BatonConfigError(
        `${where}: an HS256 secret must be at least 256 bits (32 bytes) long (RFC 7518 §3.2); this one has ${bytes.length} bytes. Generate one with \`openssl rand -base64 32\`.`,
      );
    }
    if (input.alg === 'dir' && bytes.length !== 32) {
      throw new BatonConfigError(`${where}: a \`dir\` + A256GCM key must be exactly 32 bytes (RFC 7518 §5.3); this one has ${bytes.length}.`);
    }
    const key = createSecretKey(bytes);
    return { ...base, verifyKey: key, signKey: key };
  }
  if (!(input.alg in CURVE)) {
    throw new BatonConfigError(
      `${where}: unknown algorithm ${JSON.stringify(input.alg)}; use one of HS256, ES256, EdDSA, RS256, PS256 (or 'dir' for encryption).`,
    );
  }
  if (input.privateKey === undefined && input.publicKey === undefined) {
    throw new BatonConfigError(`${where} (${input.alg}) needs a \`privateKey\` (or a \`publicKey\` for a key that only verifies).`);
  }
  let signKey: KeyObject | undefined;
  let verifyKey: KeyObject;
  try {
    signKey = input.privateKey === undefined ? undefined : toKeyObject(input.privateKey, 'private');
    verifyKey = input.publicKey === undefined ? createPublicKey(signKey as KeyObject) : toKeyObject(input.publicKey, 'public');
  } catch (cause) {
    throw new BatonConfigError(`${where}: the key material could not be read (${(cause as Error).message}).`);
  }
  const curve = verifyKey.asymmetricKeyType === 'ec' ? verifyKey.asymmetricKeyDetails?.namedCurve : verifyKey.asymmetricKeyType;
  if (curve !== CURVE[input.alg]) {
    throw new BatonConfigError(`${where}: ${input.alg} needs ${KEY_NAME[input.alg]} key, got ${curve ?? 'another type'}.`);
  }
  const bits = verifyKey.asymmetricKeyDetails?.modulusLength;
  if (curve === 'rsa' && (bits === undefined || bits < MIN_RSA_BITS)) {
    throw new BatonConfigError(
      `${where}: an ${input.alg} key must have at least ${MIN_RSA_BITS} bits (RFC 7518 §3.3); this one has ${bits ?? 'an unknown number of'} bits. Generate one with \`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048\`.`,
    );
  }
  checkJwkMembers(input.privateKey, 'sign', input.alg, where);
  checkJwkMembers(input.publicKey, 'verify', input.alg, where);
  return { ...base, verifyKey, signKey };
}

/**
 * Generates key material for `alg`, as configuration (`KeyInput`) that can be stored and given back later.
 * @example
 * ```ts
 * import { generateKey } from 'baton-auth';
 * const key = generateKey('EdDSA'); // { kid, alg: 'EdDSA', privateKey: {...JWK} }
 * ```
 */
export function generateKey(alg: KeyAlg, kid: string = randomUUID(), use?: KeyUse): KeyInput {
  if (use === 'refresh') return { kid, alg: 'HS256', use, secret: B64 + randomBytes(32).toString('base64url') };
  if (alg === 'HS256' || alg === 'dir') return { kid, alg, secret: B64 + randomBytes(32).toString('base64url') };
  if (alg === 'ES256') {
    return { kid, alg, privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) };
  }
  if (alg === 'EdDSA') return { kid, alg, privateKey: generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) };
  if (alg === 'RS256' || alg === 'PS256')
    return { kid, alg, privateKey: generateKeyPairSync('rsa', { modulusLength: MIN_RSA_BITS }).privateKey.export({ format: 'jwk' }) };
  throw new BatonConfigError(`Cannot generate a key for unknown algorithm ${JSON.stringify(alg)}; use HS256, ES256, EdDSA, RS256, PS256 or dir.`);
}

/** A public JWK as published in the JWKS document. */
export interface PublicJwk extends NodeJwk {
  kid: string;
  alg: string;
  use: 'sig';
}

export function useOf(input: KeyInput): KeyUse {
  return input.use ?? (input.alg === 'dir' ? 'enc' : 'sig');
}

export const USE_NAME: Record<KeyUse, string> = { sig: 'signing', enc: 'encryption', refresh: 'refresh-token' };
