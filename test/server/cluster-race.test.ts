/**
 * The moment DPoP turns on (server/cluster.ts). N (BATON_DPOP=auto) finds no instance without DPoP
 * and writes the cluster's `dpop` record; O (BATON_DPOP=off) registered just before the write and
 * read no record, so it starts; N's recheck sees O and deletes the record, as it should. M (auto)
 * read the record between N's write and its deletion, and took DPoP as on for good without looking
 * for an instance without it: M bound sessions that O refuses. Real cluster code on the real memory
 * store; hooks in front of the store only arrange when each instance's calls run.
 * Red team rt-page, redteam/upgrade/race.ts.
 */
import { describe, expect, it } from 'vitest';
import type { BatonStore } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { joinCluster } from '../../packages/baton-auth-server/src/server/cluster.ts';

const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const config = (dpop: 'auto' | 'off', heartbeatMs = 60_000) => ({ issuer: 'https://auth.test', issuerSet: true, dpop, heartbeatMs });

describe('DPoP turning on while an instance without it starts', () => {
  it('an instance that reads the record another wrote, and is about to withdraw, stays held back while an instance without DPoP lives', async () => {
    const store = memoryStore() as unknown as BatonStore;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let written!: () => void;
    const write = new Promise<void>((r) => (written = r));
    let afterWrite = false;
    const recheck: { gate?: Promise<void> } = {};
    /** `store` with `hook` awaited before each call. */
    const hooked = (hook: (method: string | symbol, args: unknown[]) => Promise<void> | undefined): BatonStore =>
      new Proxy(store, {
        get(target, method, receiver) {
          const real = Reflect.get(target, method, receiver) as unknown;
          if (typeof real !== 'function') return real;
          return async (...args: unknown[]) => {
            await hook(method, args);
            const result = await (real as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            if (method === 'putRecord' && args[0] === 'cluster') {
              afterWrite = true;
              written();
            }
            return result;
          };
        },
      });
    // An old instance X; M (auto, 50 ms heartbeats) joins beside it, held back; X stops.
    const x = await joinCluster(store, config('off'), logger);
    let mJoined = false;
    // M's next reads of the record come once N wrote it.
    const m = await joinCluster(
      hooked((method, args) => (mJoined && method === 'getRecord' && args[0] === 'cluster' && !afterWrite ? write : undefined)),
      config('auto', 50),
      logger,
    );
    mJoined = true;
    expect(m.dpop()).toBe(false);
    await x.leave();
    // N starts: nobody without DPoP; its write waits until O joined, its recheck until M had heartbeats.
    const joining = joinCluster(
      hooked((method, args) => (method === 'putRecord' && args[0] === 'cluster' ? held : method === 'listRecords' && afterWrite ? recheck.gate : undefined)),
      config('auto'),
      logger,
    );
    await new Promise((r) => setTimeout(r, 100));
    const o = await joinCluster(store, config('off'), logger);
    recheck.gate = new Promise((r) => setTimeout(r, 300));
    release();
    const n = await joining;
    await new Promise((r) => setTimeout(r, 200));
    try {
      expect(await store.getRecord('cluster', 'dpop')).toBeNull();
      expect(n.dpop()).toBe(false);
      expect(m.dpop(), 'M turned DPoP on beside a live BATON_DPOP=off instance').toBe(false);
    } finally {
      await Promise.all([n.leave(), m.leave(), o.leave()]);
    }
  });
});
