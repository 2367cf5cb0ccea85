/**
 * The verified-token cache, the engine's and `remoteIssuer`'s: a token verified once is decided
 * again without its signature, until its `exp` (plus the leeway) — never after. Keyed by the
 * token's last segment (its signature or tag: short, so cheap to hash on every request); the
 * entry holds the whole token, compared on every hit. At most `max` entries, the least recently
 * used going first: losing one costs a signature check, never a wrong answer.
 */
import { LRUCache } from 'lru-cache';
import { BatonError } from '../core/errors.ts';

interface Entry<C> {
  readonly token: string;
  readonly claims: C;
  readonly validUntilMs: number;
}

const keyOf = (token: string): string => token.slice(token.lastIndexOf('.') + 1);

export class VerifiedTokenCache<C> {
  readonly #entries: LRUCache<string, Entry<C>>;

  /** @param max Entries kept, at least 1. */
  constructor(max: number) {
    this.#entries = new LRUCache({ max });
  }

  /**
   * The claims `token` was verified with, or undefined when it is not held. A hit past its end
   * is forgotten and refused (`ERR_TOKEN_EXPIRED`), as a verification without the cache would.
   */
  get(token: string, now: number): C | undefined {
    const key = keyOf(token);
    const hit = this.#entries.get(key);
    if (hit === undefined || hit.token !== token) return undefined;
    if (now >= hit.validUntilMs) {
      this.#entries.delete(key);
      throw new BatonError('ERR_TOKEN_EXPIRED', 'exp is in the past');
    }
    return hit.claims;
  }

  /** Holds `claims` for `token` until `validUntilMs` (its `exp` and the leeway, in ms). */
  set(token: string, claims: C, validUntilMs: number): void {
    this.#entries.set(keyOf(token), { token, claims, validUntilMs });
  }

  /** Forgets every token (a key left the ring: its tokens must be verified again). */
  clear(): void {
    this.#entries.clear();
  }
}
