/**
 * The subscribers of a store's revocations ("the feed" is only the HTTP revocation feed and its reader, remote/feed.ts), each event delivered once however many ways it arrives
 * (a message, a re-read after a reconnect, a catch-up poll).
 */
import type { RevocationEvent } from './types.ts';

export class RevocationSubscribers {
  readonly #listeners = new Set<(event: RevocationEvent) => void>();
  readonly #delivered = new Map<string, number>();
  /**
   * The largest log cursor (`seq`) delivered: where a re-read after a reconnect starts
   * (`revocationsAfter`). A cursor, never an `at`: another instance's clock may be behind, and a
   * resume from the newest time seen would skip what it committed.
   */
  lastSeq = 0;
  readonly #now: () => number;

  /** @param now The clock pruning and a first resume are measured on, in ms since the epoch. Default `Date.now`. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  add(listener: (event: RevocationEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Delivers an event unless it already was; true when it was new. */
  deliver(event: RevocationEvent): boolean {
    const key = `${event.kind}:${event.id}:${event.at}`;
    if (this.#delivered.has(key)) return false;
    this.#delivered.set(key, event.at);
    if (this.#delivered.size > 10_000) this.prune(this.#now() - 60_000);
    if (this.#delivered.size > 100_000) this.#delivered.delete(this.#delivered.keys().next().value as string); // only deduplication: a repeat is harmless
    if (event.seq !== undefined && event.seq > this.lastSeq) this.lastSeq = event.seq;
    for (const listener of this.#listeners) listener(event);
    return true;
  }

  /** Forgets which events older than `before` were delivered. */
  prune(before: number): void {
    for (const [key, at] of this.#delivered) if (at < before) this.#delivered.delete(key);
  }

  clear(): void {
    this.#listeners.clear();
  }
}
