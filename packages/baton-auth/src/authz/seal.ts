/**
 * Sealed values of the authorization server: codes, pushed requests, transactions, the
 * authorization-server session cookie and CSRF values travel through the browser or the client
 * sealed (encrypted and authenticated), so that the server keeps no state for them and nothing in
 * them can be read or changed on the way.
 *
 * AES-256-GCM (node:crypto, not jose's `dir`+`A256GCM` JWE): the same AEAD without a JSON header
 * to parse from the caller's input before the tag is checked, 60 characters shorter per value
 * (a code travels in a URL), and synchronous. Keys: HKDF-SHA256 (RFC 5869) of each of the engine's
 * refresh keys with info `baton authz <purpose>`, so a key of one purpose opens nothing of another,
 * and nothing sealed here is a refresh-token MAC. The ring's active refresh key seals; every
 * retained one opens (a key rotation does not break a flow in progress; a revoked key opens nothing).
 *
 * Format (base64url, no padding): version (1 byte) ‖ key hint (4) ‖ IV (12) ‖ ciphertext ‖ tag (16);
 * the version, hint and purpose are the additional data. The plaintext is `{ e: expiry ms, p: payload }`.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Baton } from '../core/baton.ts';
import { BatonError } from '../core/errors.ts';
import type { RingKey } from '../core/keys.ts';

/** What a sealed value is for: a value sealed for one purpose never opens for another. */
export type SealPurpose = 'code' | 'par' | 'txn' | 'as' | 'csrf' | 'webauthn' | 'upstream';

/** Seals and opens values for the authorization server (`createSealer`). */
export interface Sealer {
  /** `payload` (JSON-serialisable) sealed for `purpose`, valid for `ttlMs` on the engine's clock. */
  seal(purpose: SealPurpose, payload: unknown, ttlMs: number): Promise<string>;
  /** The payload, or undefined when `sealed` is not ours, was changed, expired, or is of another purpose. */
  open<T>(purpose: SealPurpose, sealed: string): Promise<T | undefined>;
}

const VERSION = 1;
const HINT = 4;
const IV = 12;
const TAG = 16;
const HEADER = 1 + HINT + IV;
/** The longest sealed value opened (a pushed request with its parameters fits): longer ones are refused unread. */
export const MAX_SEALED_CHARS = 12_000;
const B64URL = /^[A-Za-z0-9_-]+$/;

interface PurposeKey {
  hint: Buffer;
  key: Buffer;
}

const PURPOSES: readonly SealPurpose[] = ['code', 'par', 'txn', 'as', 'csrf', 'webauthn', 'upstream'];

/** One refresh key of the ring with what is derived from it: its hint and a key per purpose. */
interface Derived {
  ring: RingKey;
  hint: Buffer;
  keys: Map<SealPurpose, Buffer>;
}

function derive(ring: RingKey): Derived {
  const secret = ring.verifyKey.export();
  const keys = new Map<SealPurpose, Buffer>();
  for (const p of PURPOSES) keys.set(p, Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `baton authz ${p}`, 32)));
  return { ring, hint: Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'baton authz key hint', HINT)), keys };
}

/**
 * The refresh keys of the ring, derived once per version of the ring: the active one (seals) and
 * those that still open — retired ones within their retention (`KeyRing.usable`, read at each call).
 */
function ringKeys(baton: Baton): () => { active: Derived | undefined; open: Derived[] } {
  let cache: { version: number; all: Derived[] } | undefined;
  return () => {
    const ring = baton.keys;
    if (cache?.version !== ring.version) {
      cache = {
        version: ring.version,
        all: ring
          .list()
          .filter((k) => k.use === 'refresh')
          .map(derive),
      };
    }
    const now = baton.now();
    return { active: cache.all.find((d) => d.ring.status === 'active'), open: cache.all.filter((d) => ring.usable(d.ring, now)) };
  };
}

function purposeKey(d: Derived, purpose: SealPurpose): PurposeKey {
  return { hint: d.hint, key: d.keys.get(purpose) as Buffer };
}

function aad(header: Buffer, purpose: SealPurpose): Buffer {
  return Buffer.concat([header.subarray(0, 1 + HINT), Buffer.from(`.${purpose}`)]);
}

function decrypt(k: PurposeKey, purpose: SealPurpose, raw: Buffer): Buffer | undefined {
  const header = raw.subarray(0, HEADER);
  const decipher = createDecipheriv('aes-256-gcm', k.key, header.subarray(1 + HINT), { authTagLength: TAG });
  decipher.setAAD(aad(header, purpose));
  decipher.setAuthTag(raw.subarray(raw.length - TAG));
  try {
    return Buffer.concat([decipher.update(raw.subarray(HEADER, raw.length - TAG)), decipher.final()]);
  } catch {
    return undefined;
  }
}

/**
 * The sealer of `baton`: keys from its refresh keys (see the module comment), expiry on its clock.
 * @example
 * ```ts
 * const sealer = createSealer(baton);
 * const sealed = await sealer.seal('txn', { clientId: 'web' }, 600_000);
 * const txn = await sealer.open<{ clientId: string }>('txn', sealed); // undefined once expired
 * ```
 */
export function createSealer(baton: Baton): Sealer {
  const keys = ringKeys(baton);
  return {
    async seal(purpose, payload, ttlMs) {
      if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new BatonError('ERR_INVALID_ARGUMENT', 'seal: ttlMs must be a positive number of milliseconds');
      const m = keys().active;
      if (m === undefined) throw new BatonError('ERR_STORE_UNAVAILABLE', 'no active refresh-token key: the key ring is being reloaded');
      const k = purposeKey(m, purpose);
      const header = Buffer.concat([Buffer.from([VERSION]), k.hint, randomBytes(IV)]);
      const cipher = createCipheriv('aes-256-gcm', k.key, header.subarray(1 + HINT), { authTagLength: TAG });
      cipher.setAAD(aad(header, purpose));
      const plain = Buffer.from(JSON.stringify({ e: baton.now() + ttlMs, p: payload }));
      return Buffer.concat([header, cipher.update(plain), cipher.final(), cipher.getAuthTag()]).toString('base64url');
    },
    async open<T>(purpose: SealPurpose, sealed: string): Promise<T | undefined> {
      // Cheap checks first: the length and alphabet, then the key hint; only then a decryption.
      if (typeof sealed !== 'string' || sealed.length > MAX_SEALED_CHARS || !B64URL.test(sealed)) return undefined;
      const raw = Buffer.from(sealed, 'base64url');
      if (raw.length < HEADER + TAG || raw[0] !== VERSION || raw.toString('base64url') !== sealed) return undefined;
      for (const m of keys().open) {
        const k = purposeKey(m, purpose);
        if (!k.hint.equals(raw.subarray(1, 1 + HINT))) continue;
        const plain = decrypt(k, purpose, raw);
        if (plain === undefined) continue;
        const value = JSON.parse(plain.toString('utf8')) as { e: number; p: T };
        return typeof value.e === 'number' && baton.now() < value.e ? value.p : undefined;
      }
      return undefined;
    },
  };
}
