import { createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync, KeyObject, randomBytes, randomUUID } from 'node:crypto';
import type { JsonWebKey as NodeJwk } from 'node:crypto';
import { BatonConfigError } from './errors.ts';

/** Algorithms Baton signs access tokens with. `alg: none` is never one of them. */
export type SigningAlg = 'HS256' | 'ES256' | 'EdDSA';
/** `dir` + `A256GCM` content encryption, for the `jwe` access-token format. */
export type EncryptionAlg = 'dir';
export type KeyAlg = SigningAlg | EncryptionAlg;

/**
 * `next`: published (JWKS) but not used yet; `active`: signs (or encrypts) new tokens;
 * `retired`: only verifies tokens issued before it retired.
 */
export type KeyStatus = 'next' | 'active' | 'retired';

/** Key material as given in configuration. */
export interface KeyInput {
  /** Key id, put in the `kid` header of every token this key signs. */
  kid: string;
  /** The one algorithm this key is used with (RFC 8725 §3.1: pin algorithms per key). */
  alg: KeyAlg;
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
  /** When the key retired (ms since the epoch); it keeps verifying for one access-token lifetime after. */
  retiredAt?: number;
}

/** A key as the ring holds it. */
export interface RingKey {
  readonly kid: string;
  readonly alg: KeyAlg;
  status: KeyStatus;
  retiredAt: number | undefined;
  /** Secret (HS256, dir) or public key (ES256, EdDSA). */
  readonly verifyKey: KeyObject;
  /** Secret or private key; undefined for verify-only keys. */
  readonly signKey: KeyObject | undefined;
}

const SIGNING_ALGS: readonly string[] = ['HS256', 'ES256', 'EdDSA'];
const CURVE: Record<string, string> = { ES256: 'prime256v1', EdDSA: 'ed25519' };
const MIN_SECRET_BYTES = 32;

function toKeyObject(value: NodeJwk | string | KeyObject, kind: 'private' | 'public'): KeyObject {
  if (value instanceof KeyObject) return value;
  if (typeof value === 'string') return kind === 'private' ? createPrivateKey(value) : createPublicKey(value);
  return kind === 'private' ? createPrivateKey({ key: value, format: 'jwk' }) : createPublicKey({ key: value, format: 'jwk' });
}

const B64 = 'base64url:';

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
  const base = { kid: input.kid, alg: input.alg, status, retiredAt: input.retiredAt };
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
  if (input.alg !== 'ES256' && input.alg !== 'EdDSA') {
    throw new BatonConfigError(`${where}: unknown algorithm ${JSON.stringify(input.alg)}; use one of HS256, ES256, EdDSA (or 'dir' for encryption).`);
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
    throw new BatonConfigError(`${where}: ${input.alg} needs ${input.alg === 'ES256' ? 'an EC P-256' : 'an Ed25519'} key, got ${curve ?? 'another type'}.`);
  }
  return { ...base, verifyKey, signKey };
}

/** A JWK with the members that say what the key is for (RFC 7517 §4). */
export interface Jwk extends NodeJwk {
  kid?: string;
  use?: string;
  key_ops?: string[];
  alg?: string;
}

/**
 * Imports a public (or private) JWK as a verify-only key for `alg`, refusing a key meant for
 * something else: `use` other than `sig` (RFC 7517 §4.2), `key_ops` without `verify` (§4.3), or
 * an `alg` other than the pinned one (§4.4).
 */
export function importVerificationJwk(jwk: Jwk, alg: SigningAlg): RingKey {
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new BatonConfigError(`JWK ${JSON.stringify(jwk.kid)} is for use ${JSON.stringify(jwk.use)}, not signatures.`);
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes('verify')) throw new BatonConfigError(`JWK ${JSON.stringify(jwk.kid)} does not allow the verify operation.`);
  if (jwk.alg !== undefined && jwk.alg !== alg) throw new BatonConfigError(`JWK ${JSON.stringify(jwk.kid)} is for ${jwk.alg}, not ${alg}.`);
  const kid = jwk.kid ?? 'jwk';
  if (jwk.kty === 'oct') return importKey({ kid, alg, secret: Buffer.from(jwk.k ?? '', 'base64url') }, 'retired');
  const { d: _private, ...publicJwk } = jwk;
  return importKey({ kid, alg, publicKey: publicJwk }, 'retired');
}

