/**
 * An OpenTelemetry SDK for a test file, as an app would register one: a tracer provider keeping
 * its spans in memory (`InMemorySpanExporter`), the context carried through async calls
 * (AsyncLocalStorage), W3C trace context read from requests. Registered globally for the file
 * (`beforeAll`) and unregistered after it.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

export type { ReadableSpan } from '@opentelemetry/sdk-trace';

/** Registers the SDK for the file's tests; `spans()` are those ended since the last test. */
export function recordSpans(): { spans: () => ReadableSpan[] } {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
  });
  afterEach(() => exporter.reset());
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });
  return { spans: () => exporter.getFinishedSpans() };
}

/** The one span named `name` (fails the test unless there is exactly one). */
export function only(spans: ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((s) => s.name === name);
  if (found.length !== 1) throw new Error(`expected one span named ${name}, found ${found.length} among ${spans.map((s) => s.name).join(', ')}`);
  return found[0] as ReadableSpan;
}

/** The spans whose parent is `parent`, in the same trace. */
export function childrenOf(spans: ReadableSpan[], parent: ReadableSpan): ReadableSpan[] {
  const { traceId, spanId } = parent.spanContext();
  return spans.filter((s) => s.spanContext().traceId === traceId && s.parentSpanContext?.spanId === spanId);
}

/** Everything of a span an exporter sends that a value could hide in: name, attributes, events, links, status. */
export function exported(span: ReadableSpan): string {
  return JSON.stringify({
    name: span.name,
    attributes: span.attributes,
    events: span.events.map((e) => ({ name: e.name, attributes: e.attributes })),
    links: span.links.map((l) => l.attributes),
    status: span.status,
    scope: span.instrumentationScope,
  });
}
