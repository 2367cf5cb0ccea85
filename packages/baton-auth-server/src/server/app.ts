/**
 * The standalone token service: the store named by the configuration, the key ring sealed in it
 * under the service secret (`custody.ts`), users and clients kept there too, the HTTP handler
 * and the web page.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server } from 'node:http';
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import pino from 'pino';
import proxyaddr from 'proxy-addr';
import { BatonConfigError, createBaton, steadyClock, toMs } from 'baton-auth';
import type { Baton, BatonEvent, BatonStore } from 'baton-auth';
import { budgetAddress, canonicalAddress, createAuthHandler, createLoginProtection } from 'baton-auth/http';
import type { AuthHandler } from 'baton-auth/http';
import { toNodeListener } from 'baton-auth/adapters/node';
import { attachWebSocketAuth } from 'baton-auth/ws';
import { bootstrapClients, clients, DEFAULT_CLIENT, storeClients } from './clients.ts';
import { dpopGauge, joinCluster } from './cluster.ts';
import type { Membership } from './cluster.ts';
import type { WorkerLink } from './workers.ts';
import type { ServerConfig } from './config.ts';
import { openCustody, readRing, saveRing } from './custody.ts';
import { createMetrics, opsRoutes, startingAnswer, timedStore } from './ops.ts';
import type { Metrics } from './ops.ts';
import { connectStore, outageAware } from './store.ts';
import { lostAnswer, storeLost, watchInstall } from './install.ts';
import { storageHealth } from './storage-health.ts';
import { checkIntegrity } from './files.ts';
import type { Custody } from './custody.ts';
import { users } from './users.ts';

export { users } from './users.ts';
export { connectStore, openStore } from './store.ts';
export { initStore } from './install.ts';

/** The engine's option names as the service's settings call them, so that a mistake names what the operator set. */
const SETTING_OF: Record<string, string> = {
  accessTokenTtl: 'BATON_ACCESS_TTL', refreshTokenTtl: 'BATON_REFRESH_TTL', refreshGrace: 'BATON_REFRESH_GRACE',
  maxSessionsPerUser: 'BATON_MAX_SESSIONS', tokenFormat: 'BATON_TOKEN_FORMAT', refreshRateLimit: 'BATON_REFRESH_RATE', issuer: 'BATON_ISSUER',
};

/** The engine of the service on `store`, with the keys of its sealed ring; a mistake in its settings names them. */
export function createEngine(config: ServerConfig, store: BatonStore, custody: Custody, onEvent?: (event: BatonEvent) => void, onDrift?: (pendingMs: number) => void): Baton {
  try {
    return engineOf(config, store, custody, onEvent, onDrift);
  } catch (err) {
    if (!(err instanceof BatonConfigError)) throw err;
    throw new BatonConfigError(err.message.replace(/`([A-Za-z.]+)`/g, (all, name: string) => SETTING_OF[name.split('.')[0] as string] ?? all), { cause: err });
  }
}

