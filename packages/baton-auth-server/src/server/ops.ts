/**
 * What an operator watches: `GET /healthz` (the process answers), `GET /readyz` (the store answers,
 * keys are loaded, revocations arrive: 503 with the reason otherwise) and Prometheus metrics with
 * prom-client — behind a bearer token (`BATON_METRICS_TOKEN`) or on a port of their own
 * (`BATON_METRICS_PORT`), never open to the world.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BatonError } from 'baton-auth';
import type { Baton, BatonStore } from 'baton-auth';
import { errorTable } from 'baton-auth/errors';
import type { Metrics } from './metrics.ts';
import type { StorageHealth } from './storage-health.ts';

/** How long a readiness check waits for the store. */
const READY_TIMEOUT_MS = 1000;

export { createMetrics, timedStore } from './metrics.ts';
export type { Metrics } from './metrics.ts';

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
export async function readiness(
  baton: Baton,
  store: BatonStore,
  o: { lost?: (() => Promise<string | undefined>) | undefined; storage?: StorageHealth | undefined } = {},
): Promise<{ ready: boolean; reason?: string; checks: Record<string, string> }> {
  const checks: Record<string, string> = {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      store.ping(),
      new Promise(
        (_, reject) =>
          (timer = setTimeout(
            () => reject(new BatonError('ERR_STORE_UNAVAILABLE', `no answer within ${READY_TIMEOUT_MS} ms`, { public: true })),
            READY_TIMEOUT_MS,
          )),
      ),
    ]);
    checks.store = (await o.lost?.()) ?? 'ok';
  } catch (err) {
    // Said without the driver's message: /readyz is unauthenticated, and that message may name hosts and users.
    checks.store = (err as Error).message.startsWith('no answer')
      ? `unreachable: no answer within ${READY_TIMEOUT_MS} ms`
      : 'unreachable: the store refused or failed the ping';
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
  base: string;
  baton: Baton;
  store: BatonStore;
  metrics: Metrics | undefined;
  metricsToken: string | undefined;
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
      return new Response(JSON.stringify(r.ready ? { status: 'ready', checks: r.checks } : { status: 'unready', reason: r.reason, checks: r.checks }), {
        status: r.ready ? 200 : 503,
        headers: r.ready ? NO_STORE : { ...NO_STORE, 'retry-after': '1' },
      });
    },
  };
  const token = o.metricsToken;
  if (o.metrics !== undefined && token !== undefined) {
    const { registry } = o.metrics;
    const scrape = o.scrape ?? (() => registry.metrics());
    routes['/metrics'] = async (request) =>
      metricsAuthorized(request.headers.get('authorization'), token)
        ? new Response(await scrape(), { headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' } })
        : new Response(
            JSON.stringify({ error: errorTable.ERR_TOKEN_INVALID.error, error_description: 'GET /metrics needs Authorization: Bearer <BATON_METRICS_TOKEN>' }),
            {
              status: errorTable.ERR_TOKEN_INVALID.status,
              headers: { ...NO_STORE, 'www-authenticate': 'Bearer realm="baton-metrics"' },
            },
          );
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
    : {
        status: errorTable.ERR_STARTING.status,
        body: pathname.endsWith('/readyz')
          ? '{"status":"unready","reason":"starting"}'
          : JSON.stringify({ error: errorTable.ERR_STARTING.error, error_description: errorTable.ERR_STARTING.message }),
      };
}
