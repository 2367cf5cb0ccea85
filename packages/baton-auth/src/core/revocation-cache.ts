/**
 * The in-process view of revocations that `verify` consults with no network round trip. It is
 * filled from the store at start-up (`revocationsSince`) and kept current by the store's
 * publish/subscribe; entries are forgotten once no token they concern can still be valid. A
 * session's entry keeps why it ended, to tell the holder of one of its tokens.
 *
 * Each entry ends on two clocks: the engine's (`expiresAt`) and a monotonic deadline set when it
 * arrives, its whole lifetime as the revoking instance meant it (`expiresAt - at`) or the time it
 * has left on this clock, whichever is longer. It is in force until both have passed, so a step of
 * the engine's clock (forward, then back), or an event that arrives while this clock is ahead of
 * the one that revoked, never forgets a revocation a token can still outlive.
 */
import { monotonic as performanceNow } from './clock.ts';
import type { RevocationEvent } from './store.ts';

interface Entry<T> {
  value: T;
  expiresAt: number;
  /** On the monotonic clock. */
  deadline: number;
}

export class RevocationCache {
  readonly #sessions = new Map<string, Entry<RevocationEvent>>();
  readonly #tokens = new Map<string, Entry<undefined>>();
  readonly #monotonic: () => number;
  #nextPrune = Number.NEGATIVE_INFINITY;

  /** @param monotonic A clock that never steps, in ms (default `performance.now`). */
  constructor(monotonic: () => number = performanceNow) {
    this.#monotonic = monotonic;
  }

  /** Records a revocation learnt at `now` (idempotent; the later expiry wins, on each clock). */
  apply(event: RevocationEvent, now: number): void {
    if (event.kind === 'key') return; // the key ring drops the key itself
    // Never dropped on arrival because this clock says it expired: it may be ahead, and come back.
    const deadline = this.#monotonic() + Math.max(0, event.expiresAt - now, event.expiresAt - event.at);
    const merge = <T>(known: Entry<T> | undefined, value: T): Entry<T> => known === undefined ? { value, expiresAt: event.expiresAt, deadline } : {
      value: known.expiresAt < event.expiresAt ? value : known.value,
      expiresAt: Math.max(known.expiresAt, event.expiresAt),
      deadline: Math.max(known.deadline, deadline),
    };
    if (event.kind === 'session') this.#sessions.set(event.id, merge(this.#sessions.get(event.id), event));
    else this.#tokens.set(event.id, merge(this.#tokens.get(event.id), undefined));
  }

  #inForce(entry: Entry<unknown> | undefined, now: number): boolean {
    return entry !== undefined && (entry.expiresAt > now || entry.deadline > this.#monotonic());
  }

  /** The revocation of session `sid` while it is in force, else undefined. */
  sessionRevocation(sid: string, now: number): RevocationEvent | undefined {
    const entry = this.#sessions.get(sid);
    return this.#inForce(entry, now) ? entry?.value : undefined;
  }

  /** True when the access token `jti` is on the denylist. */
  isTokenRevoked(jti: string, now: number): boolean {
    return this.#inForce(this.#tokens.get(jti), now);
  }

  /** Forgets entries expired on both clocks, at most once a second (of the monotonic clock). */
  prune(now: number): void {
    const m = this.#monotonic();
    if (m < this.#nextPrune) return;
    this.#nextPrune = m + 1000;
    for (const map of [this.#sessions, this.#tokens] as Map<string, Entry<unknown>>[]) {
      for (const [id, entry] of map) if (!this.#inForce(entry, now)) map.delete(id);
    }
  }

  /** How many revocations are held (sessions and tokens). */
  get size(): number {
    return this.#sessions.size + this.#tokens.size;
  }
}
