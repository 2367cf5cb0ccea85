/**
 * The in-process view of revocations that `verify` consults with no network round trip. It is
 * filled from the store at start-up (`revocationsSince`) and kept current by the store's
 * publish/subscribe; entries are forgotten once no token they concern can still be valid. A
 * session's entry keeps why it ended, to tell the holder of one of its tokens.
 */
import type { RevocationEvent } from './store.ts';

export class RevocationCache {
  readonly #sessions = new Map<string, RevocationEvent>();
  readonly #tokens = new Map<string, number>();
  #nextPrune = 0;

  /** Records a revocation (idempotent; the later expiry wins). */
  apply(event: RevocationEvent): void {
    if (event.kind === 'key') return; // the key ring drops the key itself
    if (event.kind === 'session') {
      const known = this.#sessions.get(event.id);
      if (known === undefined || known.expiresAt < event.expiresAt) this.#sessions.set(event.id, event);
      return;
    }
    const known = this.#tokens.get(event.id);
    if (known === undefined || known < event.expiresAt) this.#tokens.set(event.id, event.expiresAt);
  }

  /** The revocation of session `sid` while it is in force, else undefined. */
  sessionRevocation(sid: string, now: number): RevocationEvent | undefined {
    const event = this.#sessions.get(sid);
    return event !== undefined && event.expiresAt > now ? event : undefined;
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
    for (const [id, event] of this.#sessions) if (event.expiresAt <= now) this.#sessions.delete(id);
    for (const [id, until] of this.#tokens) if (until <= now) this.#tokens.delete(id);
  }
}
