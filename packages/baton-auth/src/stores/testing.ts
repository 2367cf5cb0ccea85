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
 * runStoreConformance({ describe, it }, { name: 'memory', createStore: () => memoryStore() });
 * ```
 */
import { lawsCases } from './conformance/laws.ts';
import { recordsCases } from './conformance/records.ts';
import { revocationsCases } from './conformance/revocations.ts';
import { sessionsCases } from './conformance/sessions.ts';
import type { ConformanceOptions, Harness, TestApi } from './conformance/support.ts';
import type { BatonStore } from './types.ts';

export { sampleSession } from './conformance/support.ts';
export type { ConformanceOptions, TestApi } from './conformance/support.ts';

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
  const h: Harness = { withStore, withPeers, numRuns: options.numRuns ?? 25 };
  t.describe(`store conformance: ${options.name}`, () => {
    sessionsCases(t, h);
    revocationsCases(t, h);
    recordsCases(t, h);
    lawsCases(t, h);
  });
}
