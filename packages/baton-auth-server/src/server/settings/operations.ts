/**
 * How the service runs: its timers (key reload, sweep, heartbeat), metrics, workers, logs and DPoP's switch; and the
 * two files read before the other settings (`BATON_CONFIG`, `BATON_RUNTIME_FILE`). One part of the settings table (`../settings.ts`).
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { duration, secret, whole } from './setting.ts';
import type { Setting } from './setting.ts';

/** More workers than this only adds contention (and memory): the cores are shared by all of them. */
export const MAX_WORKERS = 64;

/** In the order of the table (`../settings.ts`). */
export const OPERATION_SETTINGS: readonly Setting[] = [
  // A timer set to 0 or past 2^31 - 1 ms fires every millisecond (Node's setInterval): a store read per ms.
  {
    env: 'BATON_KEY_RELOAD',
    option: 'keyReload',
    default: '30s',
    doc: 'How often keys rotated elsewhere are re-read from the store (a duration from 1s to 24d).',
    parse: duration('BATON_KEY_RELOAD', 1000, 2 ** 31 - 1, "a duration from 1s to 24d, like '30s'"),
  },
  // A timer cannot wait longer than 2^31 - 1 ms (24.8 days).
  {
    env: 'BATON_SWEEP_INTERVAL',
    option: 'sweepIntervalMs',
    default: '10m',
    doc: "How often expired sessions, denylist entries and counters are deleted (a duration below 24d), or 'off'.",
    parse: z.string().refine((v) => v === 'off' || duration('BATON_SWEEP_INTERVAL', 1, 2 ** 31 - 1).safeParse(v).success, {
      message: "BATON_SWEEP_INTERVAL must be 'off' or a duration above 0 and below 24d, like '10m'",
    }),
  },
  {
    env: 'BATON_METRICS_TOKEN',
    option: 'metricsToken',
    doc: 'Serves Prometheus metrics at GET /metrics to Authorization: Bearer <this> (at least 32 characters).',
    parse: secret('BATON_METRICS_TOKEN'),
  },
  {
    env: 'BATON_METRICS_PORT',
    option: 'metricsPort',
    doc: 'Serves Prometheus metrics on this port of HOST instead, without a token.',
    parse: whole('BATON_METRICS_PORT must be a port number', 1, 65535),
  },
  {
    env: 'BATON_WORKERS',
    option: 'workers',
    default: '1',
    doc: "Worker processes sharing the port (node:cluster), or 'auto' (one per core); not with memory:. SIGHUP restarts them one at a time.",
    parse: z.string().refine((v) => v === 'auto' || (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= MAX_WORKERS), {
      message: `BATON_WORKERS must be 'auto' (one per core: ${availableParallelism()} here) or a whole number of processes from 1 to ${MAX_WORKERS}`,
    }),
  },
  {
    env: 'BATON_LOG_LEVEL',
    option: 'logLevel',
    default: 'info',
    doc: 'fatal, error, warn, info (a JSON line per request), debug or silent; authorization, cookies, passwords and tokens are redacted.',
    parse: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'silent'], { message: 'BATON_LOG_LEVEL must be fatal, error, warn, info, debug or silent' }),
  },
  {
    env: 'BATON_DPOP',
    option: 'dpop',
    default: 'auto',
    doc: "'auto': DPoP (RFC 9449) once every instance on the store supports it; 'off': none, as a release before DPoP.",
    parse: z.enum(['auto', 'off'], { message: "BATON_DPOP must be 'auto' (DPoP once every instance on the store supports it) or 'off'" }),
  },
  {
    env: 'BATON_HEARTBEAT',
    option: 'heartbeatMs',
    default: '10s',
    doc: 'How often this instance renews its registration in the store (1s to 5m); it lapses after three missed.',
    parse: duration('BATON_HEARTBEAT', 1000, 300_000, "a duration from 1s to 5m, like '10s'"),
  },
  { env: 'BATON_CONFIG', option: '(read first)', doc: 'A JSON file of these settings; the environment wins.' },
  {
    env: 'BATON_RUNTIME_FILE',
    option: '(read by the commands)',
    default: './data/baton-service.json',
    doc: "Where the running service says its URL, issuer and store for `baton` commands (this user's and private, or refused).",
  },
];
