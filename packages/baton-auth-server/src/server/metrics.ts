/** The service's Prometheus metrics (prom-client): one registry, counters fed by the engine's events, the HTTP layer and the store. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditEvent, Baton, BatonStore } from 'baton-auth';

/** The service's metrics: one registry, counters fed by the engine's events and the HTTP layer. */
export interface Metrics {
  registry: Registry;
  /** Feeds the metrics from the engine's events, revocations and statistics; returns the function that stops it. */
  attach(baton: Baton): () => void;
  /** Counts a login or token-endpoint answer by its outcome (`error`: the OAuth error code of a refusal, or `no_token` for a refresh that carried none). */
  observeResponse(path: string, method: string, status: number, grant: string | undefined, error?: string): void;
  /** Times a store call. */
  storeCall<T>(op: string, call: () => Promise<T>): Promise<T>;
  /** Where the number of open WebSockets comes from. */
  countSockets(count: () => number): void;
  /** Counts an audit event by type, outcome and reason (`baton_audit_events_total`). */
  countAudit(event: AuditEvent): void;
}

/**
 * The reasons an audit event is counted under: a closed list (a session's end, a refusal, a key's),
 * so that an application's own reason strings cannot grow the label set; any other is `other`.
 */
const COUNTED_REASONS = new Set([
  'logout',
  'logout_everywhere',
  'kicked',
  'evicted',
  'reused',
  'idle_timeout',
  'absolute_timeout',
  'key_revoked',
  'password_changed',
  'admin',
  'revoked',
  'rotated',
  'bad_credentials',
  'too_many_failures',
  'unknown_client',
  'missing_secret',
  'wrong_secret',
  'secret_from_a_public_client',
  'invalid_or_expired',
  'other_client',
  'other_redirect_uri',
  'pkce',
  'dpop_missing',
  'dpop_other_key',
  'access_denied',
]);

