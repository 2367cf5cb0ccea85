/**
 * The store as the engine calls it: every method's failure (a connection lost, a timeout, a
 * driver's error) becomes one `ERR_STORE_UNAVAILABLE`, so that callers see a store outage as a
 * 503 and lose nothing, whatever the store. Written once, here, for every method of the port.
 */
import { BatonError, isBatonError } from './errors.ts';
import { STORE_METHODS } from './store.ts';
import type { TokenStore } from './store.ts';

/** A store error as the engine reports it (a `BatonError` passes through). */
export function unavailable(cause: unknown): BatonError {
  return isBatonError(cause) ? cause : new BatonError('ERR_STORE_UNAVAILABLE', 'the store did not answer', { cause });
}

/** `store`, with each of the port's methods rejecting only with `BatonError`s. */
export function guardStore(store: TokenStore): TokenStore {
  const guarded: Record<string, unknown> = {};
  for (const name of [...STORE_METHODS.required, ...STORE_METHODS.opaque, ...STORE_METHODS.counters]) {
    const method = (store as unknown as Record<string, ((...args: unknown[]) => Promise<unknown>) | undefined>)[name];
    if (method === undefined) continue;
    guarded[name] = async (...args: unknown[]) => {
      try {
        return await method.apply(store, args);
      } catch (cause) {
        throw unavailable(cause);
      }
    };
  }
  return guarded as unknown as TokenStore;
}
