/**
 * Revocations in force, held in memory so that a verifier consults them without a round trip:
 * the engine's (fed by its store's subscription) and `remoteIssuer`'s (fed by the issuer's
 * revocation feed) are this one class. Entries are forgotten once no token they concern can still
 * be valid, never sooner.
 *
 * Each entry ends on two clocks: the verifier's (`until`, the event's `expiresAt`) and a monotonic
 * deadline set when it arrives, its whole lifetime as the revoking side meant it
 * (`expiresAt - at`) or the time it has left on this clock, whichever is longer. It is in force
 * until both have passed, so a step of the verifier's clock (forward, then back), or an event that
 * arrives while this clock is ahead of the one that revoked, never forgets a revocation a token
 * can still outlive.
 *
 * Bounded when asked (`max`, `maxLifetimeMs`: a source that is not trusted to keep its numbers
 * sane): past `max` entries in force of one kind, `apply` refuses the event (`false`) — no entry
 * in force is ever dropped to make room; the caller decides (`remoteIssuer` fails closed).
 */
import { monotonic as performanceNow } from '../core/clock.ts';

/** What a revocation says, at the least. */
export interface Revocation {
  kind: 'session' | 'token' | 'key';
  id: string;
  /** When it was made, ms since the epoch on the revoking side's clock. */
  at: number;
  /** After this no token it concerns can still be valid. */
  expiresAt: number;
}

export interface RevocationCacheOptions {
  /** A clock that never steps, in ms. Default `performance.now`. */
  monotonic?: () => number;
  /** Entries in force kept per kind, at most; past it `apply` refuses. Default unbounded. */
  max?: number;
  /** The longest an entry is kept, ms, on either clock, whatever its `expiresAt`. Default unbounded. */
  maxLifetimeMs?: number;
  /** Told when the entries of one kind reach 80% of `max`, each time they cross it going up. */
  onNearCap?: (state: { kind: Revocation['kind']; held: number; max: number }) => void;
}

interface Entry<E> {
  value: E;
  /** On the verifier's clock. */
  until: number;
  /** On the monotonic clock. */
  deadline: number;
}

/** A full kind is scanned for expired entries at most this often (ms, monotonic): a scan costs O(max). */
const PRUNE_EVERY_MS = 1000;

export class RevocationCache<E extends Revocation = Revocation> {
  readonly #kinds: Record<Revocation['kind'], Map<string, Entry<E>>> = { session: new Map(), token: new Map(), key: new Map() };
  readonly #monotonic: () => number;
  readonly #max: number;
  readonly #maxLifetimeMs: number;
  readonly #onNearCap: RevocationCacheOptions['onNearCap'];
  #nextPrune = Number.NEGATIVE_INFINITY;

  constructor(options: RevocationCacheOptions = {}) {
    this.#monotonic = options.monotonic ?? performanceNow;
    this.#max = options.max ?? Number.POSITIVE_INFINITY;
    this.#maxLifetimeMs = options.maxLifetimeMs ?? Number.POSITIVE_INFINITY;
    this.#onNearCap = options.onNearCap;
  }

  /**
   * Records a revocation learnt at `now` (idempotent; the later end wins, on each clock). `false`
   * when its kind holds `max` entries in force and it is not one of them: nothing was dropped.
   */
  apply(event: E, now: number): boolean {
    const map = this.#kinds[event.kind];
    const known = map.get(event.id);
    if (known === undefined && !this.#hasRoom(map, now)) return false;
    // Never dropped on arrival because this clock says it expired: it may be ahead, and come back.
    const life = Math.min(Math.max(0, event.expiresAt - now, event.expiresAt - event.at), this.#maxLifetimeMs);
    const until = Math.min(event.expiresAt, now + this.#maxLifetimeMs);
    const deadline = this.#monotonic() + life;
    map.set(
      event.id,
      known === undefined
        ? { value: event, until, deadline }
        : {
            value: known.until < until ? event : known.value,
            until: Math.max(known.until, until),
            deadline: Math.max(known.deadline, deadline),
          },
    );
    if (known === undefined && map.size === Math.ceil(this.#max * 0.8)) this.#onNearCap?.({ kind: event.kind, held: map.size, max: this.#max });
    return true;
  }

  #hasRoom(map: Map<string, Entry<E>>, now: number): boolean {
    if (map.size < this.#max) return true;
    this.prune(now);
    return map.size < this.#max;
  }

  #inForce(entry: Entry<E> | undefined, now: number): entry is Entry<E> {
    return entry !== undefined && (entry.until > now || entry.deadline > this.#monotonic());
  }

  /** The revocation of `id` of `kind` while it is in force, else undefined. */
  revocation(kind: Revocation['kind'], id: unknown, now: number): E | undefined {
    if (typeof id !== 'string') return undefined;
    const entry = this.#kinds[kind].get(id);
    return this.#inForce(entry, now) ? entry.value : undefined;
  }

  /** Whether `id` of `kind` is revoked now. */
  isRevoked(kind: Revocation['kind'], id: unknown, now: number): boolean {
    return this.revocation(kind, id, now) !== undefined;
  }

  /** Whether any revocation of `kind` is in force (a token naming no key cannot be told from one of a revoked key). */
  anyInForce(kind: Revocation['kind'], now: number): boolean {
    for (const entry of this.#kinds[kind].values()) if (this.#inForce(entry, now)) return true;
    return false;
  }

  /** The revocation of session `sid` while it is in force, else undefined. */
  sessionRevocation(sid: string, now: number): E | undefined {
    return this.revocation('session', sid, now);
  }

  /** True when the access token `jti` is on the denylist. */
  isTokenRevoked(jti: string, now: number): boolean {
    return this.isRevoked('token', jti, now);
  }

  /** Forgets entries expired on both clocks, at most once a second (of the monotonic clock). */
  prune(now: number): void {
    const m = this.#monotonic();
    if (m < this.#nextPrune) return;
    this.#nextPrune = m + PRUNE_EVERY_MS;
    for (const map of Object.values(this.#kinds)) {
      for (const [id, entry] of map) if (!this.#inForce(entry, now)) map.delete(id);
    }
  }

  /** Whether every kind has room for one more (below `max`). */
  get hasRoom(): boolean {
    return Object.values(this.#kinds).every((map) => map.size < this.#max);
  }

  /** How many revocations are held (every kind). */
  get size(): number {
    return this.#kinds.session.size + this.#kinds.token.size + this.#kinds.key.size;
  }
}
