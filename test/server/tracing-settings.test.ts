/**
 * When `baton serve` wires the OpenTelemetry SDK (`server/tracing.ts`): an OTLP endpoint set, and
 * not turned off; and the versions the library's tracer and the service's resource carry.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TRACER_NAME, TRACER_VERSION } from '../../packages/baton-auth/src/core/tracing.ts';
import { SERVICE_VERSION, startTracing, tracesWanted } from '../../packages/baton-auth-server/src/server/tracing.ts';

const versionOf = (pkg: string): string =>
  (JSON.parse(readFileSync(new URL(`../../packages/${pkg}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;

describe('traces of the service', () => {
  it('are wired only with an OTLP endpoint, and not with OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none', async () => {
    expect(tracesWanted({})).toBe(false);
    expect(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toBe(false);
    expect(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracesWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'TRUE' })).toBe(false);
    expect(tracesWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
    expect(await startTracing({})).toBeUndefined();
  });

  it('name the packages and their versions', () => {
    expect([TRACER_NAME, TRACER_VERSION]).toEqual(['baton-auth', versionOf('baton-auth')]);
    expect(SERVICE_VERSION).toBe(versionOf('baton-auth-server'));
  });
});
