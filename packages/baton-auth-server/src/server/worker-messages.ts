/** What the primary and the workers of BATON_WORKERS (`workers.ts`, `worker-link.ts`) say to each other over IPC. */
import type { RevocationEvent } from 'baton-auth';

/** How long a worker waits for the others to apply its revocation before answering anyway (a stuck worker must not hold every logout). */
export const RELAY_TIMEOUT_MS = 1000;
/** How long the primary waits for the workers' metrics. */
export const METRICS_TIMEOUT_MS = 2000;

/** One worker's metrics, as `Registry.getMetricsAsJSON()` gives them. */
export type MetricJson = object;

/** Messages between the primary and the workers (all carry `baton`, to tell them from prom-client's or Node's). */
export type Message =
  | { baton: 'ready'; url: string; issuer: string; noUsers: boolean }
  | { baton: 'revocation'; id: number; event: RevocationEvent }
  | { baton: 'revocation-ack'; id: number }
  | { baton: 'revoke'; id: number; event: RevocationEvent }
  | { baton: 'revoke-ack'; id: number }
  | { baton: 'metrics'; id: number }
  | { baton: 'metrics-text'; id: number; text: string }
  | { baton: 'metrics-json'; id: number }
  | { baton: 'metrics-json-answer'; id: number; metrics: MetricJson[] }
  | { baton: 'audit'; lines: string[] }
  | { baton: 'stop' };

export const isMessage = (m: unknown): m is Message => typeof m === 'object' && m !== null && typeof (m as { baton?: unknown }).baton === 'string';
