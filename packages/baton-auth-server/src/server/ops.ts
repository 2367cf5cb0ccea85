/**
 * What an operator watches: `GET /healthz` (the process answers), `GET /readyz` (the store answers,
 * keys are loaded, revocations arrive: 503 with the reason otherwise) and Prometheus metrics with
 * prom-client — behind a bearer token (`BATON_METRICS_TOKEN`) or on a port of their own
 * (`BATON_METRICS_PORT`), never open to the world.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BatonError } from 'baton-auth';
import type { Baton, BatonStore } from 'baton-auth';
import { errorTable } from 'baton-auth/errors';
import type { StorageHealth } from './storage-health.ts';

/** How long a readiness check waits for the store. */
const READY_TIMEOUT_MS = 1000;

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
}

/** Registers Baton's metrics. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'baton_' });
  const logins = new Counter({ name: 'baton_logins_total', help: 'Logins by outcome: ok, failed (wrong credentials), throttled (429), cross_site (refused before anything was checked: another site\'s page posted it), dpop_nonce (the DPoP nonce round of a sign-in, RFC 9449 §8: no failure), invalid_request', labelNames: ['outcome'], registers: [registry] });
  const refreshes = new Counter({ name: 'baton_refreshes_total', help: 'Refresh grants by outcome: rotated, grace, reused, invalid (invalid_grant), rate_limited, no_token (a signed-out page\'s probe), dpop_nonce, invalid_request', labelNames: ['outcome'], registers: [registry] });
  const revocations = new Counter({ name: 'baton_revocations_total', help: 'Revocations heard on the feed, by kind: session, jti, key', labelNames: ['kind'], registers: [registry] });
  const feedLag = new Histogram({ name: 'baton_revocation_feed_lag_seconds', help: 'From a revocation to this instance hearing of it', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], registers: [registry] });
  const storeLatency = new Histogram({ name: 'baton_store_duration_seconds', help: 'Store calls by operation', labelNames: ['op', 'outcome'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1], registers: [registry] });
  let openSockets = (): number => 0;
  new Gauge({ name: 'baton_websockets_open', help: 'Open authenticated WebSockets', registers: [registry], collect() { this.set(openSockets()); } });
  let engine: Baton | undefined;
  // Verification counts live in the engine (its hot path does no more than increment): read at scrape time.
  let seen = { ok: 0, byError: {} as Record<string, number> };
  new Counter({
    name: 'baton_verifications_total', help: 'Access-token verifications by outcome (ok, or the error code)', labelNames: ['outcome'], registers: [registry],
    collect() {
      if (engine === undefined) return;
      const now = engine.stats().verify;
      this.inc({ outcome: 'ok' }, now.ok - seen.ok);
      for (const [code, n] of Object.entries(now.byError)) this.inc({ outcome: code }, n - (seen.byError[code] ?? 0));
      seen = { ok: now.ok, byError: { ...now.byError } };
    },
  });
  new Gauge({
    name: 'baton_clock_pending_step_seconds', help: 'The wall clock minus the engine clock: beyond a second, a step of the wall clock the engine takes once it held a minute', registers: [registry], aggregator: 'max',
    collect() {
      this.set(engine === undefined ? 0 : (Date.now() - engine.now()) / 1000);
    },
  });
  new Gauge({
    name: 'baton_verify_cache_hit_ratio', help: 'Share of successful verifications the verified-token cache answered', registers: [registry], aggregator: 'average',
    collect() {
      const { ok, cacheHits } = engine?.stats().verify ?? { ok: 0, cacheHits: 0 };
      this.set(ok === 0 ? 0 : cacheHits / ok);
    },
  });
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
    observeResponse(path, method, status, grant, error) {
      if (method !== 'POST') return;
      // What an operator alerts on is counted as such; a protocol round trip (the DPoP nonce) or a
      // request that carried nothing to check (a signed-out page's refresh probe) is not a failure.
      const refused = (failure: string): string =>
        error === 'use_dpop_nonce' ? 'dpop_nonce' : error === 'invalid_grant' || error === 'invalid_client' || error === 'invalid_dpop_proof' ? failure : error === 'invalid_request' ? 'invalid_request' : 'error';
      if (path.endsWith('/auth/login')) logins.inc({ outcome: status === 200 ? 'ok' : status === 429 ? 'throttled' : status === 403 ? 'cross_site' : status === 401 || status === 400 ? refused('failed') : 'error' });
      else if (path.endsWith('/oauth/token') && grant === 'refresh_token' && status !== 200) {
        refreshes.inc({ outcome: status === 429 ? 'rate_limited' : status === 400 || status === 401 ? (error === 'no_token' ? 'no_token' : refused('invalid')) : 'error' });
      }
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

/** Whether a request may read the metrics: a bearer token compared in constant time (over digests, so lengths leak nothing). */
export function metricsAuthorized(authorization: string | null | undefined, token: string): boolean {
  const presented = authorization?.startsWith('Bearer ') ? authorization.slice(7) : '';
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(presented), digest(token));
}

