/**
 * Refresh tokens: `rt_<session id>.<generation>.<mac>`, opaque to clients.
 *
 * mac = HMAC-SHA256(refresh key, "baton-rt1." ‖ session id ‖ "." ‖ generation). Nothing per
 * token is stored: the session record holds its current generation, and any generation's token
 * can be derived again (the grace window hands racers the current one). The MAC is checked before
 * the store is touched, so a forged token has no side effect and a rotation costs one store round
 * trip; a copy of the store cannot mint tokens without the key (RFC 9700 §4.14.2).
 *
 * The keys are the ring's `refresh` keys: the active one mints, every usable one verifies, so the
 * secret rotates like the signing keys without logging anyone out.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { BatonError } from './errors.ts';
import type { KeyRing, RingKey } from './keys.ts';

const FORMAT = /^rt_([A-Za-z0-9_-]{22})\.(0|[1-9][0-9]{0,14})\.([A-Za-z0-9_-]{43})$/;

/** A refresh token taken apart. */
export interface ParsedRefreshToken {
  sessionId: string;
  generation: number;
}

function mac(key: KeyObject, sessionId: string, generation: number): Buffer {
  return createHmac('sha256', key).update(`baton-rt1.${sessionId}.${generation}`).digest();
}

/** Mints and checks refresh tokens with the ring's refresh keys. */
export class RefreshTokenCodec {
  readonly #ring: KeyRing;
  #keys: RingKey[] = [];
  #version = -1;

  constructor(ring: KeyRing) {
    this.#ring = ring;
  }

  #refreshKeys(): RingKey[] {
    if (this.#version !== this.#ring.version) {
      this.#keys = this.#ring.list().filter((k) => k.use === 'refresh');
      this.#version = this.#ring.version;
    }
    return this.#keys;
  }

  /** The refresh token of `generation` in session `sessionId`, under the active refresh key. */
  mint(sessionId: string, generation: number): string {
    const key = this.#ring.active('refresh');
    if (key === undefined) throw new BatonError('ERR_CONFIG', 'no active refresh-token key');
    return `rt_${sessionId}.${generation}.${mac(key.verifyKey, sessionId, generation).toString('base64url')}`;
  }

  /** True when `token` has the shape of a refresh token (says nothing of its validity). */
  static looksLike(token: string): boolean {
    return token.startsWith('rt_');
  }

  /**
   * When the refresh key that minted `token` was taken out of service, if one was (its MAC is
   * right under a revoked key): what tells its holder why it no longer works. Else undefined.
   */
  revokedKeyOf(token: string, now: number): number | undefined {
    const match = typeof token === 'string' ? FORMAT.exec(token) : null;
    if (match === null) return undefined;
    const [, sessionId, gen, presentedMac] = match as unknown as [string, string, string, string];
    const presented = Buffer.from(presentedMac, 'base64url');
    for (const { key, at } of this.#ring.revokedKeys('refresh', now)) {
      if (timingSafeEqual(mac(key.verifyKey, sessionId, Number(gen)), presented)) return at;
    }
    return undefined;
  }

  /** Returns the session and generation of an authentic token, or undefined (timing-safe). */
  parse(token: string, now: number): ParsedRefreshToken | undefined {
    const match = typeof token === 'string' ? FORMAT.exec(token) : null;
    if (match === null) return undefined;
    const [, sessionId, gen, presentedMac] = match as unknown as [string, string, string, string];
    const generation = Number(gen);
    const presented = Buffer.from(presentedMac, 'base64url');
    if (presented.toString('base64url') !== presentedMac) return undefined; // one encoding per token
    let ok = false;
    for (const key of this.#refreshKeys()) ok = (timingSafeEqual(mac(key.verifyKey, sessionId, generation), presented) && this.#ring.usable(key, now)) || ok;
    return ok ? { sessionId, generation } : undefined;
  }
}
