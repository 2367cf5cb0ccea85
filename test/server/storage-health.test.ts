/**
 * `/readyz` is unauthenticated, and while the store cannot write each readiness check probes it
 * with a write of its own (a checkpoint, a record written and deleted). However often it is asked,
 * the probes are at most one a second (review of #22: before, one per request, back to back).
 * The store is a real one (memory) whose writes fail as a full SQLite database's do.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { memoryStore } from 'baton-auth/stores/memory';
import type { BatonStore } from 'baton-auth';
import { storageHealth } from '../../packages/baton-auth-server/src/server/storage-health.ts';

/** The store, with its writes failing as SQLITE_FULL while `full.on`, and its write attempts counted. */
function fullDisk(full: { on: boolean }) {
  const attempts = { writes: 0 };
  const store = memoryStore() as BatonStore;
  const failing = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      // The store's own methods on the store itself: they use private fields.
      if (key !== 'putRecord') return (value as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        attempts.writes++;
        if (full.on) throw Object.assign(new Error('database or disk is full'), { errcode: 13 });
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: failing, attempts };
}

describe('storage health', () => {
  it('probes a store that cannot write at most once a second, however often readiness is asked', async () => {
    const full = { on: true };
    const { store, attempts } = fullDisk(full);
    const health = storageHealth(pino({ level: 'silent' }));
    const watched = health.watch(store);
    await expect(watched.putRecord('sessions', 'x', 'y')).rejects.toThrow('full'); // a request's write fails: failing
    const before = attempts.writes;
    const answers = await Promise.all(Array.from({ length: 50 }, () => health.check()));
    for (let i = 0; i < 50; i++) answers.push(await health.check());
    expect(answers.every((a) => a.startsWith('the store cannot write: disk full (SQLITE_FULL)'))).toBe(true);
    expect(attempts.writes - before).toBeLessThanOrEqual(1);
    // A second later the next check probes again, and finds the store writing.
    full.on = false;
    await new Promise((r) => setTimeout(r, 1_050));
    expect(await health.check()).toBe('ok');
  });
});
