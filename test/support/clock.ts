/**
 * The one manual clock of the tests: time stands still until the test moves it. Pass `clock.now`
 * wherever a `now: () => number` is taken (the engine, the client, the WebSocket helper, limiters).
 */
export class ManualClock {
  /** The time, in ms since the epoch. */
  ms: number;

  /** @param start The starting time in ms since the epoch; default 2026-11-22 12:00 UTC. */
  constructor(start = Date.UTC(2026, 10, 22, 12)) {
    this.ms = start;
  }

  /** The clock as a function, bound to this instance. */
  readonly now = (): number => this.ms;

  /** Moves the time forward by `ms` milliseconds and returns the new time. */
  advance(ms: number): number {
    this.ms += ms;
    return this.ms;
  }
}
