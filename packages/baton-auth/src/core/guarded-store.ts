/**
 * The store as the engine calls it: every method's failure (a connection lost, a timeout, a
 * driver's error) becomes one `ERR_STORE_UNAVAILABLE`, so that callers see a store outage as a
 * 503 and lose nothing, whatever the store. Written once, here, for every method of the port;
 * each call is also a span (`tracing.ts`): a CLIENT span named by the operation, with
 * `db.operation.name` and, when the store says which database it is, `db.system.name` — never
 * the call's arguments (a session id beside its token's MAC, a hashed token, a jti).
 */
import { SpanKind } from '@opentelemetry/api';
import type { SpanOptions } from '@opentelemetry/api';
import { BatonError, isBatonError } from './errors.ts';
import { STORE_METHODS } from './store.ts';
import type { TokenStore } from './store.ts';
import { failed, tracer } from './tracing.ts';

/** A store error as the engine reports it (a `BatonError` passes through). */
export function unavailable(cause: unknown): BatonError {
  return isBatonError(cause) ? cause : new BatonError('ERR_STORE_UNAVAILABLE', 'the store did not answer', { cause });
}

/** The options of a store call's span, made once per method: a call allocates nothing for them. */
function spanOptions(name: string, system: string | undefined): SpanOptions {
  return Object.freeze({
    kind: SpanKind.CLIENT,
    attributes: Object.freeze(system === undefined ? { 'db.operation.name': name } : { 'db.operation.name': name, 'db.system.name': system }),
  });
}

/** `store`, with each of the port's methods rejecting only with `BatonError`s, each call a span. */
export function guardStore(store: TokenStore): TokenStore {
  const guarded: Record<string, unknown> = {};
  const system = typeof store.dbSystemName === 'string' ? store.dbSystemName : undefined;
  for (const name of [...STORE_METHODS.required, ...STORE_METHODS.opaque, ...STORE_METHODS.counters]) {
    const method = (store as unknown as Record<string, ((...args: unknown[]) => Promise<unknown>) | undefined>)[name];
    if (method === undefined) continue;
    const options = spanOptions(name, system);
    guarded[name] = async (...args: unknown[]) => {
      // A leaf: nothing it calls starts a span, so it is never made the active one.
      const span = tracer.startSpan(name, options);
      try {
        return await method.apply(store, args);
      } catch (cause) {
        // Named by the driver's own code or class (`error.type`), before it becomes ERR_STORE_UNAVAILABLE.
        failed(span, cause);
        throw unavailable(cause);
      } finally {
        span.end();
      }
    };
  }
  return guarded as unknown as TokenStore;
}
