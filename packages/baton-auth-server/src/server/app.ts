/**
 * The standalone token service: the store named by the configuration, the key ring sealed in it
 * under the service secret (`custody.ts`), users and clients kept there too, the HTTP handler
 * and the web page.
 */
import pino from 'pino';
import { BatonConfigError, createBaton, steadyClock } from 'baton-auth';
import type { AuditSink, Baton, BatonEvent, BatonStore } from 'baton-auth';
import { createAuthHandler, createLoginProtection } from 'baton-auth/http';
import type { AuthHandler, AuthHandlerOptions } from 'baton-auth/http';
import { createPasskeys } from 'baton-auth/passkeys';
import { authorizationOf } from './authorization.ts';
import { bootstrapClients, clients, DEFAULT_CLIENT, storeClients } from './clients.ts';
import { dpopGauge, joinCluster } from './cluster.ts';
import type { Membership } from './cluster.ts';
import type { WorkerLink } from './workers.ts';
import type { ServerConfig } from './config.ts';
import { openCustody, saveRing } from './custody.ts';
import { serviceAudit } from './audit-trail.ts';
import { observeResponses } from './observe.ts';
import { servicePage } from './page.ts';
import { traceRefusal } from './spans.ts';
import { schedule } from './schedules.ts';
import { createMetrics, opsRoutes, timedStore } from './ops.ts';
import type { Metrics } from './ops.ts';
import { outageAware } from './outage.ts';
import { connectStore } from './store.ts';
import { lostAnswer, storeLost, watchInstall } from './install.ts';
import { storageHealth } from './storage-health.ts';
import type { StorageHealth } from './storage-health.ts';
import { checkIntegrity } from './files.ts';
import type { Custody, ServiceSecret } from './custody.ts';
import { serviceProviders } from './providers.ts';
import { users } from './users.ts';

export { users } from './users.ts';
export { connectStore, openStore } from './store.ts';
export { initStore } from './install.ts';

/** The engine's option names as the service's settings call them, so that a mistake names what the operator set. */
const SETTING_OF: Record<string, string> = {
  accessTokenTtl: 'BATON_ACCESS_TTL',
  refreshTokenTtl: 'BATON_REFRESH_TTL',
  refreshGrace: 'BATON_REFRESH_GRACE',
  maxSessionsPerUser: 'BATON_MAX_SESSIONS',
  tokenFormat: 'BATON_TOKEN_FORMAT',
  refreshRateLimit: 'BATON_REFRESH_RATE',
  issuer: 'BATON_ISSUER',
};

/** The engine of the service on `store`, with the keys of its sealed ring; a mistake in its settings names them. */
export function createEngine(config: ServerConfig, store: BatonStore, custody: Custody, hooks: EngineHooks = {}): Baton {
  try {
    return engineOf(config, store, custody, hooks);
  } catch (err) {
    if (!(err instanceof BatonConfigError)) throw err;
    throw new BatonConfigError(
      err.message.replace(/`([A-Za-z.]+)`/g, (all, name: string) => SETTING_OF[name.split('.')[0] as string] ?? all),
      { cause: err },
    );
  }
}

/** What the service (or a `baton` command) hears from its engine: lifecycle events, the wall clock's steps, the audit trail. */
export interface EngineHooks {
  onEvent?: (event: BatonEvent) => void;
  onDrift?: (pendingMs: number) => void;
  audit?: AuditSink;
}

function engineOf(config: ServerConfig, store: BatonStore, custody: Custody, { onEvent, onDrift, audit }: EngineHooks): Baton {
  return createBaton({
    now: steadyClock(onDrift ? { onDrift } : {}),
    issuer: config.issuer,
    keys: custody.ring,
    store,
    accessTokenTtl: config.accessTokenTtl,
    refreshTokenTtl: config.refreshTokenTtl,
    refreshGrace: config.refreshGrace,
    maxSessionsPerUser: config.maxSessionsPerUser,
    tokenFormat: config.tokenFormat,
    refreshRateLimit: config.refreshRateLimit,
    persistKeys: () => saveRing(custody, store),
    ...(onEvent ? { onEvent } : {}),
    ...(audit ? { audit } : {}),
  });
}

/** The engine, the handler and the store of one service instance. */
export interface Service {
  baton: Baton;
  /** The token endpoints and the web page. */
  handler: AuthHandler;
  store: BatonStore;
  custody: Custody;
  /** Present when metrics are on (`BATON_METRICS_TOKEN` or `BATON_METRICS_PORT`). */
  metrics: Metrics | undefined;
  close(): Promise<void>;
}