function engineOf(config: ServerConfig, store: BatonStore, custody: Custody, onEvent?: (event: BatonEvent) => void, onDrift?: (pendingMs: number) => void): Baton {
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

const WEB = new URL('../../web/', import.meta.url);

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

async function serviceOn(raw: BatonStore, custody: Custody, member: Membership, config: ServerConfig, logger: pino.Logger, link: WorkerLink | undefined): Promise<Service> {
  // A store that lost its data (its install record gone) makes this instance not ready, never a fresh install.
  const install = watchInstall(raw, custody.install, config.store, logger);
  custody.lost = install.lost;
  for (const warning of [...config.warnings, ...custody.warnings]) logger.warn({ event: 'config.warning' }, warning);
  const volatile = await (raw as { persistenceWarning?: () => Promise<string | undefined> }).persistenceWarning?.();
  if (volatile !== undefined) logger.warn({ event: 'config.warning' }, volatile);
  for (const warning of await bootstrapClients(raw, config.introspectionSecret)) logger.warn({ event: 'config.warning' }, warning);
  await users.indexNames(raw); // users added before the id → name index (`/auth/me`'s username)
  // Metrics only when someone may read them: timing every store call is not free.
  const metrics = config.metricsToken !== undefined || config.metricsPort !== undefined ? createMetrics() : undefined;
  // Storage that cannot write (a full disk, a corrupt page) is logged once and makes /readyz unready.
  const health = storageHealth(logger);
  const watched = health.watch(raw);
  const guarded = outageAware(metrics === undefined ? watched : timedStore(watched, metrics));
  // One of several workers: revocations the others make arrive through the primary at once.
  const store = link === undefined ? guarded : link.relayStore(guarded);
  // A step of the wall clock the engine has not taken yet (it takes one the wall clock kept a minute): an operator should see it coming.
  const onDrift = (pendingMs: number): void => {
    if (pendingMs === 0) logger.info({ event: 'clock.agrees' }, 'the engine clock agrees with the wall clock again');
    else logger.warn({ event: 'clock.step_pending', pendingMs }, `the wall clock stepped ${pendingMs > 0 ? 'forward' : 'back'} by ${Math.abs(pendingMs)} ms: the engine clock takes the step once the wall clock has kept it for a minute`);
  };
  const baton = createEngine(config, store, custody, (event) => logger.info({ event: event.type, sid: 'sessionId' in event ? event.sessionId : undefined }, event.type), onDrift);
  const stopMetrics = metrics?.attach(baton);
  if (metrics !== undefined) dpopGauge(member, metrics.registry);
  const stopLink = link?.attach(baton, metrics);
  await baton.ready();
  // Keys rotated by another instance (`baton keys rotate`) reach this one within BATON_KEY_RELOAD;
  // the new signing key was published one rotation earlier, so no valid token is refused meanwhile.
  // A key revoked elsewhere (`baton keys revoke`) arrives through the revocation feed at once.
  const reloadKeys = (): void => {
    if (install.lost() !== undefined) return; // a store that lost its data, or was set up anew, has no keys for this instance
    readRing(custody, store).then((saved) => {
      const now = baton.now(); // the engine's steady clock: a step of the wall clock retires no key early
      if (saved !== null && baton.keys.sync(saved, now)) logger.info({ event: 'keys.reloaded' }, 'keys reloaded');
      baton.keys.prune(now);
    }, (err: unknown) => logger.warn({ event: 'keys.reload_failed' }, (err as Error).message));
  };
  const reload = setInterval(reloadKeys, toMs(config.keyReload, 'BATON_KEY_RELOAD'));
  reload.unref();
  const stopKeyEvents = baton.onRevocation((event) => {
    if (event.kind === 'key') reloadKeys();
  });
  // Expired sessions, denylist entries and counters (failed logins) go on a schedule.
  const sweep = config.sweepIntervalMs === false ? undefined : setInterval(() => {
    baton.sweep().then(
      (removed) => logger.debug({ event: 'sweep', removed }, 'expired records swept'),
      (err: unknown) => logger.warn({ event: 'sweep.failed', err: err instanceof Error ? err.name : typeof err }, 'sweep failed'),
    );
  }, config.sweepIntervalMs);
  sweep?.unref();
  const file = (name: string, type: string) => {
    const url = new URL(name, WEB);
    let body: Buffer<ArrayBuffer>;
    try {
      body = readFileSync(url);
    } catch {
      throw new BatonConfigError(`The web page's ${url.pathname} cannot be read: run \`npm run build\` (it bundles the client SDK for the page).`);
    }
    // Never in a frame: a page of another origin of the same site (a sibling subdomain) would get a
    // signed-in page there, and a click on it ("Sign out everywhere"). A <meta> CSP cannot say
    // frame-ancestors (CSP 3 §6.4.2); X-Frame-Options for browsers without it (RFC 7034).
    const headers = { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', 'content-security-policy': "frame-ancestors 'none'", 'x-frame-options': 'DENY' };
    return () => new Response(body, { headers });
  };
  const endpoints = createAuthHandler({
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
    clientProtection: createLoginProtection({ store, now: () => baton.now(), keyPrefix: 'client', failures: config.loginFailures, failuresPerIp: config.loginFailuresPerIp }),
    // DPoP once every instance on the store supports it (cluster.ts).
    dpop: member.dpop,
    logger,
  });
  // The page is the service's, not the library handler's: served here, beside the endpoints.
  const page: Record<string, () => Response> = {
    '/': file('index.html', 'text/html; charset=utf-8'),
    '/app.js': file('app.js', 'text/javascript; charset=utf-8'),
    '/client.js': file('client.js', 'text/javascript; charset=utf-8'),
  };
  const base = new URL(config.issuer).pathname.replace(/\/$/, '');
  const pageOf = (pathname: string) => (pathname.startsWith(base) ? page[pathname.slice(base.length) || '/'] : undefined);
  const ops = opsRoutes({
    base, baton, store: raw, metrics, metricsToken: config.metricsPort === undefined ? config.metricsToken : undefined, lost: storeLost(install), storage: health,
    ...(link === undefined ? {} : { scrape: () => link.metrics(), worker: link.id }),
  });
  const observed = async (request: Request, context: Parameters<AuthHandler>[1], pathname: string): Promise<Response> => {
    if (metrics === undefined || request.method !== 'POST') return endpoints(request, context);
    const fields = pathname.endsWith('/oauth/token') ? new URLSearchParams(await request.clone().text()) : undefined;
    const grant = fields?.get('grant_type') ?? undefined;
    const response = await endpoints(request, context);
    let error: string | undefined;
    if (grant === 'refresh_token' && !fields?.has('refresh_token') && !/(^|;\s*)(__Host-|__Secure-)?baton_rt=/.test(request.headers.get('cookie') ?? '')) error = 'no_token';
    else if (response.status === 400 || response.status === 401) {
      // A refusal's body is a small JSON object (RFC 6749 §5.2): its code says what to count.
      error = await response.clone().json().then((b: { error?: unknown }) => (typeof b.error === 'string' ? b.error : undefined), () => undefined);
    }
    metrics.observeResponse(pathname, request.method, response.status, grant, error);
    return response;
  };
  const handler: AuthHandler = Object.assign(
    async (request: Request, context?: Parameters<AuthHandler>[1]) => {
      const { pathname } = new URL(request.url);
      const serve = request.method === 'GET' || request.method === 'HEAD' ? pageOf(pathname) : undefined;
      // Metadata and the JWKS need no store; every other endpoint waits for a store that lost its data to come back.
      const response = await (serve ? serve() : (ops(request, pathname) ?? (install.lost() !== undefined && !pathname.includes('/.well-known/') ? lostAnswer() : observed(request, context, pathname))));
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
    },
  };
}

/** A failure to listen as a sentence naming the setting that fixes it (the raw `listen EADDRINUSE` helps nobody). */
function listenError(err: NodeJS.ErrnoException, host: string, port: number, setting: string): Error {
  if (err.code === 'EADDRINUSE') return new BatonConfigError(`Port ${port} on ${host} is already in use (another baton serve, or another program): stop it, or choose another with ${setting}.`);
  if (err.code === 'EACCES') return new BatonConfigError(`Port ${port} on ${host} needs privileges this process lacks: choose one above 1023 with ${setting}.`);
  if (err.code === 'EADDRNOTAVAIL') return new BatonConfigError(`${host} is not an address of this machine: set HOST to one it has (127.0.0.1, 0.0.0.0, ::).`);
  return err;
}

/** Metrics on their own port (`BATON_METRICS_PORT`, on `HOST`): only `GET /metrics`, no token. */
async function serveMetrics(metrics: Metrics, config: ServerConfig, link: WorkerLink | undefined): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') return void res.writeHead(404).end();
    (link === undefined ? metrics.registry.metrics() : link.metrics()).then((text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text), () => res.writeHead(500).end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, config.host, config.metricsPort ?? 0, 'BATON_METRICS_PORT')));
    server.listen(config.metricsPort, config.host, resolve);
  });
  return server;
}

