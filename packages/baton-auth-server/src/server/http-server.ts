/**
 * The service on HTTP: the server with its timeouts and connection caps, the client's address behind trusted proxies,
 * the WebSocket endpoint, the metrics port, and an orderly stop. The service itself is built by `app.ts`.
 */
import { hostname } from 'node:os';
import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server } from 'node:http';
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import pino from 'pino';
import { logDestination } from './audit-log.ts';
import proxyaddr from 'proxy-addr';
import { BatonConfigError } from 'baton-auth';
import { budgetAddress, canonicalAddress } from 'baton-auth/http';
import { toNodeListener } from 'baton-auth/adapters/node';
import { attachWebSocketAuth } from 'baton-auth/ws';
import { createService } from './app.ts';
import type { Service } from './app.ts';
import type { ServerConfig } from './config.ts';
import { startingAnswer } from './ops.ts';
import { traceRefusal } from './spans.ts';
import type { Metrics } from './ops.ts';
import type { WorkerLink } from './workers.ts';

/** A failure to listen as a sentence naming the setting that fixes it (the raw `listen EADDRINUSE` helps nobody). */
function listenError(err: NodeJS.ErrnoException, host: string, port: number, setting: string): Error {
  if (err.code === 'EADDRINUSE')
    return new BatonConfigError(
      `Port ${port} on ${host} is already in use (another baton serve, or another program): stop it, or choose another with ${setting}.`,
    );
  if (err.code === 'EACCES') return new BatonConfigError(`Port ${port} on ${host} needs privileges this process lacks: choose one above 1023 with ${setting}.`);
  if (err.code === 'EADDRNOTAVAIL') return new BatonConfigError(`${host} is not an address of this machine: set HOST to one it has (127.0.0.1, 0.0.0.0, ::).`);
  return err;
}

/** Metrics on their own port (`BATON_METRICS_PORT`, on `HOST`): only `GET /metrics`, no token. */
async function serveMetrics(metrics: Metrics, config: ServerConfig, link: WorkerLink | undefined): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') return void res.writeHead(404).end();
    (link === undefined ? metrics.registry.metrics() : link.metrics()).then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
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

/** The service's logger. Tokens, secrets and passwords never reach a log line. */
function serviceLogger(config: ServerConfig, link: WorkerLink | undefined): pino.Logger {
  return pino(
    {
      level: config.logLevel,
      ...(link === undefined ? {} : { base: { pid: process.pid, hostname: hostname(), worker: link.id } }),
      redact: {
        paths: [
          '*.authorization',
          '*.cookie',
          '*.dpop',
          '*.password',
          '*.token',
          '*.access_token',
          '*.refresh_token',
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers.dpop',
        ],
        censor: '[redacted]',
      },
    },
    logDestination(config.audit) as pino.DestinationStream,
  );
}

/** The HTTP server, with its timeouts for slow clients and its caps on connections. */
function httpServer(config: ServerConfig): Server {
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
  return server;
}

/**
 * The client's address (login protection, a session's device, logs): the socket's, or with
 * BATON_TRUST_PROXY the X-Forwarded-For entry just before the trusted proxies (as Express does).
 */
function clientAddressOf(config: ServerConfig): (req: IncomingMessage) => string {
  const hops = config.trustProxy;
  const trust = typeof hops === 'number' ? (_addr: string, i: number) => i < hops : proxyaddr.compile(hops);
  return (req: IncomingMessage): string => {
    try {
      // A trusted proxy passes on whatever the client wrote before its own entry: what is no address
      // (any text, up to the header's size) is not taken as one; the proxy's address stands for it.
      const address = proxyaddr(req, trust);
      return canonicalAddress(isIP(address) !== 0 ? address : (req.socket.remoteAddress ?? 'unknown'));
    } catch {
      return 'unknown'; // the socket is already gone
    }
  };
}

type Sockets = ReturnType<typeof attachWebSocketAuth>;

/**
 * GET /ws: authenticated WebSockets with re-authentication; the service itself only answers pings.
 * Sockets are counted per client address as the HTTP side sees it (BATON_TRUST_PROXY), and DPoP
 * proofs name the issuer's URL for them, never one built from a Host header.
 */
function attachSockets(service: Service, server: Server, issuer: string, config: ServerConfig, clientAddress: (req: IncomingMessage) => string): Sockets {
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
  return sockets;
}

/** Stops once, however often called: sockets, streams, the metrics server, the HTTP server, then the service. */
function stopper(sockets: Sockets, service: Service, server: Server, metricsServer: Server | undefined): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return (): Promise<void> => {
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
}

/**
 * Starts listening; SIGTERM/SIGINT stop accepting, finish in-flight requests, close the store.
 * `link`: this process is one of BATON_WORKERS, which listens only once its service is ready (the
 * port is shared: until then the other workers serve), and whose log lines say `worker`.
 */
export async function startServer(
  config: ServerConfig,
  link?: WorkerLink,
): Promise<{ server: Server; service: Service; url: string; stop: () => Promise<void> }> {
  const logger = serviceLogger(config, link);
  const server = httpServer(config);
  // Listening comes first (PORT=0 must name its port in the issuer); until the service is ready,
  // every request gets 503 with Retry-After (RFC 9110 §15.6.4) rather than waiting for a handler.
  let listener: RequestListener = (req, res) => {
    const { status, body } = startingAnswer((req.url ?? '/').split('?')[0] as string);
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...(status === 503 ? { 'retry-after': '1' } : {}) });
    res.end(body);
    if (status === 503) traceRefusal(req.method, req.headers, status, 'ERR_STARTING');
  };
  server.on('request', (req, res) => listener(req, res));
  const listen = () =>
    new Promise<void>((resolve, reject) => {
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
  const clientAddress = clientAddressOf(config);
  listener = toNodeListener(service.handler, { origin: issuer, address: clientAddress });
  const sockets = attachSockets(service, server, issuer, config, clientAddress);
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
  return { server, service, url, stop: stopper(sockets, service, server, metricsServer) };
}