/**
 * Readiness: each check's verdict, and the first failure's reason. `lost`, when given, says why a
 * store that answers is not the one this instance started on (it lost its data: `install.ts`);
 * `storage`, whether the store can write (`storage-health.ts`).
 */
export async function readiness(baton: Baton, store: BatonStore, o: { lost?: (() => Promise<string | undefined>) | undefined; storage?: StorageHealth | undefined } = {}): Promise<{ ready: boolean; reason?: string; checks: Record<string, string> }> {
  const checks: Record<string, string> = {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([store.ping(), new Promise((_, reject) => (timer = setTimeout(() => reject(new BatonError('ERR_STORE_UNAVAILABLE', `no answer within ${READY_TIMEOUT_MS} ms`, { public: true })), READY_TIMEOUT_MS)))]);
    checks.store = (await o.lost?.()) ?? 'ok';
  } catch (err) {
    // Said without the driver's message: /readyz is unauthenticated, and that message may name hosts and users.
    checks.store = (err as Error).message.startsWith('no answer') ? `unreachable: no answer within ${READY_TIMEOUT_MS} ms` : 'unreachable: the store refused or failed the ping';
  } finally {
    clearTimeout(timer);
  }
  if (o.storage !== undefined) checks.storage = await o.storage.check();
  checks.keys = baton.keys.active('sig') !== undefined ? 'ok' : 'no active signing key';
  checks.revocations = store.subscribed?.() === false ? 'not subscribed: revocations from other instances are not arriving' : 'ok';
  const failed = Object.entries(checks).find(([, v]) => v !== 'ok');
  return failed === undefined ? { ready: true, checks } : { ready: false, reason: `${failed[0]}: ${failed[1]}`, checks };
}

const NO_STORE = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

/**
 * The service's own routes under its base path: `/healthz`, `/readyz`, and `/metrics` when
 * metrics are on and not on a port of their own. Answers `undefined` for any other path.
 */
export function opsRoutes(o: {
  base: string; baton: Baton; store: BatonStore; metrics: Metrics | undefined; metricsToken: string | undefined;
  /** Why a store that answers is not the one this instance started on (`install.ts`). */
  lost?: () => Promise<string | undefined>;
  /** Whether the store can write (`storage-health.ts`). */
  storage?: StorageHealth;
  /** Where the metrics text comes from (BATON_WORKERS: the primary's sum over the workers); default the registry's. */
  scrape?: () => Promise<string>;
  /** Which of BATON_WORKERS answers: said in /healthz (a probe through a load balancer learns which process it reached). */
  worker?: number;
}): (request: Request, pathname: string) => Promise<Response> | undefined {
  const alive = o.worker === undefined ? '{"status":"ok"}' : JSON.stringify({ status: 'ok', worker: o.worker });
  const routes: Record<string, (request: Request) => Promise<Response>> = {
    '/healthz': async () => new Response(alive, { headers: NO_STORE }),
    '/readyz': async () => {
      const r = await readiness(o.baton, o.store, { lost: o.lost, storage: o.storage });
      return new Response(JSON.stringify(r.ready ? { status: 'ready', checks: r.checks } : { status: 'unready', reason: r.reason, checks: r.checks }), { status: r.ready ? 200 : 503, headers: r.ready ? NO_STORE : { ...NO_STORE, 'retry-after': '1' } });
    },
  };
  const token = o.metricsToken;
  if (o.metrics !== undefined && token !== undefined) {
    const { registry } = o.metrics;
    const scrape = o.scrape ?? (() => registry.metrics());
    routes['/metrics'] = async (request) => metricsAuthorized(request.headers.get('authorization'), token)
      ? new Response(await scrape(), { headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' } })
      : new Response(JSON.stringify({ error: errorTable.ERR_TOKEN_INVALID.error, error_description: 'GET /metrics needs Authorization: Bearer <BATON_METRICS_TOKEN>' }), { status: errorTable.ERR_TOKEN_INVALID.status, headers: { ...NO_STORE, 'www-authenticate': 'Bearer realm="baton-metrics"' } });
  }
  return (request, pathname) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
    const route = pathname.startsWith(o.base) ? routes[pathname.slice(o.base.length)] : undefined;
    return route?.(request);
  };
}

/** The answer of the service while it starts: alive, not ready. */
export function startingAnswer(pathname: string): { status: number; body: string } {
  return pathname.endsWith('/healthz')
    ? { status: 200, body: '{"status":"ok"}' }
    : { status: errorTable.ERR_STARTING.status, body: pathname.endsWith('/readyz') ? '{"status":"unready","reason":"starting"}' : JSON.stringify({ error: errorTable.ERR_STARTING.error, error_description: errorTable.ERR_STARTING.message }) };
}
