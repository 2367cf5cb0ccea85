/**
 * Background refresh. The due time is kept on two clocks: the monotonic one (a wall clock set back
 * by an hour delays nothing) and the wall clock (a monotonic clock may stand still while the
 * machine sleeps); whichever says due first wins. Timers are set in short steps, each re-reading
 * both, so a machine that slept or a hidden tab whose timers were throttled or frozen refreshes on
 * the first step after it wakes; `focus`, `online` and `visibilitychange` check at once. A refresh
 * already made elsewhere is found under the storage's lock, so a late wake-up never refreshes twice.
 */
import type { StoredTokens } from './types.ts';

interface EventTarget {
  addEventListener?(event: string, listener: () => void): void;
  removeEventListener?(event: string, listener: () => void): void;
}

/** The longest single timer: how late a wake-up is noticed at worst. */
const STEP_MS = 15_000;

/** Calls `due` when tokens need refreshing, and whenever the page comes back. */
export class Scheduler {
  readonly #now: () => number;
  readonly #monotonic: () => number;
  readonly #margin: (tokens: StoredTokens) => number;
  readonly #due: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #unwatch: (() => void) | undefined;

  constructor(clock: { now: () => number; monotonic: () => number }, margin: (tokens: StoredTokens) => number, due: () => void) {
    this.#now = clock.now;
    this.#monotonic = clock.monotonic;
    this.#margin = margin;
    this.#due = due;
  }

  /** Sets the one timer chain for `tokens` (replacing any earlier one); it never keeps a Node process alive. */
  schedule(tokens: StoredTokens): void {
    this.unschedule();
    const wallDue = tokens.expiresAt - this.#margin(tokens); // tokens keep wall-clock times: tabs and processes share them
    const monotonicDue = this.#monotonic() + (wallDue - this.#now());
    const step = (): void => {
      const remaining = Math.min(wallDue - this.#now(), monotonicDue - this.#monotonic());
      if (remaining <= 0) return void this.#due();
      this.#timer = setTimeout(step, Math.min(remaining, STEP_MS));
      (this.#timer as { unref?: () => void }).unref?.();
    };
    step();
  }

  unschedule(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Runs `check` on `focus`, `online` and `visibilitychange` (shown again), where the platform has them. */
  watch(check: () => void): void {
    const g = globalThis as EventTarget & { document?: EventTarget & { visibilityState?: string } };
    const visible = (): void => {
      if (g.document?.visibilityState !== 'hidden') check();
    };
    for (const e of ['focus', 'online']) g.addEventListener?.(e, check);
    g.document?.addEventListener?.('visibilitychange', visible);
    this.#unwatch = () => {
      for (const e of ['focus', 'online']) g.removeEventListener?.(e, check);
      g.document?.removeEventListener?.('visibilitychange', visible);
    };
  }

  close(): void {
    this.unschedule();
    this.#unwatch?.();
  }
}
