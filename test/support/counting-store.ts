/**
 * The real memory store with the calls whose names match `pattern` (`/^/`: every call) recorded in order (`writes`), and the store itself (`raw`, read without counting):
 * for tests that prove an endpoint writes nothing (or only what it should) for a caller.
 */
import type { BatonStore } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';

export function countingStore(pattern: RegExp): { store: BatonStore; raw: BatonStore; writes: string[] } {
  const writes: string[] = [];
  const raw = memoryStore();
  const store = new Proxy(raw, {
    get(target, name) {
      const value = Reflect.get(target, name, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (pattern.test(String(name))) writes.push(String(name));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as BatonStore;
  return { store, raw, writes };
}
