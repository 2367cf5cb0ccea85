/**
 * The service's own spans (`server/spans.ts`, the `baton-auth-server` tracer): an answer it gives
 * without the library's handler — a 503 while it starts or while its store has lost its data — is
 * a SERVER span under the caller's trace, named by the method, with the status and the error code.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { traceRefusal } from '../../packages/baton-auth-server/src/server/spans.ts';
import { recordSpans } from '../support/traces.ts';

const { spans } = recordSpans();
const version = (JSON.parse(readFileSync(new URL('../../packages/baton-auth-server/package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe("the service's own answers", () => {
  it('a 503 from Web headers or node:http ones, under the caller’s trace', () => {
    const traceId = '5bf92f3577b34da6a3ce929d0e0e4736';
    traceRefusal('POST', new Headers({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` }), 503, 'ERR_STORE_UNAVAILABLE');
    traceRefusal('BREW', { traceparent: `00-${traceId}-00f067aa0ba902b8-01` }, 503, 'ERR_STARTING');
    const [lost, starting] = spans();
    expect(lost?.name).toBe('POST');
    expect(lost?.kind).toBe(SpanKind.SERVER);
    expect(lost?.instrumentationScope).toMatchObject({ name: 'baton-auth-server', version });
    expect(lost?.spanContext().traceId).toBe(traceId);
    expect(lost?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(lost?.attributes).toEqual({ 'http.request.method': 'POST', 'http.response.status_code': 503, 'error.type': 'ERR_STORE_UNAVAILABLE' });
    expect(lost?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'ERR_STORE_UNAVAILABLE' });
    expect(starting?.name).toBe('HTTP');
    expect(starting?.parentSpanContext?.spanId).toBe('00f067aa0ba902b8');
    expect(starting?.attributes).toMatchObject({ 'http.request.method': '_OTHER', 'error.type': 'ERR_STARTING' });
  });
});
