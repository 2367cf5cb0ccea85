/**
 * Traces through the OpenTelemetry API (`@opentelemetry/api`) alone: an app that registers a
 * tracer provider (its SDK, with a context manager and a propagator) sees Baton's spans — each
 * endpoint (`http/trace.ts`), each store call (`guarded-store.ts`), each verification that misses
 * the verified-token cache (`pipeline.ts`), each refresh with its outcome (`refresh.ts`). Without
 * one, the API is a no-op: a span costs the no-op API's one object, and attributes are built only
 * for a span that records. A cache hit starts no span at all.
 *
 * No token, proof, code, password or secret goes into a span: names and attributes are built
 * from route-table entries, operation names, error codes and identifiers, never from what the
 * caller sent; an error is named by its code or class, never by its message (a library's message
 * may quote its input). `test/http/trace-leaks.test.ts` scans every span of a whole flow.
 */
import { context, isSpanContextValid, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Context, Span, SpanOptions, Tracer } from '@opentelemetry/api';
import { isBatonError } from './errors.ts';

/** The instrumentation scope of the library's spans: its package name and version. */
export const TRACER_NAME = 'baton-auth';
/** The package's version (a test compares it with package.json). */
export const TRACER_VERSION = '0.2.0';

/**
 * The library's tracer. The API's proxy: it finds the provider an app registers later, at its
 * first span after that (register the provider once, before the first request).
 */
export const tracer: Tracer = trace.getTracer(TRACER_NAME, TRACER_VERSION);

/** Options of an internal span (a verification, a refresh): one object for every span. */
export const INTERNAL: SpanOptions = Object.freeze({ kind: SpanKind.INTERNAL });

/** A driver's error code worth naming (`ECONNREFUSED`, `SQLITE_BUSY`, `40001`): short, no spaces, nothing quoted. */
const CODE = /^[A-Za-z0-9_.-]{1,40}$/;

/**
 * What an error is called on a span (`error.type`): a Baton error's code, a driver's code, else
 * the error's class — never its message.
 */
export function errorType(err: unknown): string {
  if (isBatonError(err)) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CODE.test(code)) return code;
  if (typeof code === 'number' && Number.isSafeInteger(code)) return String(code);
  return err instanceof Error && CODE.test(err.name) ? err.name : '_OTHER';
}

/** Marks `span` failed: `error.type`, and an ERROR status whose description is that type alone. */
export function failed(span: Span, err: unknown): void {
  if (!span.isRecording()) return;
  const type = errorType(err);
  span.setAttribute('error.type', type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

/**
 * The active context with `span` in it, so that the spans started under it are its children; or
 * undefined for a span that neither records nor carries a trace (the no-op API's, with no
 * incoming trace): nothing is allocated for it. One that carries a trace but does not record
 * (sampled out) is made active, so that its children are sampled out with it rather than
 * starting traces of their own.
 */
export function activeWith(span: Span, parent: Context = context.active()): Context | undefined {
  return span.isRecording() || isSpanContextValid(span.spanContext()) ? trace.setSpan(parent, span) : undefined;
}

/**
 * `fn(span, a, b, c)` in a span started now under the active context and active while it runs,
 * ended when it settles; a rejection marks it failed (`failed`) and passes through. Its arguments
 * are passed along rather than closed over, and the no-op API's span (one that neither records
 * nor carries a trace: its `end` does nothing) gets `fn`'s own promise: a call allocates nothing
 * the no-op API would not.
 */
export function traced<A, B, C, T>(name: string, options: SpanOptions, fn: (span: Span, a: A, b: B, c: C) => Promise<T>, a: A, b: B, c: C): Promise<T> {
  const span = tracer.startSpan(name, options);
  const active = activeWith(span);
  return active === undefined ? fn(span, a, b, c) : tracedIn(span, active, fn, a, b, c);
}

/** `traced` for a span that records or carries a trace: active while `fn` runs, ended when it settles. */
async function tracedIn<A, B, C, T>(span: Span, active: Context, fn: (span: Span, a: A, b: B, c: C) => Promise<T>, a: A, b: B, c: C): Promise<T> {
  try {
    return await context.with(active, fn, undefined, span, a, b, c);
  } catch (err) {
    failed(span, err);
    throw err;
  } finally {
    span.end();
  }
}