/**
 * Generates key material for `alg`, as configuration (`KeyInput`) that can be stored and given back later.
 * @example
 * ```ts
 * import { generateKey } from 'baton';
 * const key = generateKey('EdDSA'); // { kid, alg: 'EdDSA', privateKey: {...JWK} }
 * ```
 */
export function generateKey(alg: KeyAlg, kid: string = randomUUID()): KeyInput {
  if (alg === 'HS256' || alg === 'dir') return { kid, alg, secret: B64 + randomBytes(32).toString('base64url') };
  if (alg === 'ES256') {
    return { kid, alg, privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) };
  }
  if (alg === 'EdDSA') return { kid, alg, privateKey: generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) };
  throw new BatonConfigError(`Cannot generate a key for unknown algorithm ${JSON.stringify(alg)}; use HS256, ES256, EdDSA or dir.`);
}

/** A public JWK as published in the JWKS document. */
export interface PublicJwk extends NodeJwk {
  kid: string;
  alg: string;
  use: 'sig';
}

function purpose(alg: KeyAlg): 'sig' | 'enc' {
  return alg === 'dir' ? 'enc' : 'sig';
}

/**
 * The keys that sign, encrypt and verify access tokens: one active key per use (signing,
 * encryption), keys published ahead of use, retired keys that keep verifying until the tokens
 * they signed expire.
 */
export class KeyRing {
  readonly #keys = new Map<string, RingKey>();
  #version = 0;

  /** Changes whenever the ring does, so that caches of resolved keys know to drop themselves. */
  get version(): number {
    return this.#version;
  }

  constructor(keys: readonly KeyInput[]) {
    if (!Array.isArray(keys) || keys.length === 0) {
      throw new BatonConfigError('`keys` must list at least one key, e.g. `keys: [generateKey(\'HS256\')]`.');
    }
    const statuses = KeyRing.#statuses(keys);
    keys.forEach((input, i) => {
      if (this.#keys.has(input.kid)) throw new BatonConfigError(`Two keys share the kid ${JSON.stringify(input.kid)}; every kid must be unique.`);
      this.#keys.set(input.kid, importKey(input, statuses[i] as KeyStatus));
    });
    const signer = this.active('sig');
    if (signer === undefined) throw new BatonConfigError('No signing key is active: mark one HS256, ES256 or EdDSA key `status: \'active\'`.');
    if (signer.signKey === undefined) throw new BatonConfigError(`The active key ${JSON.stringify(signer.kid)} has no private key, so it cannot sign.`);
  }

  /** The status of each key: as given, else `active` for the first key of its use and `retired` after it. */
  static #statuses(keys: readonly KeyInput[]): KeyStatus[] {
    const seenActive = new Set<string>();
    return keys.map((input) => {
      const use = purpose(input.alg);
      const status = input.status ?? (seenActive.has(use) ? 'retired' : 'active');
      if (status === 'active') {
        if (seenActive.has(use)) throw new BatonConfigError(`Only one ${use === 'sig' ? 'signing' : 'encryption'} key may be active; key ${JSON.stringify(input.kid)} is a second one.`);
        seenActive.add(use);
      }
      return status;
    });
  }

  /** The key a token names in its `kid` header, if the ring has it. */
  get(kid: string): RingKey | undefined {
    return this.#keys.get(kid);
  }

