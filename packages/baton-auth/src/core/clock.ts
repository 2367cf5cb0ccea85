/**
 * The engine's default clock. The wall clock steps — an NTP correction, a VM resumed, a wrong RTC
 * at boot, `date -s` — and time measured on it then runs backwards or leaps: a retired refresh
 * token inside a grace window that never closes, revocations forgotten, every session expired by a
 * leap undone a minute later, every access token "not valid yet". The steady clock follows the
 * wall clock but never leaps on one reading: it runs on the monotonic clock (`performance.now`,
 * which no step moves), follows small changes of the wall clock (never back), and takes a step
 * only once the wall clock has kept it for `settleMs` — then at once, forward or backward, so a
 * correction of a wrong step is not outlived. What a step back could break is decided elsewhere
 * on no engine clock alone: in-memory revocations end on a monotonic deadline too
 * (`RevocationCache`), the rotation table refuses a retired token presented before its
 * retirement (`rotation.ts`), the spent-`jti` ledgers compare the expiry with the caller's `now`.
 */

/** A change of the wall clock up to this is followed at once forward, and absorbed backward (never back): below any leeway. */
export const STEP_TOLERANCE_MS = 1000;

/**
 * How long the wall clock must keep a step before the steady clock takes it. A step undone
 * sooner (a bad time source corrected at its next poll) changes nothing. One kept longer is taken
 * as the true time, at once, forward or backward: sessions whose end a forward step passed end, as
 * they would have on the wall clock, and the correction of a wrong step kept a minute is followed
 * a minute later (not slewed over twice the step).
 */
export const STEP_SETTLE_MS = 60_000;

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
  /**
   * The wall clock is read at most once per this much monotonic time: between two reads, this
   * clock is the monotonic one plus the offset last trusted, so that a burst of requests pays one
   * clock read each, not two; a step is seen that much later at most. Default 1 ms with the
   * system's wall clock, 0 (at every reading) with a `wall` given.
   */
  wallEveryMs?: number;
  /**
   * Told when the wall clock and this clock part by more than `toleranceMs` (`pendingMs`: the wall
   * clock minus this clock; a step not yet taken), and again with 0 once they agree (the step
   * taken or undone): for a warning in the logs and a gauge, so an operator sees a step coming.
   */
  onDrift?: (pendingMs: number) => void;
}

/**
 * A clock in whole ms since the epoch that moves by more than the time passed ± `toleranceMs`
 * only with a step the wall clock has kept for `settleMs` of monotonic time, and otherwise never
 * goes back.
 */
export function steadyClock(options: SteadyClockOptions = {}): () => number {
  const wall = options.wall ?? (() => Date.now());
  const mono = options.monotonic ?? monotonic;
  const tolerance = options.toleranceMs ?? STEP_TOLERANCE_MS;
  const settle = options.settleMs ?? STEP_SETTLE_MS;
  const every = options.wallEveryMs ?? (options.wall === undefined ? 1 : 0);
  // The wall clock minus the monotonic one, as last trusted: this clock is the monotonic reading plus it.
  let trusted = wall() - mono();
  // A step seen but not yet kept for `settle`: its offset and when it was first seen.
  let pending: { offset: number; since: number } | undefined;
  let out = Number.NEGATIVE_INFINITY;
  let drifting = false;
  let wallReadAt = Number.NEGATIVE_INFINITY;
  return () => {
    const m = mono();
    if (m - wallReadAt < every) return (out = Math.max(out, Math.round(m + trusted)));
    wallReadAt = m;
    const offset = wall() - m;
    let stepped = false;
    // A small change forward is followed at once; one back is absorbed (this clock stays ahead,
    // by the tolerance at most): small steps back that add up past it are a step, kept a minute
    // before it is taken — a wall clock stepped back a little at a time cannot hold this one still.
    if (Math.abs(offset - trusted) <= tolerance) {
      trusted = Math.max(trusted, offset);
      pending = undefined;
    } else if (pending === undefined || Math.abs(offset - pending.offset) > tolerance) {
      pending = { offset, since: m };
    } else if (m - pending.since >= settle) {
      trusted = offset;
      pending = undefined;
      stepped = true;
    }
    const reading = Math.round(m + trusted);
    // Never back but with a step kept (rounding apart); a step kept is taken, either way.
    out = stepped ? reading : Math.max(out, reading);
    if (options.onDrift !== undefined && drifting !== (pending !== undefined)) {
      drifting = pending !== undefined;
      options.onDrift(pending === undefined ? 0 : pending.offset - trusted);
    }
    return out;
  };
}
