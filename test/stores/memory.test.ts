import { describe, expect, it } from 'vitest';
import { memoryStore } from 'baton-auth/stores/memory';
import { runStoreConformance } from 'baton-auth/stores/testing';
import { seedSweepable } from '../support/sweep.ts';

runStoreConformance({ describe, it }, { name: 'memory', createStore: () => memoryStore(), capabilities: { revocationHead: true } });

describe('memory store specifics', () => {
  it('sweeps exactly what ended: sessions at their end or a day after revocation, jtis, opaque tokens, counters, revocations', async () => {
    const store = memoryStore();
    const now = Date.now();
    const seeded = await seedSweepable(store, now);
    expect(await store.sweep(now)).toBe(seeded.removed);
    expect(await store.sweep(now)).toBe(0);
    for (const id of seeded.gone.sessions) expect(await store.getSession(id)).toBeNull();
    for (const id of seeded.kept.sessions) expect(await store.getSession(id)).not.toBeNull();
    expect((await store.revocationsSince(0)).map((e) => e.id).sort()).toEqual([...seeded.kept.revocations].sort());
    expect(await store.findOpaqueToken(seeded.gone.opaque[0] as string, 0)).toBeNull();
    expect(await store.getCounter(seeded.gone.counters[0] as string, 0)).toBeNull();
  });
});
