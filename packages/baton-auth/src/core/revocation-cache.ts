/**
 * The in-process view of revocations that `verify` consults with no network round trip. It is
 * filled from the store at start-up (`revocationsSince`) and kept current by the store's
 * publish/subscribe; entries are forgotten once no token they concern can still be valid.
 */
import type { RevocationEvent } from '../stores/types.ts';

export class RevocationCache {
  readonly #sessions = new Map<string, number>();
  readonly #tokens = new Map<string, number>();
  #nextPrune = 0;

  /** Records a revocation (idempotent; the later expiry wins). */
  apply(event: RevocationEvent): void {
    if (event.kind === 'key') return; // the key ring drops the key itself
    const map = event.kind === 'session' ? this.#sessions : this.#tokens;
    const known = map.get(event.id);
    if (known === undefined || known < event.expiresAt) map.set(event.id, event.expiresAt);
  }

  /** True when session `sid` is revoked. */
  isSessionRevoked(sid: string, now: number): boolean {
    const until = this.#sessions.get(sid);
    return until !== undefined && until > now;
  }

  /** True when the access token `jti` is on the denylist. */
  isTokenRevoked(jti: string, now: number): boolean {
    const until = this.#tokens.get(jti);
    return until !== undefined && until > now;
  }

  /** Forgets expired entries, at most once a second. */
  prune(now: number): void {
    if (now < this.#nextPrune) return;
    this.#nextPrune = now + 1000;
    for (const map of [this.#sessions, this.#tokens]) for (const [id, until] of map) if (until <= now) map.delete(id);
  }
}
