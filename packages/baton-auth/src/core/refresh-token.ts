/**
 * Refresh tokens: `rt_<session id>.<generation>.<mac>`, opaque to clients; `rtd_…` for a session
 * bound to a DPoP key (RFC 9449 §5).
 *
 * mac = HMAC-SHA256(refresh key, "baton-rt1." ‖ session id ‖ "." ‖ generation), and for a bound
 * session ‖ ".dpop." ‖ the key's thumbprint: only a proof by that key yields the thumbprint that
 * makes the MAC right, so a copied token without the key fails before the store is touched. Nothing per
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

const FORMAT = /^rt(d?)_([A-Za-z0-9_-]{22})\.(0|[1-9][0-9]{0,14})\.([A-Za-z0-9_-]{43})$/;

/** A refresh token taken apart. */
export interface ParsedRefreshToken {
  sessionId: string;
  generation: number;
  /** Bound to a DPoP key: refreshing it takes a proof by that key. */
  bound: boolean;
}

function mac(key: KeyObject, sessionId: string, generation: number, jkt: string | undefined): Buffer {
  return createHmac('sha256', key)
    .update(jkt === undefined ? `baton-rt1.${sessionId}.${generation}` : `baton-rt1.${sessionId}.${generation}.dpop.${jkt}`)
    .digest();
}

/** The parts of a token of the right shape (nothing checked), with its MAC. */
function split(token: string): (ParsedRefreshToken & { presented: Buffer; encoded: string }) | undefined {
  const match = typeof token === 'string' ? FORMAT.exec(token) : null;
  if (match === null) return undefined;
  const [, d, sessionId, gen, encoded] = match as unknown as [string, string, string, string, string];
  return { sessionId, generation: Number(gen), bound: d === 'd', presented: Buffer.from(encoded, 'base64url'), encoded };
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

  /** The refresh token of `generation` in session `sessionId` (bound to the key of thumbprint `jkt`, if any), under the active refresh key. */
  mint(sessionId: string, generation: number, jkt?: string): string {
    const key = this.#ring.active('refresh');
    if (key === undefined) throw new BatonError('ERR_CONFIG', 'no active refresh-token key');
    return `rt${jkt === undefined ? '' : 'd'}_${sessionId}.${generation}.${mac(key.verifyKey, sessionId, generation, jkt).toString('base64url')}`;
  }

  /** True when `token` has the shape of a refresh token (says nothing of its validity). */
  static looksLike(token: string): boolean {
    return token.startsWith('rt_') || token.startsWith('rtd_');
  }

  /** The session of a token of the right shape, and whether it says it is bound; nothing is checked. */
  static sessionOf(token: string): { sessionId: string; bound: boolean } | undefined {
    const parts = split(token);
    return parts === undefined ? undefined : { sessionId: parts.sessionId, bound: parts.bound };
  }

  /**
   * When the refresh key that minted `token` was taken out of service, if one was (its MAC is
   * right under a revoked key): what tells its holder why it no longer works. Else undefined.
   */
  revokedKeyOf(token: string, now: number, jkt?: string): number | undefined {
    const parts = split(token);
    if (parts === undefined || parts.bound !== (jkt !== undefined)) return undefined;
    for (const { key, at } of this.#ring.revokedKeys('refresh', now)) {
      if (timingSafeEqual(mac(key.verifyKey, parts.sessionId, parts.generation, jkt), parts.presented)) return at;
    }
    return undefined;
  }

  /**
   * Returns the session and generation of an authentic token, or undefined (timing-safe). A bound
   * token is authentic only with the thumbprint `jkt` of its key (that of a verified proof, or the
   * session's own); an unbound one ignores `jkt`.
   */
  parse(token: string, now: number, jkt?: string): ParsedRefreshToken | undefined {
    const parts = split(token);
    if (parts === undefined || parts.presented.toString('base64url') !== parts.encoded) return undefined; // one encoding per token
    if (parts.bound && jkt === undefined) return undefined;
    const bound = parts.bound ? jkt : undefined;
    let ok = false;
    for (const key of this.#refreshKeys())
      ok = (timingSafeEqual(mac(key.verifyKey, parts.sessionId, parts.generation, bound), parts.presented) && this.#ring.usable(key, now)) || ok;
    return ok ? { sessionId: parts.sessionId, generation: parts.generation, bound: parts.bound } : undefined;
  }
}
