/**
 * The span of each request `createAuthHandler` answers, 429s and 503s included (`core/tracing.ts`):
 * a SERVER span continuing the caller's trace (its `traceparent`, read by the propagator the app
 * registered), named and described by OpenTelemetry's semantic conventions for HTTP servers —
 * `{method} {http.route}`, `http.request.method`, `http.route` (the route table's entry, never the
 * path: a path is the caller's to fill, with a token pasted into it as easily as anything else),
 * `http.response.status_code`, and on a refusal `error.type`: the Baton error code the answer
 * was made from (`ERR_REFRESH_REUSED`), else the status. A 5xx sets the span's status to ERROR;
 * a 4xx does not (the server did its job: semantic conventions, HTTP spans' status).
 */
import { context, propagation, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Context, Span, SpanOptions, TextMapGetter } from '@opentelemetry/api';
import { tracer } from '../core/tracing.ts';

/** The methods the conventions name; any other is `_OTHER` (its text is the caller's). */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);
const SERVER: SpanOptions = Object.freeze({ kind: SpanKind.SERVER });

/** How a propagator reads a request's headers (`traceparent`, `tracestate`, `baggage`). */
const HEADERS: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

const methodOf = (request: Request): string => (METHODS.has(request.method) ? request.method : '_OTHER');

/** The spans of one handler's requests. */
export class RequestSpans {
  /** Span names by route and method, made once each: at most the routes times the ten methods. */
  readonly #names = new Map<string | undefined, Map<string, string>>();
  /** The error code of a refused request, kept only for a span that records. */
  readonly #codes = new WeakMap<Span, string>();

  /** The caller's trace (`traceparent`), read by the propagator the app registered: the active context itself without one. */
  parent(request: Request): Context {
    return propagation.extract(context.active(), request.headers, HEADERS);
  }

  /** The span of `request` to the route found (its table entry), under `parent`. */
  start(request: Request, route: string | undefined, parent: Context): Span {
    return tracer.startSpan(this.#name(methodOf(request), route), SERVER, parent);
  }

  /** What refused the request: its Baton error code, for `error.type`. */
  refused(span: Span, code: string): void {
    if (span.isRecording()) this.#codes.set(span, code);
  }

  /** Describes the answer and ends the span. */
  end(span: Span, request: Request, route: string | undefined, status: number, ip: string | undefined): void {
    if (span.isRecording()) {
      span.setAttributes({
        'http.request.method': methodOf(request),
        'http.response.status_code': status,
        'url.scheme': new URL(request.url).protocol.slice(0, -1),
      });
      if (route !== undefined) span.setAttribute('http.route', route);
      if (ip !== undefined) span.setAttribute('client.address', ip);
      if (status >= 400) {
        const type = this.#codes.get(span) ?? String(status);
        span.setAttribute('error.type', type);
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: type });
      }
    }
    span.end();
  }

  /** `{method} {route}`, `{method}` without a route; `HTTP` stands for `_OTHER` (semantic conventions, HTTP server span name). */
  #name(method: string, route: string | undefined): string {
    let byMethod = this.#names.get(route);
    if (byMethod === undefined) this.#names.set(route, (byMethod = new Map()));
    let name = byMethod.get(method);
    if (name === undefined) {
      const shown = method === '_OTHER' ? 'HTTP' : method;
      byMethod.set(method, (name = route === undefined ? shown : `${shown} ${route}`));
    }
    return name;
  }
}
