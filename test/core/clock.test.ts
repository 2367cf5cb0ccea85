/**
 * Steps of the wall clock (issue #21, finding 17): the engine's default clock never goes back and
 * never leaps with a step until the step has held for a minute; the in-process revocations end
 * on both the engine's clock and the monotonic one. The wall and monotonic clocks here are the
 * test's, moved by hand: a step moves the wall clock alone, as NTP or a resumed VM does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { steadyClock, STEP_SETTLE_MS, STEP_TOLERANCE_MS } from '../../packages/baton-auth/src/core/clock.ts';
import { RevocationCache } from '../../packages/baton-auth/src/protocol/revocation-cache.ts';
import type { RevocationEvent } from '../../packages/baton-auth/src/core/store.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A wall clock that steps and a monotonic one that does not, with the steady clock over them. */
function clocks(settleMs?: number) {
  const c = { wall: Date.UTC(2026, 10, 22, 12), mono: 5_000 };
  const now = steadyClock({ wall: () => c.wall, monotonic: () => c.mono, ...(settleMs === undefined ? {} : { settleMs }) });
  return {
    now,
    get wall() {
      return c.wall;
    },
    /** Real time passes: both clocks move. */
    advance(ms: number) {
      c.wall += ms;
      c.mono += ms;
    },
    /** The wall clock steps: it alone moves. */
    step(ms: number) {
      c.wall += ms;
    },
  };
}

