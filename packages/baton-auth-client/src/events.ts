/** The client's events: listeners by name, each one's failure its own. */
import type { TokenClientEvents } from './types.ts';

/** A listener of one event. */
export type Listener<K extends keyof TokenClientEvents> = (payload: TokenClientEvents[K]) => void;

/** Listeners by event. */
export class Emitter {
  readonly #listeners = new Map<keyof TokenClientEvents, Set<(p: never) => void>>();

  /** Listens to an event; returns a function that stops listening. */
  on<K extends keyof TokenClientEvents>(event: K, listener: Listener<K>): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) this.#listeners.set(event, (set = new Set()));
    set.add(listener as (p: never) => void);
    return () => set.delete(listener as (p: never) => void);
  }

  emit<K extends keyof TokenClientEvents>(event: K, payload: TokenClientEvents[K]): void {
    for (const l of this.#listeners.get(event) ?? []) {
      try {
        (l as Listener<K>)(payload);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}
