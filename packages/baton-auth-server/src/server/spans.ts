/**
 * The service's own spans (`baton-auth-server`'s tracer, through `@opentelemetry/api`): the
 * answers it gives without the library's handler, which traces every request it answers
 * (`baton-auth/http`) — a 503 while the service starts (`http-server.ts`) or while its store has
 * lost its data (`app.ts`). A SERVER span under the caller's `traceparent`, named by the method
 * alone (no route is matched), with the status and the error code the answer carries; never the path.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { SpanOptions, TextMapGetter } from '@opentelemetry/api';
import type { IncomingHttpHeaders } from 'node:http';
import { SERVICE_VERSION } from './tracing.ts';

const tracer = trace.getTracer('baton-auth-server', SERVICE_VERSION);
const SERVER: SpanOptions = Object.freeze({ kind: SpanKind.SERVER });
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

type Carrier = Headers | IncomingHttpHeaders;
const HEADERS: TextMapGetter<Carrier> = {
  get: (headers, key) => {
    if (headers instanceof Headers) return headers.get(key) ?? undefined;
    return headers[key];
  },
  keys: (headers) => (headers instanceof Headers ? [...headers.keys()] : Object.keys(headers)),
};

/** A span for an answer the service gave by itself: `status`, refused with `errorType` (an error code of the answer). */
export function traceRefusal(method: string | undefined, headers: Carrier, status: number, errorType: string): void {
  const known = method !== undefined && METHODS.has(method) ? method : '_OTHER';
  const span = tracer.startSpan(known === '_OTHER' ? 'HTTP' : known, SERVER, propagation.extract(context.active(), headers, HEADERS));
  if (span.isRecording()) {
    span.setAttributes({ 'http.request.method': known, 'http.response.status_code': status, 'error.type': errorType });
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
  }
  span.end();
}
