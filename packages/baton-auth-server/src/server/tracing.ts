/**
 * Traces of `baton serve` (docs/operations.md, "Traces"): when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, the library's spans (`baton-auth`'s tracer,
 * through `@opentelemetry/api`) go to that collector over OTLP/HTTP, in batches, as the resource
 * `OTEL_SERVICE_NAME` (default `baton`) with `OTEL_RESOURCE_ATTRIBUTES`; the context is carried
 * through async calls (AsyncLocalStorage) and a request's W3C `traceparent` continued. The
 * exporter reads its own settings (`OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT`, …); the sampler is
 * `OTEL_TRACES_SAMPLER` (default `parentbased_always_on`) with `OTEL_TRACES_SAMPLER_ARG`.
 * Not set, or `OTEL_SDK_DISABLED=true`: no module of the SDK is loaded at all, and the API stays
 * the no-op it is.
 */
import type { Sampler } from '@opentelemetry/sdk-trace';

/** The package's version, as the resource's `service.version` (a test compares it with package.json). */
export const SERVICE_VERSION = '0.2.0';

/** The exporter, flushed and stopped by `shutdown` (the spans still queued are sent first, for at most 5 s). */
export interface Tracing {
  shutdown(): Promise<void>;
}

/** Whether the environment asks for traces. */
export function tracesWanted(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true' || env.OTEL_TRACES_EXPORTER?.trim() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/** Registers the SDK globally when the environment asks for traces; undefined (nothing loaded) otherwise. */
export async function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<Tracing | undefined> {
  if (!tracesWanted(env)) return undefined;
  const [api, { AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, sdk, { OTLPTraceExporter }, resources] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env detector) over the defaults.
  const resource = resources
    // process.pid tells BATON_WORKERS' workers apart.
    .resourceFromAttributes({ 'service.name': 'baton', 'service.version': SERVICE_VERSION, 'process.pid': process.pid })
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new sdk.TracerProvider({
    resource,
    sampler: samplerOf(sdk, env),
    spanProcessors: [new sdk.BatchSpanProcessor({ exporter: new OTLPTraceExporter() })],
  });
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  api.trace.setGlobalTracerProvider(provider);
  return {
    // The spans still queued go out, within a bound: a collector that is away must not hold a stop for the exporter's 30 s.
    shutdown: async () => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_MS).unref()));
      await Promise.race([provider.shutdown().catch(() => undefined), late]);
      clearTimeout(timer);
    },
  };
}

/** How long a stop waits for the last spans to be exported. */
const SHUTDOWN_MS = 5000;

/** `OTEL_TRACES_SAMPLER` and its argument (the ratio), as the OpenTelemetry specification names them. */
function samplerOf(sdk: typeof import('@opentelemetry/sdk-trace'), env: NodeJS.ProcessEnv): Sampler {
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG);
  const ratio = Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  const root: Record<string, () => Sampler> = {
    always_on: () => new sdk.AlwaysOnSampler(),
    always_off: () => new sdk.AlwaysOffSampler(),
    traceidratio: () => new sdk.TraceIdRatioBasedSampler(ratio),
  };
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || 'parentbased_always_on';
  const own = root[name.replace(/^parentbased_/, '')] ?? root.always_on;
  const sampler = (own as () => Sampler)();
  return name.startsWith('parentbased_') || root[name] === undefined ? new sdk.ParentBasedSampler({ root: sampler }) : sampler;
}
