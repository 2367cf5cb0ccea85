/**
 * The store conformance suite. Import from `baton-auth/stores/testing`; every store, Baton's own and
 * yours, runs it against a real server.
 *
 * It asserts with `node:assert` and takes the test runner's `describe` and `it`, so it runs under
 * Vitest, Jest or `node:test` alike. `fast-check` (an optional peer dependency) drives the laws.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { runStoreConformance } from 'baton-auth/stores/testing';
 * import { memoryStore } from 'baton-auth/stores/memory';
 * runStoreConformance({ describe, it }, { name: 'memory', createStore: () => memoryStore(), capabilities: { revocationHead: true } });
 * ```
 */
import assert from 'node:assert/strict';
import { lawsCases } from './conformance/laws.ts';
import { recordsCases } from './conformance/records.ts';
import { revocationsCases } from './conformance/revocations.ts';
import { sessionsCases } from './conformance/sessions.ts';
import type { ConformanceOptions, Harness, StoreCapabilities, TestApi } from './conformance/support.ts';
import type { BatonStore } from './types.ts';

export { sampleSession } from './conformance/support.ts';
export type { ConformanceOptions, StoreCapabilities, TestApi } from './conformance/support.ts';

/** Registers the conformance tests of one store. */
export function runStoreConformance(t: TestApi, options: ConformanceOptions): void {
  const withStore: Harness['withStore'] = (body: (store: BatonStore, now: number) => Promise<void>) => async () => {
    const store = await options.createStore();
    try {
      await body(store, Date.now());
    } finally {
      await store.close();
    }
  };
  const withPeers: Harness['withPeers'] = (body: (a: BatonStore, b: BatonStore, now: number) => Promise<void>) => async () => {
    const a = await options.createStore();
    const b = options.createPeer ? await options.createPeer(a) : a;
    try {
      await body(a, b, Date.now());
    } finally {
      if (b !== a) await b.close();
      await a.close();
    }
  };
  const can: StoreCapabilities = { revocationHead: false, subscribed: false, ...options.capabilities };
  const h: Harness = { withStore, withPeers, numRuns: options.numRuns ?? 25, can };
  t.describe(`store conformance: ${options.name}`, () => {
    t.it(
      `implements exactly the optional parts it declares (${JSON.stringify(can)})`,
      withStore(async (store) => {
        for (const name of Object.keys(can) as (keyof StoreCapabilities)[]) {
          const has = typeof store[name] === 'function';
          assert.equal(
            has,
            can[name],
            has
              ? `the store has ${name}(): declare capabilities.${name}: true, so that it is tested`
              : `capabilities.${name} is declared, but the store has no ${name}()`,
          );
        }
      }),
    );
    sessionsCases(t, h);
    revocationsCases(t, h);
    recordsCases(t, h);
    lawsCases(t, h);
  });
}