describe('the steady clock', () => {
  it('reads the wall clock while it does not step', () => {
    const c = clocks();
    for (const ms of [0, 1, 999, 60_000, DAY]) {
      c.advance(ms);
      expect(c.now()).toBe(c.wall);
    }
  });

  it('a backward step of an hour is not taken at once: it runs on, and takes the step once the wall clock kept it a minute', () => {
    const c = clocks();
    const start = c.now();
    c.step(-HOUR);
    expect(c.now()).toBe(start); // not an hour back
    c.advance(30_000);
    expect(c.now()).toBe(start + 30_000); // time still passes at its rate
    c.advance(STEP_SETTLE_MS);
    expect(c.now()).toBe(c.wall); // kept a minute: taken, at once
    expect(c.now()).toBe(start - HOUR + 30_000 + STEP_SETTLE_MS);
    c.advance(1000);
    expect(c.now()).toBe(c.wall);
  });

  it('a bogus forward step of 15 days kept 61 s, then corrected, is followed back a minute after the correction (not slewed for 30 days)', () => {
    const c = clocks();
    const start = c.now();
    c.step(15 * DAY);
    expect(c.now()).toBe(start);
    c.advance(STEP_SETTLE_MS + 1000);
    expect(c.now()).toBe(c.wall); // taken: the wall clock kept it a minute
    c.step(-15 * DAY); // the correction
    c.advance(1000);
    expect(c.now()).toBeGreaterThan(c.wall + 14 * DAY); // not on one reading
    c.advance(STEP_SETTLE_MS);
    expect(c.now()).toBe(c.wall); // the correction kept a minute: taken
  });

  it('a forward step past the refresh lifetime (15 days) undone within the minute changes nothing', () => {
    const c = clocks();
    const start = c.now();
    c.step(15 * DAY);
    c.advance(STEP_SETTLE_MS - 1000);
    expect(c.now()).toBe(start + STEP_SETTLE_MS - 1000);
    c.step(-15 * DAY);
    c.advance(1000);
    expect(c.now()).toBe(c.wall);
    expect(c.now()).toBe(start + STEP_SETTLE_MS);
  });

  it('a forward step the wall clock keeps for a minute is taken at once, as the true time (a VM resumed)', () => {
    const c = clocks();
    const start = c.now();
    c.step(HOUR);
    expect(c.now()).toBe(start);
    c.advance(STEP_SETTLE_MS - 1);
    expect(c.now()).toBe(start + STEP_SETTLE_MS - 1);
    c.advance(1);
    expect(c.now()).toBe(c.wall);
    expect(c.now()).toBe(start + HOUR + STEP_SETTLE_MS);
  });

  it('follows small changes (up to the tolerance) at once forward, and absorbs them backward (never back)', () => {
    const c = clocks();
    const start = c.now();
    c.step(STEP_TOLERANCE_MS);
    expect(c.now()).toBe(start + STEP_TOLERANCE_MS);
    c.step(-STEP_TOLERANCE_MS);
    expect(c.now()).toBe(start + STEP_TOLERANCE_MS); // never back
    c.advance(2 * STEP_TOLERANCE_MS);
    expect(c.now()).toBe(start + 3 * STEP_TOLERANCE_MS); // it runs on, ahead by the tolerance at most
    c.step(-STEP_TOLERANCE_MS); // small steps back that add up: a step, taken once kept a minute
    expect(c.now()).toBe(start + 3 * STEP_TOLERANCE_MS);
    c.advance(STEP_SETTLE_MS);
    expect(c.now()).toBe(c.wall);
    expect(c.now()).toBe(start + STEP_TOLERANCE_MS + STEP_SETTLE_MS);
  });

  it('tells when the wall clock parts from it by more than the tolerance, and when they agree again (for a warning and a gauge)', () => {
    const c = { wall: Date.UTC(2026, 10, 22, 12), mono: 0 };
    const told: number[] = [];
    const now = steadyClock({ wall: () => c.wall, monotonic: () => c.mono, onDrift: (ms) => told.push(ms) });
    now();
    c.wall += HOUR;
    now();
    now();
    expect(told).toEqual([HOUR]); // once, when first seen
    c.wall += 1000 - HOUR; // undone: agrees again
    c.mono += 1000;
    now();
    expect(told).toEqual([HOUR, 0]);
    c.wall -= HOUR;
    now();
    c.wall += STEP_SETTLE_MS;
    c.mono += STEP_SETTLE_MS;
    now(); // taken
    expect(told).toEqual([HOUR, 0, -HOUR, 0]);
  });

  it('law: whatever the steps, it goes back, or leaps beyond the time passed, only with a step the wall clock kept for a minute — and then agrees with the wall clock', () => {
    const event = fc.oneof(
      fc.record({ advance: fc.integer({ min: 0, max: 90_000 }) }),
      fc.record({ step: fc.oneof(fc.integer({ min: -20 * DAY, max: 20 * DAY }), fc.integer({ min: -3000, max: 3000 })) }),
    );
    fc.assert(
      // The wall clock read at every reading (the default with a wall clock given), or at most once per 1 or 250 ms.
      fc.property(fc.array(event, { minLength: 1, maxLength: 40 }), fc.constantFrom(0, 1, 250), (events, wallEveryMs) => {
        const c = { wall: Date.UTC(2026, 10, 22, 12), mono: 0 };
        const now = steadyClock({ wall: () => c.wall, monotonic: () => c.mono, wallEveryMs });
        // The wall clock's offset from the monotonic one since when, as the clock can see it: at
        // the readings that read the wall clock (all of them, or one per wallEveryMs of monotonic
        // time). What "kept a step" means.
        let offset = c.wall - c.mono;
        let offsetSince = c.mono;
        let wallRead = c.mono;
        let before = now();
        let monoBefore = c.mono;
        for (const e of events) {
          if ('advance' in e) c.mono += e.advance;
          c.wall += 'advance' in e ? e.advance : e.step;
          const reads = c.mono - wallRead >= wallEveryMs;
          if (reads) wallRead = c.mono;
          if (reads && Math.abs(c.wall - c.mono - offset) > STEP_TOLERANCE_MS) {
            offset = c.wall - c.mono;
            offsetSince = c.mono;
          }
          const reading = now();
          const leap = reading - before - (c.mono - monoBefore);
          if (reading < before || leap > STEP_TOLERANCE_MS) {
            expect(c.mono - offsetSince).toBeGreaterThanOrEqual(STEP_SETTLE_MS);
            expect(Math.abs(reading - c.wall)).toBeLessThanOrEqual(STEP_TOLERANCE_MS);
          }
          // A wall clock that kept its offset (± the tolerance) a minute is never further than that
          // (two tolerances: small changes back are absorbed): no slew outlives a correction.
          if (reads && c.mono - offsetSince >= STEP_SETTLE_MS) expect(Math.abs(reading - c.wall)).toBeLessThanOrEqual(2 * STEP_TOLERANCE_MS);
          before = reading;
          monoBefore = c.mono;
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('the steady clock on the system clocks', () => {
  it('reads the wall clock at most once a millisecond of the monotonic one, and between reads runs on the monotonic one', () => {
    const c = { wall: Date.UTC(2026, 10, 22, 12), mono: 5_000, wallReads: 0 };
    const now = steadyClock({ wall: () => (c.wallReads++, c.wall), monotonic: () => c.mono, wallEveryMs: 1 });
    const start = now();
    c.wallReads = 0;
    c.mono += 0.25;
    c.wall += 500; // a small step forward, not seen until the wall clock is read again
    expect(now()).toBe(start);
    c.mono += 0.5;
    expect(now()).toBe(start + 1); // the monotonic time passed (0.75 ms, rounded)
    expect(c.wallReads).toBe(0);
    c.mono += 0.25; // 1 ms since the last read: read, and the step followed
    expect(now()).toBe(c.wall);
    expect(c.wallReads).toBe(1);
  });
});

describe('the in-process revocations', () => {
  const event = (id: string, at: number, ttl: number) => ({ kind: 'session' as const, id, at, expiresAt: at + ttl, reason: 'logout' });

  it('keep a revocation through a forward-then-back step of the engine clock, until it expired on both clocks', () => {
    let mono = 0;
    const cache = new RevocationCache<RevocationEvent>({ monotonic: () => mono });
    const at = Date.UTC(2026, 10, 22, 12);
    cache.apply(event('s1', at, 16 * 60_000), at);
    cache.apply({ kind: 'token', id: 'jti-1', at, expiresAt: at + 16 * 60_000, reason: 'revoked' }, at);
    // The engine's clock leaps two hours ahead, a prune runs, then it comes back.
    cache.prune(at + 2 * HOUR);
    expect(cache.sessionRevocation('s1', at + 2 * HOUR)).toBeDefined();
    expect(cache.isTokenRevoked('jti-1', at + 2 * HOUR)).toBe(true);
    mono += 1000;
    cache.prune(at + 1000);
    expect(cache.sessionRevocation('s1', at + 1000)?.reason).toBe('logout');
    expect(cache.isTokenRevoked('jti-1', at + 1000)).toBe(true);
    expect(cache.size).toBe(2);
    // Sixteen minutes of monotonic time later, but the engine's clock went back an hour: still in force.
    mono += 16 * 60_000;
    cache.prune(at - HOUR);
    expect(cache.sessionRevocation('s1', at - HOUR)).toBeDefined();
    // Expired on both: forgotten (by a prune a second later: they run at most once a second).
    mono += 1000;
    cache.prune(at + 16 * 60_000 + 1000);
    expect(cache.sessionRevocation('s1', at + 16 * 60_000 + 1000)).toBeUndefined();
    expect(cache.isTokenRevoked('jti-1', at + 16 * 60_000 + 1000)).toBe(false);
    expect(cache.size).toBe(0);
  });

  it('keep a revocation that arrives while this clock is an hour ahead of the revoking one, for its whole lifetime after it comes back', () => {
    let mono = 0;
    const cache = new RevocationCache<RevocationEvent>({ monotonic: () => mono });
    const at = Date.UTC(2026, 10, 22, 12);
    cache.apply(event('s1', at, 16 * 60_000), at + HOUR); // expired on this clock when it arrives
    cache.prune(at + HOUR);
    expect(cache.size).toBe(1);
    mono += 15 * 60_000;
    expect(cache.sessionRevocation('s1', at + 15 * 60_000)?.reason).toBe('logout'); // the clock came back: still in force
    mono += 60_001;
    expect(cache.sessionRevocation('s1', at + HOUR + 17 * 60_000)).toBeUndefined(); // expired on both clocks
  });

  it('the later expiry wins on each clock', () => {
    let mono = 0;
    const cache = new RevocationCache<RevocationEvent>({ monotonic: () => mono });
    const at = Date.UTC(2026, 10, 22, 12);
    cache.apply(event('s1', at, 60_000), at);
    cache.apply(event('s1', at, 10_000), at + 50_000); // learnt later, from a clock ahead: its own deadline is shorter
    mono = 30_000;
    expect(cache.sessionRevocation('s1', at + 30_000)?.expiresAt).toBe(at + 60_000);
    expect(cache.sessionRevocation('s1', at + 70_000)).toBeDefined(); // the monotonic deadline of the first still holds
    mono = 60_001;
    expect(cache.sessionRevocation('s1', at + 70_000)).toBeUndefined();
  });
});