/** Builds the service from its configuration; `link`: this process is one of BATON_WORKERS (`workers.ts`). */
export async function createService(config: ServerConfig, logger = pino({ level: config.logLevel }), link?: WorkerLink): Promise<Service> {
  // A corrupt page stops the start with a sentence, rather than failing requests one by one later
  // (BATON_WORKERS: the primary checked once, before the workers; each would read every page again).
  if (link === undefined) await checkIntegrity(config);
  const store = await connectStore(config.store);
  let member: Membership | undefined;
  try {
    const custody = await openCustody(config, store);
    // Its issuer checked against the other instances of the store, and DPoP decided with them (cluster.ts).
    member = await joinCluster(store, config, logger);
    return await serviceOn(store, custody, member, config, logger, link);
  } catch (err) {
    await member?.leave();
    await store.close().catch(() => undefined); // an open connection would keep a failed start alive
    throw err;
  }
}

/** The warnings of the configuration, the key custody and the store, logged once at start; the clients and users indexes brought up to date. */
async function prepareStore(raw: BatonStore, custody: Custody, config: ServerConfig, logger: pino.Logger): Promise<void> {
  for (const warning of [...config.warnings, ...custody.warnings]) logger.warn({ event: 'config.warning' }, warning);
  const volatile = await (raw as { persistenceWarning?: () => Promise<string | undefined> }).persistenceWarning?.();
  if (volatile !== undefined) logger.warn({ event: 'config.warning' }, volatile);
  for (const warning of await bootstrapClients(raw, config.introspectionSecret)) logger.warn({ event: 'config.warning' }, warning);
  await users.indexNames(raw); // users added before the id → name index (`/auth/me`'s username)
}

/** A step of the wall clock the engine has not taken yet (it takes one the wall clock kept a minute): an operator should see it coming. */
function driftLog(logger: pino.Logger): (pendingMs: number) => void {
  return (pendingMs) => {
    if (pendingMs === 0) logger.info({ event: 'clock.agrees' }, 'the engine clock agrees with the wall clock again');
    else
      logger.warn(
        { event: 'clock.step_pending', pendingMs },
        `the wall clock stepped ${pendingMs > 0 ? 'forward' : 'back'} by ${Math.abs(pendingMs)} ms: the engine clock takes the step once the wall clock has kept it for a minute`,
      );
  };
}

/** The token service's endpoints over the store's users and clients. */
async function endpointsOf(
  baton: Baton,
  store: BatonStore,
  member: Membership,
  config: ServerConfig,
  logger: pino.Logger,
  secret: ServiceSecret,
): Promise<AuthHandler> {
  return createAuthHandler({
    baton,
    authenticate: async (username, password) => {
      const user = await users.authenticate(store, username, password);
      return user === null ? null : { userId: user.id, scope: user.scopes.join(' ') };
    },
    username: (userId) => users.nameOf(store, userId),
    clients: storeClients(store),
    defaultClientId: DEFAULT_CLIENT,
    resources: config.resources,
    scopes: config.scopes ?? [...new Set((await clients.list(store)).flatMap((c) => c.scopes ?? []))].sort(),
    cookie: { secure: config.cookieSecure },
    allowedOrigins: config.allowedOrigins,
    // Failed logins and introspection client authentications, counted in the store (shared by instances).
    // Failure counters on the engine's steady clock: a step of the wall clock lifts no block early.
    loginProtection: createLoginProtection({ store, now: () => baton.now(), failures: config.loginFailures, failuresPerIp: config.loginFailuresPerIp }),
    clientProtection: createLoginProtection({
      store,
      now: () => baton.now(),
      keyPrefix: 'client',
      failures: config.loginFailures,
      failuresPerIp: config.loginFailuresPerIp,
    }),
    // DPoP once every instance on the store supports it (cluster.ts).
    dpop: member.dpop,
    logger,
    // With sign-in with other providers (`baton providers`): read from the store, a change seen within 5 s.
    authorization: { ...authorizationOf(config, store, baton), providers: serviceProviders(store, secret, config.issuer.replace(/\/$/, '')) },
    ...passkeysOf(config, store, baton),
  });
}

/** Passkeys on the service's store, when `BATON_PASSKEYS_RP_ID` is set; a user's scopes for a sign-in without a password. */
function passkeysOf(config: ServerConfig, store: BatonStore, baton: Baton): Pick<AuthHandlerOptions, 'passkeys' | 'userScope'> {
  if (config.passkeys === undefined) return {};
  const { rpId, origins, maxPerUser } = config.passkeys;
  return {
    passkeys: createPasskeys({ baton, store, rpId, origins, maxPerUser, rpName: config.page.title ?? 'Baton' }),
    userScope: async (userId) => (await users.byId(store, userId))?.scopes.join(' '),
  };
}