/**
 * One client address cannot hold every connection slot (BATON_MAX_CONNECTIONS): past
 * BATON_MAX_CONNECTIONS_PER_ADDRESS open connections (an eighth of the slots by default), its new
 * ones are closed on arrival, before any byte is read, so every other address — a health check's
 * among them — still gets a slot; filling all of them takes many addresses. Counted on the
 * socket's peer, the only address known when a connection arrives. A trusted proxy's connections
 * (BATON_TRUST_PROXY) carry many clients, so they are not capped here (only by
 * BATON_MAX_CONNECTIONS): capping each client behind it is the proxy's work, which sees their
 * sockets. The count per address lives while its connections do: bounded by the open connections.
 * An IPv6 address counts as its /64, as login protection budgets it: one host holds a whole /64.
 */
function capConnectionsPerAddress(server: Server, config: ServerConfig): void {
  const hops = config.trustProxy;
  const proxies = typeof hops === 'number' ? undefined : proxyaddr.compile(hops);
  // A hop count trusts whatever connects (every peer is the proxy); a list, the peers it names.
  const trusted = (peer: string): boolean => (proxies === undefined ? (hops as number) > 0 : proxies(peer, 0));
  const open = new Map<string, number>();
  // Before node:http's own listener: a refused socket never gets a parser.
  server.prependListener('connection', (socket: Socket) => {
    if (socket.remoteAddress === undefined) return void socket.destroy(); // already gone
    const peer = canonicalAddress(socket.remoteAddress);
    if (trusted(peer)) return;
    const key = budgetAddress(peer);
    const count = open.get(key) ?? 0;
    if (count >= config.maxConnectionsPerAddress) return void socket.destroy();
    open.set(key, count + 1);
    socket.once('close', () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left === 0) open.delete(key);
      else open.set(key, left);
    });
  });
}