  /** The active key of a use (`sig` signs JWTs, `enc` encrypts JWEs). */
  active(use: 'sig' | 'enc'): RingKey | undefined {
    for (const key of this.#keys.values()) if (key.status === 'active' && purpose(key.alg) === use) return key;
    return undefined;
  }

  /** All keys, in insertion order. */
  list(): RingKey[] {
    return [...this.#keys.values()];
  }

  /** Adds a key; `next` keys are published in JWKS now and become active at the next `rotate()`. */
  add(input: KeyInput, status: KeyStatus = 'next'): RingKey {
    if (this.#keys.has(input.kid)) throw new BatonConfigError(`A key with kid ${JSON.stringify(input.kid)} is already in the ring.`);
    const key = importKey(input, status === 'active' ? 'next' : status);
    this.#keys.set(key.kid, key);
    this.#version++;
    if (status === 'active') this.promote(key.kid, Date.now());
    return key;
  }

  /**
   * Rotates the key of `alg`'s use: the published `next` key (or a new one) becomes active, the
   * active key retires, and a fresh `next` key is published so that verifiers see it before it signs.
   */
  rotate(alg: KeyAlg, now: number): { active: RingKey; next: RingKey } {
    const use = purpose(alg);
    let next = this.list().find((k) => k.status === 'next' && purpose(k.alg) === use && k.alg === alg);
    next ??= this.add(generateKey(alg));
    this.promote(next.kid, now);
    const upcoming = this.add(generateKey(alg));
    return { active: next, next: upcoming };
  }

  /** Makes `kid` the active key of its use and retires the previous one at `now`. */
  promote(kid: string, now: number): void {
    const key = this.#keys.get(kid);
    if (key === undefined) throw new BatonConfigError(`No key with kid ${JSON.stringify(kid)} in the ring.`);
    if (key.signKey === undefined) throw new BatonConfigError(`Key ${JSON.stringify(kid)} has no private key, so it cannot become active.`);
    const current = this.active(purpose(key.alg));
    if (current !== undefined && current !== key) {
      current.status = 'retired';
      current.retiredAt = now;
    }
    key.status = 'active';
    key.retiredAt = undefined;
    this.#version++;
  }

  /**
   * Brings the ring in line with a saved copy (another instance rotated): new keys are added,
   * statuses follow, keys the copy no longer has are dropped. Returns whether anything changed.
   */
  sync(saved: readonly KeyInput[]): boolean {
    let changed = false;
    const kids = new Set(saved.map((k) => k.kid));
    const statuses = KeyRing.#statuses(saved);
    for (const [i, input] of saved.entries()) {
      const status = statuses[i] as KeyStatus;
      const key = this.#keys.get(input.kid);
      if (key === undefined) {
        this.#keys.set(input.kid, importKey(input, status));
        changed = true;
      } else if (key.status !== status || key.retiredAt !== input.retiredAt) {
        key.status = status;
        key.retiredAt = input.retiredAt;
        changed = true;
      }
    }
    for (const kid of [...this.#keys.keys()]) {
      if (!kids.has(kid)) {
        this.#keys.delete(kid);
        changed = true;
      }
    }
    if (changed) this.#version++;
    return changed;
  }

  /** Drops retired keys that retired more than `maxTokenAgeMs` ago: no token they signed is still valid. */
  prune(now: number, maxTokenAgeMs: number): string[] {
    const dropped: string[] = [];
    for (const key of this.#keys.values()) {
      if (key.status === 'retired' && key.retiredAt !== undefined && key.retiredAt + maxTokenAgeMs < now) {
        this.#keys.delete(key.kid);
        dropped.push(key.kid);
        this.#version++;
      }
    }
    return dropped;
  }

  /** The public JWKS document (RFC 7517 §5): asymmetric signing keys only; secrets never leave. */
  jwks(): { keys: PublicJwk[] } {
    const keys: PublicJwk[] = [];
    for (const key of this.#keys.values()) {
      if (!SIGNING_ALGS.includes(key.alg) || key.alg === 'HS256') continue;
      keys.push({ ...key.verifyKey.export({ format: 'jwk' }), kid: key.kid, alg: key.alg, use: 'sig' });
    }
    return { keys };
  }

  /** The ring as configuration, private material included, for a store that keeps the keys. */
  export(): KeyInput[] {
    return this.list().map((key) => {
      const out: KeyInput = { kid: key.kid, alg: key.alg, status: key.status };
      if (key.retiredAt !== undefined) out.retiredAt = key.retiredAt;
      if (key.alg === 'HS256' || key.alg === 'dir') out.secret = B64 + key.verifyKey.export().toString('base64url');
      else if (key.signKey) out.privateKey = key.signKey.export({ format: 'jwk' });
      else out.publicKey = key.verifyKey.export({ format: 'jwk' });
      return out;
    });
  }
}
