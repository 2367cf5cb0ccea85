/**
 * The connection tables of `baton-auth/ws` and their bounds: every open socket, and how many are
 * open per address, per session and per user, and how many have not authenticated yet (per address
 * and in all, oldest first).
 */
import type { Settings } from './options.ts';

/** What the tables know of a socket. */
export interface Counted {
  readonly address: string;
  /** When it opened, on the monotonic clock. */
  readonly opened: number;
  /** Set while its first authentication is being verified. */
  readonly authenticating: boolean;
  /** Whether it has authenticated. */
  readonly claims: unknown;
  /** The session it counts against, set once when it is first accepted. */
  readonly counted: string | undefined;
  /** The user it counts against, set with `counted`. */
  readonly user: string | undefined;
}

function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left > 0) counts.set(key, left);
  else counts.delete(key);
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

export class Tables<C extends Counted> {
  readonly live = new Set<C>();
  readonly perAddress = new Map<string, number>();
  /** Sockets not authenticated yet, per address, and in all (oldest first). */
  readonly waitingPerAddress = new Map<string, number>();
  readonly unauthenticated = new Set<C>();
  readonly perSession = new Map<string, number>();
  readonly perUser = new Map<string, number>();
  readonly #settings: Settings;

  constructor(settings: Settings) {
    this.#settings = settings;
  }

  /** A socket just opened: it counts against its address, as one not authenticated yet. */
  admit(connection: C): void {
    this.live.add(connection);
    increment(this.perAddress, connection.address);
    increment(this.waitingPerAddress, connection.address);
    this.unauthenticated.add(connection);
  }

  /** A socket's first authentication: it now counts against its session and user instead of the waiting. */
  authenticated(connection: C, sid: string | undefined, sub: string): void {
    decrement(this.waitingPerAddress, connection.address);
    this.unauthenticated.delete(connection);
    if (sid !== undefined) increment(this.perSession, sid);
    increment(this.perUser, sub);
  }

  /** A socket gone: what it counted against is given back. */
  release(connection: C): void {
    if (!this.live.delete(connection)) return;
    decrement(this.perAddress, connection.address);
    if (connection.claims === undefined) {
      decrement(this.waitingPerAddress, connection.address);
      this.unauthenticated.delete(connection);
    }
    if (connection.counted !== undefined) decrement(this.perSession, connection.counted);
    if (connection.user !== undefined) decrement(this.perUser, connection.user);
  }

  /** Why a first authentication of `sub` (session `sid`) is one socket too many, or undefined. */
  overAccount(sid: string | undefined, sub: string): string | undefined {
    const { maxPerSession, maxPerUser } = this.#settings;
    if (sid !== undefined && (this.perSession.get(sid) ?? 0) >= maxPerSession) return `at most ${maxPerSession} sockets per session`;
    if ((this.perUser.get(sub) ?? 0) >= maxPerUser) return `at most ${maxPerUser} sockets per user`;
    return undefined;
  }

  /** Whether `address` has as many sockets open, or waiting, as it may. */
  overAddress(address: string): boolean {
    return (
      (this.perAddress.get(address) ?? 0) >= this.#settings.maxPerAddress || (this.waitingPerAddress.get(address) ?? 0) >= this.#settings.maxUnauthenticated
    );
  }

  /**
   * The socket without a token to cut off for a newcomer when `maxUnauthenticated` wait: the oldest
   * of the address that has the most waiting (a flood's, never a lone client's while a flood is
   * on), once it has had a second (or `authTimeoutMs`) to send its token and is not being checked.
   * At most `maxUnauthenticated` are looked at; none fit: the newcomer is refused (503).
   */
  evictable(): C | undefined {
    let busiest = 0;
    for (const count of this.waitingPerAddress.values()) busiest = Math.max(busiest, count);
    const ripe = performance.now() - Math.min(this.#settings.authTimeoutMs, 1000);
    for (const c of this.unauthenticated) {
      if (c.opened <= ripe && !c.authenticating && this.waitingPerAddress.get(c.address) === busiest) return c;
    }
    for (const c of this.unauthenticated) if (c.opened <= ripe && !c.authenticating) return c;
    return undefined;
  }
}