/**
 * Starts listening; SIGTERM/SIGINT stop accepting, finish in-flight requests, close the store.
 * `link`: this process is one of BATON_WORKERS, which listens only once its service is ready (the
 * port is shared: until then the other workers serve), and whose log lines say `worker`.
 */
export async function startServer(config: ServerConfig, link?: WorkerLink): Promise<{ server: Server; service: Service; url: string; stop: () => Promise<void> }> {
  // Tokens, secrets and passwords never reach a log line.
  const logger = pino({
    level: config.logLevel,
    ...(link === undefined ? {} : { base: { pid: process.pid, hostname: hostname(), worker: link.id } }),
    redact: { paths: ['*.authorization', '*.cookie', '*.dpop', '*.password', '*.token', '*.access_token', '*.refresh_token', 'req.headers.authorization', 'req.headers.cookie', 'req.headers.dpop'], censor: '[redacted]' },
  });
  // Slow clients (a header or a body trickled byte by byte) are cut off: Node checks the two
  // timeouts every connectionsCheckingInterval (30 s by default, longer than the timeouts here).
  const server = createServer({
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: 5000,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, config.headersTimeoutMs / 4)),
  });
  server.maxConnections = config.maxConnections;
  capConnectionsPerAddress(server, config);
  // Listening comes first (PORT=0 must name its port in the issuer); until the service is ready,
  // every request gets 503 with Retry-After (RFC 9110 §15.6.4) rather than waiting for a handler.
  let listener: RequestListener = (req, res) => {
    const { status, body } = startingAnswer((req.url ?? '/').split('?')[0] as string);
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...(status === 503 ? { 'retry-after': '1' } : {}) });
    res.end(body);
  };
  server.on('request', (req, res) => listener(req, res));
  const listen = () => new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, config.host, config.port, 'PORT')));
    server.listen(config.port, config.host, resolve);
  });
  if (link === undefined) await listen();
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  // PORT=0 picks a free port; the default issuer then names the port actually bound.
  const issuer = config.port === 0 && !config.issuerSet ? url : config.issuer;
  let service: Service;
  try {
    service = await createService({ ...config, issuer }, logger, link);
  } catch (err) {
    server.close();
    server.closeAllConnections(); // the clients that were told 503
    throw err;
  }
  // The client's address (login protection, a session's device, logs): the socket's, or with
  // BATON_TRUST_PROXY the X-Forwarded-For entry just before the trusted proxies (as Express does).
  const hops = config.trustProxy;
  const trust = typeof hops === 'number' ? (_addr: string, i: number) => i < hops : proxyaddr.compile(hops);
  const clientAddress = (req: IncomingMessage): string => {
    try {
      // A trusted proxy passes on whatever the client wrote before its own entry: what is no address
      // (any text, up to the header's size) is not taken as one; the proxy's address stands for it.
      const address = proxyaddr(req, trust);
      return canonicalAddress(isIP(address) !== 0 ? address : (req.socket.remoteAddress ?? 'unknown'));
    } catch {
      return 'unknown'; // the socket is already gone
    }
  };
  listener = toNodeListener(service.handler, { origin: issuer, address: clientAddress });
  // GET /ws: authenticated WebSockets with re-authentication; the service itself only answers pings.
  // Sockets are counted per client address as the HTTP side sees it (BATON_TRUST_PROXY), and DPoP
  // proofs name the issuer's URL for them, never one built from a Host header.
  const issuerUrl = new URL(issuer);
  const sockets = attachWebSocketAuth({
    baton: service.baton,
    server,
    addressOf: clientAddress,
    // Sockets may hold at most half of the connection slots, however many addresses open them:
    // the other half stays for HTTP (a health check, a login).
    maxSockets: Math.max(1, Math.floor(config.maxConnections / 2)),
    // A page of another site may not open sockets here (they would count against its visitors' address).
    allowedOrigins: [...service.handler.allowedOrigins],
    url: `${issuerUrl.protocol === 'https:' ? 'wss:' : 'ws:'}//${issuerUrl.host}${issuerUrl.pathname.replace(/\/$/, '')}/ws`,
    onMessage: ({ socket }, data) => {
      if (data.toString() === '{"type":"ping"}') socket.send('{"type":"pong"}');
    },
  });
  service.metrics?.countSockets(() => sockets.wss.clients.size);
  if (link !== undefined) {
    try {
      await listen();
    } catch (err) {
      await sockets.close();
      await service.close();
      throw err;
    }
  }
  const metricsServer = service.metrics && config.metricsPort !== undefined ? await serveMetrics(service.metrics, config, link) : undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await sockets.close();
      service.handler.closeStreams?.(true); // the revocation feed's streams would hold server.close open
      await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await service.close();
    })();
    return stopping;
  };
  return { server, service, url, stop };
}
