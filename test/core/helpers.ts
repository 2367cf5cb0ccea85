import { randomBytes } from 'node:crypto';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton, BatonEvent, BatonOptions, KeyInput } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';

/** A clock the test moves by hand. */
export class ManualClock {
  ms = Date.UTC(2026, 10, 22, 12);
  now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export const ISSUER = 'https://auth.test';

/** A Baton on a memory store with a manual clock, recording its events. */
export function makeBaton(overrides: Partial<BatonOptions> & { keys?: KeyInput[] } = {}): {
  baton: Baton;
  clock: ManualClock;
  events: BatonEvent[];
  keys: KeyInput[];
} {
  const clock = new ManualClock();
  const events: BatonEvent[] = [];
  const keys = overrides.keys ?? [generateKey('HS256', 'hs-1')];
  const baton = createBaton({
    issuer: ISSUER,
    keys,
    refreshTokenSecret: randomBytes(32),
    store: memoryStore(),
    now: clock.now,
    onEvent: (e) => events.push(e),
    ...overrides,
  });
  return { baton, clock, events, keys };
}

/** The error code a promise rejects with (fails the test if it resolves). */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as { code?: string }).code ?? `not a Baton error: ${String(err)}`;
  }
  throw new Error('expected a rejection');
}