/** The counters and histograms the service feeds as it answers. */
function serviceMetrics(registry: Registry) {
  const logins = new Counter({
    name: 'baton_logins_total',
    help: "Logins by outcome: ok, failed (wrong credentials), throttled (429), cross_site (refused before anything was checked: another site's page posted it), dpop_nonce (the DPoP nonce round of a sign-in, RFC 9449 §8: no failure), invalid_request",
    labelNames: ['outcome'],
    registers: [registry],
  });
  const refreshes = new Counter({
    name: 'baton_refreshes_total',
    help: "Refresh grants by outcome: rotated, grace, reused, invalid (invalid_grant), rate_limited, no_token (a signed-out page's probe), dpop_nonce, invalid_request",
    labelNames: ['outcome'],
    registers: [registry],
  });
  const revocations = new Counter({
    name: 'baton_revocations_total',
    help: 'Revocations heard on the feed, by kind: session, jti, key',
    labelNames: ['kind'],
    registers: [registry],
  });
  const feedLag = new Histogram({
    name: 'baton_revocation_feed_lag_seconds',
    help: 'From a revocation to this instance hearing of it',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [registry],
  });
  const storeLatency = new Histogram({
    name: 'baton_store_duration_seconds',
    help: 'Store calls by operation',
    labelNames: ['op', 'outcome'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  const audit = new Counter({
    name: 'baton_audit_events_total',
    help: 'Audit events (docs/operations.md, "Audit trail") by type, outcome (success, failure) and reason (a closed list; other: any other)',
    labelNames: ['type', 'outcome', 'reason'],
    registers: [registry],
  });
  return { logins, refreshes, revocations, feedLag, storeLatency, audit };
}

/** The gauges and counters read at scrape time: open sockets, and what the engine counts on its hot path. */
function scrapedMetrics(registry: Registry, openSockets: () => number, engineOf: () => Baton | undefined): void {
  new Gauge({
    name: 'baton_websockets_open',
    help: 'Open authenticated WebSockets',
    registers: [registry],
    collect() {
      this.set(openSockets());
    },
  });
  // Verification counts live in the engine (its hot path does no more than increment): read at scrape time.
  let seen = { ok: 0, byError: {} as Record<string, number> };
  new Counter({
    name: 'baton_verifications_total',
    help: 'Access-token verifications by outcome (ok, or the error code)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      const engine = engineOf();
      if (engine === undefined) return;
      const now = engine.stats().verify;
      this.inc({ outcome: 'ok' }, now.ok - seen.ok);
      for (const [code, n] of Object.entries(now.byError)) this.inc({ outcome: code }, n - (seen.byError[code] ?? 0));
      seen = { ok: now.ok, byError: { ...now.byError } };
    },
  });
  new Gauge({
    name: 'baton_clock_pending_step_seconds',
    help: 'The wall clock minus the engine clock: beyond a second, a step of the wall clock the engine takes once it held a minute',
    registers: [registry],
    aggregator: 'max',
    collect() {
      const engine = engineOf();
      this.set(engine === undefined ? 0 : (Date.now() - engine.now()) / 1000);
    },
  });
  new Gauge({
    name: 'baton_verify_cache_hit_ratio',
    help: 'Share of successful verifications the verified-token cache answered',
    registers: [registry],
    aggregator: 'average',
    collect() {
      const { ok, cacheHits } = engineOf()?.stats().verify ?? { ok: 0, cacheHits: 0 };
      this.set(ok === 0 ? 0 : cacheHits / ok);
    },
  });
}

/**
 * What an operator alerts on is counted as such; a protocol round trip (the DPoP nonce) or a
 * request that carried nothing to check (a signed-out page's refresh probe) is not a failure.
 */
function refused(error: string | undefined, failure: string): string {
  return error === 'use_dpop_nonce'
    ? 'dpop_nonce'
    : error === 'invalid_grant' || error === 'invalid_client' || error === 'invalid_dpop_proof'
      ? failure
      : error === 'invalid_request'
        ? 'invalid_request'
        : 'error';
}

/** A login's outcome, from its answer's status and OAuth error code. */
function loginOutcome(status: number, error: string | undefined): string {
  return status === 200
    ? 'ok'
    : status === 429
      ? 'throttled'
      : status === 403
        ? 'cross_site'
        : status === 401 || status === 400
          ? refused(error, 'failed')
          : 'error';
}

/** A refused refresh's outcome (`no_token`: the request carried none). */
function refreshOutcome(status: number, error: string | undefined): string {
  return status === 429 ? 'rate_limited' : status === 400 || status === 401 ? (error === 'no_token' ? 'no_token' : refused(error, 'invalid')) : 'error';
}

/** Registers Baton's metrics. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'baton_' });
  const { logins, refreshes, revocations, feedLag, storeLatency, audit } = serviceMetrics(registry);
  let openSockets = (): number => 0;
  let engine: Baton | undefined;
  scrapedMetrics(
    registry,
    () => openSockets(),
    () => engine,
  );
  return {
    registry,
    attach(baton) {
      engine = baton;
      const stops = [
        baton.on('refresh.rotated', () => refreshes.inc({ outcome: 'rotated' })),
        baton.on('refresh.grace', () => refreshes.inc({ outcome: 'grace' })),
        baton.on('refresh.reused', () => refreshes.inc({ outcome: 'reused' })),
        baton.onRevocation((event) => {
          revocations.inc({ kind: event.kind });
          feedLag.observe(Math.max(0, Date.now() - event.at) / 1000);
        }),
      ];
      return () => stops.forEach((stop) => stop());
    },
    countSockets(count) {
      openSockets = count;
    },
    countAudit(event) {
      const reason = event.reason === undefined ? '' : COUNTED_REASONS.has(event.reason) ? event.reason : 'other';
      audit.inc({ type: event.type, outcome: event.outcome, reason });
    },
    observeResponse(path, method, status, grant, error) {
      if (method !== 'POST') return;
      if (path.endsWith('/auth/login')) logins.inc({ outcome: loginOutcome(status, error) });
      else if (path.endsWith('/oauth/token') && grant === 'refresh_token' && status !== 200) refreshes.inc({ outcome: refreshOutcome(status, error) });
    },
    async storeCall(op, call) {
      const end = storeLatency.startTimer({ op });
      try {
        const result = await call();
        end({ outcome: 'ok' });
        return result;
      } catch (err) {
        end({ outcome: 'error' });
        throw err;
      }
    },
  };
}

/** The store with each call timed into `metrics` (a Proxy: every method, whatever the store). */
export function timedStore<S extends BatonStore>(store: S, metrics: Metrics): S {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      // Called on the store itself, not the proxy: its methods use private fields.
      if (typeof key !== 'string' || key === 'close') return (value as (...a: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        return result instanceof Promise ? metrics.storeCall(key, () => result) : result;
      };
    },
  });
}
