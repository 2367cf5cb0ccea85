/**
 * An engine for a test: a Baton on a memory store with a manual clock, recording its events; and
 * `codeOf`, the error code a promise rejects with.
 */
import { randomBytes } from 'node:crypto';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton, BatonEvent, BatonOptions, KeyInput } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { ManualClock } from './clock.ts';

export const ISSUER = 'https://auth.test';

/**
 * A Baton on a memory store with a manual clock (`clock`, else a new one), recording its events.
 * Any other option overrides the defaults.
 */
export function makeBaton(overrides: Partial<BatonOptions> & { keys?: KeyInput[]; clock?: ManualClock } = {}): {
  baton: Baton;
  clock: ManualClock;
  events: BatonEvent[];
  keys: KeyInput[];
} {
  const { clock = new ManualClock(), ...options } = overrides;
  const events: BatonEvent[] = [];
  const keys = options.keys ?? [generateKey('HS256', 'hs-1')];
  const baton = createBaton({
    issuer: ISSUER,
    keys,
    refreshTokenSecret: randomBytes(32),
    store: memoryStore(),
    now: clock.now,
    onEvent: (e) => events.push(e),
    ...options,
  });
  return { baton, clock, events, keys };
}

/**
 * The error code a promise rejects with (`code`, as Baton's errors carry), `'resolved'` if it
 * resolves, or a description of an error that has no code: compared with `toBe('ERR_…')`, each
 * fails the test with what happened instead.
 */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (err: unknown) => (err as { code?: string } | null)?.code ?? `not a Baton error: ${String(err)}`,
  );
}
