/**
 * The engine's default clock. The wall clock steps — an NTP correction, a VM resumed, a wrong RTC
 * at boot, `date -s` — and time measured on it then runs backwards or leaps: a retired refresh
 * token inside a grace window that never closes, revocations forgotten, every session expired by a
 * leap undone a minute later, every access token "not valid yet". The steady clock follows the
 * wall clock but never goes back and never leaps on one reading: it runs on the monotonic clock
 * (`performance.now`, which no step moves), follows small changes of the wall clock, and takes a
 * step only once the wall clock has kept it for `settleMs` — forward then at once, backward by
 * running at half speed until it agrees again, never back.
 */

/** A change of the wall clock up to this is followed at once (forward) or slewed (backward): below any leeway. */
export const STEP_TOLERANCE_MS = 1000;

/**
 * How long the wall clock must keep a step before the steady clock takes it. A step undone
 * sooner (a bad time source corrected at its next poll) changes nothing. One kept longer is taken
 * as the true time: forward at once — sessions whose end it passed end, as they would have on
 * the wall clock — and backward by slewing, never back.
 */
export const STEP_SETTLE_MS = 60_000;

/** While ahead of the wall clock after a step back, the steady clock runs at this fraction of real time. */
const SLEW_SPEED = 0.5;

/** The monotonic clock in ms (its origin means nothing): what deadlines in memory are kept on. */
export function monotonic(): number {
  return performance.now();
}

export interface SteadyClockOptions {
  /** The wall clock in ms since the epoch. Default `Date.now()`, read at every call. */
  wall?: () => number;
  /** A monotonic clock in ms. Default `performance.now()`. */
  monotonic?: () => number;
  /** Default `STEP_TOLERANCE_MS`. */
  toleranceMs?: number;
  /** Default `STEP_SETTLE_MS`. */
  settleMs?: number;
}

/**
 * A clock in whole ms since the epoch that never goes back and leaps forward by more than
 * `toleranceMs` only after the wall clock has kept that step for `settleMs` of monotonic time.
 */
export function steadyClock(options: SteadyClockOptions = {}): () => number {
  const wall = options.wall ?? (() => Date.now());
  const mono = options.monotonic ?? monotonic;
  const tolerance = options.toleranceMs ?? STEP_TOLERANCE_MS;
  const settle = options.settleMs ?? STEP_SETTLE_MS;
  let last = mono();
  // The wall clock minus the monotonic one, as last trusted, and what this clock adds to the
  // monotonic reading: it moves to `trusted` at once forward, slewed backward.
  let trusted = wall() - last;
  let applied = trusted;
  // A step seen but not yet kept for `settle`: its offset and when it was first seen.
  let pending: { offset: number; since: number } | undefined;
  let out = Number.NEGATIVE_INFINITY;
  return () => {
    const m = mono();
    const offset = wall() - m;
    // Slewing back runs from the reading where the step was taken, not from the one before.
    let elapsed = Math.max(0, m - last);
    last = m;
    if (Math.abs(offset - trusted) <= tolerance) {
      trusted = offset;
      pending = undefined;
    } else if (pending === undefined || Math.abs(offset - pending.offset) > tolerance) {
      pending = { offset, since: m };
    } else if (m - pending.since >= settle) {
      trusted = offset;
      pending = undefined;
      elapsed = 0;
    }
    applied = trusted >= applied ? trusted : Math.max(trusted, applied - elapsed * (1 - SLEW_SPEED));
    out = Math.max(out, Math.round(m + applied));
    return out;
  };
}
