/**
 * Server nonces (RFC 9449 §8): derived from a secret and the time step (HKDF), so every instance
 * that shares the secret issues and accepts the same nonces without storing any. The current
 * nonce and the one before it are accepted.
 */
import { hkdfSync, timingSafeEqual } from 'node:crypto';
import { BatonError } from '../core/errors.ts';
import type { KeyRing } from '../core/keys.ts';

/** The nonces of one secret (or of whatever secret a function returns now), step by step. */
export class DpopNonces {
  readonly #secret: () => Uint8Array;
  readonly #now: () => number;
  readonly #step: number;
  /** The nonces made lately, per secret and step: each is derived once, not at every token request. */
  #nonces: { secret: Uint8Array; byStep: Map<number, string> } | undefined;

  /** `stepSec`: how long a nonce lasts, in seconds. */
  constructor(secret: Uint8Array | (() => Uint8Array), now: () => number, stepSec: number) {
    this.#secret = typeof secret === 'function' ? secret : () => secret;
    this.#now = now;
    this.#step = stepSec;
  }

  #nonceAt(step: number): string {
    const secret = this.#secret();
    if (this.#nonces?.secret !== secret) this.#nonces = { secret, byStep: new Map() };
    let nonce = this.#nonces.byStep.get(step);
    if (nonce === undefined) {
      const salt = Buffer.alloc(8);
      salt.writeBigUInt64BE(BigInt(step));
      nonce = Buffer.from(hkdfSync('sha256', secret, salt, 'baton dpop nonce', 24)).toString('base64url');
      if (this.#nonces.byStep.size >= 4) this.#nonces.byStep.clear(); // the current step and the one before are what is asked for
      this.#nonces.byStep.set(step, nonce);
    }
    return nonce;
  }

  /** The nonce a client should use now (`DPoP-Nonce`). */
  current(): string {
    return this.#nonceAt(Math.floor(this.#now() / 1000 / this.#step));
  }

  /** True for the current nonce or the one before it, compared in constant time. */
  isFresh(nonce: string): boolean {
    const step = Math.floor(this.#now() / 1000 / this.#step);
    const given = Buffer.from(nonce);
    let ok = false;
    for (const s of [step, step - 1]) {
      const expected = Buffer.from(this.#nonceAt(s));
      if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
    }
    return ok;
  }
}

/**
 * The nonce secret of an engine: the ring's active refresh key, shared by every instance and never
 * published (HKDF separates the nonces from the MACs it makes). A rotation of that key changes the
 * nonce, which costs a client one `use_dpop_nonce` answer.
 */
export function ringNonceSecret(ring: KeyRing): () => Uint8Array {
  let nonceKey: { version: number; bytes: Uint8Array } | undefined;
  return () => {
    if (nonceKey?.version !== ring.version) {
      const key = ring.active('refresh');
      if (key === undefined) throw new BatonError('ERR_STORE_UNAVAILABLE', 'no active refresh-token key: the key ring is being reloaded');
      nonceKey = { version: ring.version, bytes: key.verifyKey.export() };
    }
    return nonceKey.bytes;
  };
}
