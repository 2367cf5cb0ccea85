/**
 * Refresh tokens: `rt_<session id>.<generation>.<mac>`, opaque to clients.
 *
 * mac = HMAC-SHA256(refreshSecret, "baton-rt1." ‖ session id ‖ "." ‖ generation). Nothing per
 * token is stored: the session record holds its current generation, and any generation's token
 * can be derived again (the grace window hands racers the current one). The MAC is checked before
 * the store is touched, so a forged token has no side effect and a rotation costs one store round
 * trip; a leaked store cannot mint tokens without the secret (RFC 9700 §4.14.2).
 */
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

const FORMAT = /^rt_([A-Za-z0-9_-]{22})\.(0|[1-9][0-9]{0,14})\.([A-Za-z0-9_-]{43})$/;

/** A refresh token taken apart. */
export interface ParsedRefreshToken {
  sessionId: string;
  generation: number;
}

/** Mints and checks refresh tokens with one current secret and any number of previous ones. */
export class RefreshTokenCodec {
  readonly #keys: KeyObject[];

  /** `secrets[0]` mints; all of them verify (to rotate the secret without logging anyone out). */
  constructor(secrets: readonly Uint8Array[]) {
    this.#keys = secrets.map((s) => createSecretKey(s));
  }

  #mac(key: KeyObject, sessionId: string, generation: number): Buffer {
    return createHmac('sha256', key).update(`baton-rt1.${sessionId}.${generation}`).digest();
  }

  /** The refresh token of `generation` in session `sessionId`. */
  mint(sessionId: string, generation: number): string {
    return `rt_${sessionId}.${generation}.${this.#mac(this.#keys[0] as KeyObject, sessionId, generation).toString('base64url')}`;
  }

  /** True when `token` has the shape of a refresh token (says nothing of its validity). */
  static looksLike(token: string): boolean {
    return token.startsWith('rt_');
  }

  /** Returns the session and generation of an authentic token, or undefined (timing-safe). */
  parse(token: string): ParsedRefreshToken | undefined {
    const match = typeof token === 'string' ? FORMAT.exec(token) : null;
    if (match === null) return undefined;
    const [, sessionId, gen, mac] = match as unknown as [string, string, string, string];
    const generation = Number(gen);
    const presented = Buffer.from(mac, 'base64url');
    if (presented.toString('base64url') !== mac) return undefined; // one encoding per token
    let ok = false;
    for (const key of this.#keys) ok = timingSafeEqual(this.#mac(key, sessionId, generation), presented) || ok;
    return ok ? { sessionId, generation } : undefined;
  }
}