/** The answer of an endpoint while the store has lost its data, traced (`spans.ts`). */
function lost(request: Request): Response {
  const answer = lostAnswer();
  traceRefusal(request.method, request.headers, answer.status, 'ERR_STORE_UNAVAILABLE');
  return answer;
}

/** What the service's handler is made of. */
interface Parts {
  baton: Baton;
  raw: BatonStore;
  endpoints: AuthHandler;
  metrics: Metrics | undefined;
  install: ReturnType<typeof watchInstall>;
  health: StorageHealth;
  link: WorkerLink | undefined;
}

/** The service's handler: the page, the operations routes (health, readiness, metrics), then the endpoints. */
function serviceHandler(config: ServerConfig, { baton, raw, endpoints, metrics, install, health, link }: Parts): AuthHandler {
  const base = new URL(config.issuer).pathname.replace(/\/$/, '');
  const pageOf = servicePage(base, { passkeys: config.passkeys !== undefined });
  const ops = opsRoutes({
    base,
    baton,
    store: raw,
    metrics,
    metricsToken: config.metricsPort === undefined ? config.metricsToken : undefined,
    lost: storeLost(install),
    storage: health,
    ...(link === undefined ? {} : { scrape: () => link.metrics(), worker: link.id }),
  });
  const observed = observeResponses(endpoints, metrics);
  return Object.assign(
    async (request: Request, context?: Parameters<AuthHandler>[1]) => {
      const { pathname } = new URL(request.url);
      const serve = request.method === 'GET' || request.method === 'HEAD' ? pageOf(pathname) : undefined;
      // Metadata and the JWKS need no store; every other endpoint waits for a store that lost its data to come back.
      const response = await (serve
        ? serve()
        : (ops(request, pathname) ??
          (install.lost() !== undefined && !pathname.includes('/.well-known/') ? lost(request) : observed(request, context, pathname))));
      // A revocation made by this request is answered only once every other worker applies it.
      await link?.flush();
      return response;
    },
    {
      handles: (pathname: string) => pageOf(pathname) !== undefined || endpoints.handles(pathname) || /\/(healthz|readyz|metrics)$/.test(pathname),
      maxBodyBytes: endpoints.maxBodyBytes,
      allowedOrigins: endpoints.allowedOrigins,
      closeStreams: (final?: boolean) => endpoints.closeStreams?.(final),
    },
  );
}

async function serviceOn(
  raw: BatonStore,
  custody: Custody,
  member: Membership,
  config: ServerConfig,
  logger: pino.Logger,
  link: WorkerLink | undefined,
): Promise<Service> {
  // A store that lost its data (its install record gone) makes this instance not ready, never a fresh install.
  const install = watchInstall(raw, custody.install, config.store, logger);
  custody.lost = install.lost;
  await prepareStore(raw, custody, config, logger);
  // Metrics only when someone may read them: timing every store call is not free.
  const metrics = config.metricsToken !== undefined || config.metricsPort !== undefined ? createMetrics() : undefined;
  // Storage that cannot write (a full disk, a corrupt page) is logged once and makes /readyz unready.
  const health = storageHealth(logger);
  const watched = health.watch(raw);
  const guarded = outageAware(metrics === undefined ? watched : timedStore(watched, metrics));
  // One of several workers: revocations the others make arrive through the primary at once.
  const store = link === undefined ? guarded : link.relayStore(guarded);
  // The audit trail: this process's file or standard output, or the primary's through IPC (audit-trail.ts); counted in the metrics.
  const audit = serviceAudit(config.audit, metrics, link);
  const baton = createEngine(config, store, custody, {
    onEvent: (event) => logger.info({ event: event.type, sid: 'sessionId' in event ? event.sessionId : undefined }, event.type),
    onDrift: driftLog(logger),
    ...(audit.sink === undefined ? {} : { audit: audit.sink }),
  });
  const stopMetrics = metrics?.attach(baton);
  if (metrics !== undefined) dpopGauge(member, metrics.registry);
  const stopLink = link?.attach(baton, metrics);
  await baton.ready();
  const { reload, stopKeyEvents, sweep } = schedule(baton, custody, store, install, config, logger);
  const endpoints = await endpointsOf(baton, store, member, config, logger, custody.secret);
  const handler = serviceHandler(config, { baton, raw, endpoints, metrics, install, health, link });
  return {
    baton,
    handler,
    store,
    custody,
    metrics,
    async close() {
      install.stop();
      clearInterval(reload);
      stopKeyEvents();
      stopMetrics?.();
      stopLink?.();
      clearInterval(sweep);
      await member.leave();
      await baton.close();
      await store.close();
      audit.close();
    },
  };
}
