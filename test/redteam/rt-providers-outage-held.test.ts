/**
 * Red team of #26's store deadlines (server/outage.ts `Deadlines`, one timer for every call in
 * flight) and the outage proxy's per-method wrapper cache: what held. In INTEGRATION (test/tiers.ts):
 * outage.ts knows PostgreSQL's error codes.
 */
import { describe, expect, it } from 'vitest';
import { BatonError } from 'baton-auth';
import type { BatonStore } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { Deadlines, outageAware } from '../../packages/baton-auth-server/src/server/outage.ts';

describe('#26: the store deadlines and the outage proxy', () => {
  it('a call that never answers is refused at its deadline and forgotten (no entry kept)', async () => {
    let late = 0;
    const d = new Deadlines(50, () => late++);
    const never = d.track(new Promise<never>(() => undefined));
    const quick = d.track(Promise.resolve(7));
    expect(await quick).toBe(7);
    await expect(never).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    expect([d.size, late]).toEqual([0, 1]);
    // Later calls, after the timer went idle, still have their deadline.
    const again = d.track(new Promise<never>(() => undefined));
    const t0 = performance.now();
    await expect(again).rejects.toBeInstanceOf(BatonError);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('a method replaced on the store is the one called (the wrapper cache follows the method), each call its own answer', async () => {
    const store = memoryStore();
    const guarded = outageAware(store, 1000);
    expect(await guarded.getRecord('k', 'a')).toBeNull();
    const original = store.getRecord.bind(store);
    (store as { getRecord: BatonStore['getRecord'] }).getRecord = async (_kind, key) => `replaced:${key}`;
    const answers = await Promise.all(['a', 'b', 'c'].map((k) => guarded.getRecord('k', k)));
    expect(answers).toEqual(['replaced:a', 'replaced:b', 'replaced:c']);
    (store as { getRecord: BatonStore['getRecord'] }).getRecord = original;
    expect(await guarded.getRecord('k', 'a')).toBeNull();
  });
});
