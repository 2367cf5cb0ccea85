/**
 * The standalone token service: the store named by the configuration, keys and the refresh
 * secret generated on first start and kept in the store, a user table with Argon2id passwords,
 * the HTTP handler and the web page.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server } from 'node:http';
import { connect } from 'node:net';
import { hash, verify } from '@node-rs/argon2';
import pino from 'pino';
import proxyaddr from 'proxy-addr';
import { createBaton } from '../core/service.ts';
import type { Baton } from '../core/service.ts';
import type { BatonEvent } from '../core/events.ts';
import { generateKey, KeyRing } from '../core/keys.ts';
import { toMs } from '../core/duration.ts';
import type { KeyInput } from '../core/keys.ts';
import { createAuthHandler } from '../http/handler.ts';
import { canonicalAddress, createLoginProtection } from '../http/login-protection.ts';
import type { AuthHandler } from '../http/handler.ts';
import { toNodeListener } from '../adapters/node.ts';
import { attachWebSocketAuth } from '../ws/server.ts';
import type { TokenStore } from '../stores/types.ts';
import { redactUrl } from './config.ts';
import type { ServerConfig } from './config.ts';

/** Opens the store a `BATON_STORE` URL names; drivers are loaded only when used. */
export async function openStore(url: string): Promise<TokenStore> {
  if (url === 'memory:') return (await import('../stores/memory.ts')).memoryStore();
  if (url.startsWith('sqlite:')) return (await import('../stores/sqlite.ts')).sqliteStore({ path: url.slice('sqlite:'.length) });
  if (/^(rediss?|redis\+cluster):\/\//.test(url)) return (await import('../stores/redis.ts')).redisStore({ url });
  if (/^postgres(ql)?:\/\//.test(url)) return (await import('../stores/postgres.ts')).postgresStore({ url });
  throw new Error(`Unknown store URL ${url}`);
}

const CONFIG = 'config';

/** How long the store has to answer its first round trip at start-up. */
const STORE_TIMEOUT_MS = 5000;

/** One round trip to the store. */
// TODO: `store.ping()` once the store contract has it.
const ping = (store: TokenStore): Promise<unknown> => store.getRecord(CONFIG, 'keys');

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused', ENOTFOUND: 'host not found', EAI_AGAIN: 'host not found (DNS)', ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable', ENETUNREACH: 'network unreachable', ECONNRESET: 'connection reset',
};

/** What a network error (or its cause) says, in words, if it is one. */
function networkError(err: unknown): string | undefined {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const said = NETWORK_ERRORS[(e as { code?: string }).code ?? ''];
    if (said !== undefined) return said;
  }
  return undefined;
}

/** Why a network store did not answer, from a plain TCP connection to its (first) host. */
function probe(url: string): Promise<string | undefined> {
  const m = /^[a-z+]+:\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^,/:?]+)(?::(\d+))?/i.exec(url);
  if (m === null || url.startsWith('sqlite:')) return Promise.resolve(undefined);
  const host = (m[1] as string).replace(/^\[|\]$/g, '');
  const port = Number(m[2] ?? (url.startsWith('postgres') ? 5432 : 6379));
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    const done = (why: string | undefined) => {
      socket.destroy();
      resolve(why);
    };
    socket.once('connect', () => done(undefined)).once('timeout', () => done('no answer')).once('error', (err) => done(networkError(err) ?? 'connection failed'));
  });
}

/**
 * Opens the store and makes its first round trip within STORE_TIMEOUT_MS (retrying, for a store
 * that starts at the same time): an unreachable store fails with a sentence instead of hanging.
 */
export async function connectStore(url: string): Promise<TokenStore> {
  const where = `BATON_STORE=${redactUrl(url)}`;
  const password = /^[a-z+]+:\/\/[^:@/]*:([^@/]+)@/i.exec(url)?.[1];
  const safe = (message: string): string => (password ? message.split(password).join('***') : message);
  let store: TokenStore;
  try {
    store = await openStore(url);
  } catch (err) {
    throw new Error(`Cannot open the store at ${where}: ${safe((err as Error).message)}`, { cause: err });
  }
  const deadline = Date.now() + STORE_TIMEOUT_MS;
  let last: unknown;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(reject, Math.max(deadline - Date.now(), 0), new Error('no answer'))));
    try {
      await Promise.race([ping(store), timeout]);
      return store;
    } catch (err) {
      last = err;
    } finally {
      clearTimeout(timer);
    }
    if (Date.now() + 250 >= deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await Promise.race([store.close().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
  const unreachable = networkError(last) ?? (await probe(url));
  if (unreachable !== undefined) throw new Error(`Cannot reach the store at ${where} within ${STORE_TIMEOUT_MS / 1000} s: ${unreachable}. Is it running?`, { cause: last });
  // It answered, with an error (a missing database, a wrong password): what it said, secrets out.
  throw new Error(`The store at ${where} kept failing for ${STORE_TIMEOUT_MS / 1000} s: ${safe((last as Error).message ?? String(last))}`, { cause: last });
}

/** A record that is generated once and then shared: the first instance to start writes it. */
async function once(store: TokenStore, key: string, make: () => string): Promise<string> {
  await store.putRecord(CONFIG, key, make(), { ifAbsent: true });
  return (await store.getRecord(CONFIG, key)) as string;
}

/** The key ring kept in the store, created on first start. */
export async function loadKeys(store: TokenStore, alg: ServerConfig['alg']): Promise<KeyRing> {
  // The active signing key, the next one (published in JWKS a rotation ahead of signing) and an
  // encryption key (for BATON_TOKEN_FORMAT=jwe).
  const initial = () => JSON.stringify([generateKey(alg), { ...generateKey(alg), status: 'next' }, { ...generateKey('dir'), status: 'active' }]);
  const saved = JSON.parse(await once(store, 'keys', initial)) as KeyInput[];
  return new KeyRing(saved);
}

/** Saves the key ring (after `keys rotate`). */
export async function saveKeys(store: TokenStore, ring: KeyRing): Promise<void> {
  await store.putRecord(CONFIG, 'keys', JSON.stringify(ring.export()));
}

/** The engine of the service on `store`, with the keys and refresh secret kept there. */
export async function createEngine(config: ServerConfig, store: TokenStore, onEvent?: (event: BatonEvent) => void): Promise<Baton> {
  const ring = await loadKeys(store, config.alg);
  const secret = await once(store, 'refresh-secret', () => randomBytes(32).toString('base64url'));
  return createBaton({
    issuer: config.issuer,
    keys: ring,
    refreshTokenSecret: Buffer.from(secret, 'base64url'),
    store,
    accessTokenTtl: config.accessTtl,
    refreshTokenTtl: config.refreshTtl,
    refreshGrace: config.refreshGrace,
    maxSessionsPerUser: config.maxSessions,
    tokenFormat: config.tokenFormat,
    refreshRateLimit: config.refreshRate,
    ...(onEvent ? { onEvent } : {}),
  });
}

/** A user of the standalone service. */
export interface User {
  id: string;
  username: string;
  passwordHash: string;
  createdAt: number;
}

const USERS = 'users';
const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;
// Argon2id (RFC 9106) with the library's defaults: 19 MiB, 2 passes.
const DUMMY_HASH = hash('baton-timing-equaliser');

/** The user table, kept in the store. */
export const users = {
  async add(store: TokenStore, username: string, password: string): Promise<User> {
    if (!USERNAME.test(username)) throw new Error('A username is 1 to 64 letters, digits or . _ @ -.');
    if (password.length < 8) throw new Error('A password needs at least 8 characters.');
    const user: User = { id: `usr_${randomBytes(9).toString('base64url')}`, username, passwordHash: await hash(password), createdAt: Date.now() };
    if (!(await store.putRecord(USERS, username.toLowerCase(), JSON.stringify(user), { ifAbsent: true }))) {
      throw new Error(`The user ${username} already exists.`);
    }
    return user;
  },
  async get(store: TokenStore, username: string): Promise<User | null> {
    const raw = await store.getRecord(USERS, username.toLowerCase());
    return raw === null ? null : (JSON.parse(raw) as User);
  },
  async list(store: TokenStore): Promise<User[]> {
    return (await store.listRecords(USERS)).map((r) => JSON.parse(r.value) as User);
  },
  async remove(store: TokenStore, username: string): Promise<boolean> {
    return store.deleteRecord(USERS, username.toLowerCase());
  },
  /** Checks a password in about the same time whether or not the user exists. */
  async authenticate(store: TokenStore, username: string, password: string): Promise<User | null> {
    const user = USERNAME.test(username) ? await users.get(store, username) : null;
    const ok = await verify(user?.passwordHash ?? (await DUMMY_HASH), password).catch(() => false);
    return ok && user !== null ? user : null;
  },
};

/** The engine, the handler and the store of one service instance. */
export interface Service {
  baton: Baton;
  handler: AuthHandler;
  store: TokenStore;
  close(): Promise<void>;
}

const WEB = new URL('../../web/', import.meta.url);

/** Builds the service from its configuration. */
export async function createService(config: ServerConfig, logger = pino({ level: config.logLevel })): Promise<Service> {
  const store = await connectStore(config.store);
  const baton = await createEngine(config, store, (event) => logger.info({ event: event.type, sid: 'sessionId' in event ? event.sessionId : undefined }, event.type));
  await baton.ready();
  // Keys rotated by another instance (`baton keys rotate`) reach this one within BATON_KEY_RELOAD;
  // the new signing key was published one rotation earlier, so no valid token is refused meanwhile.
  const reload = setInterval(() => {
    store.getRecord(CONFIG, 'keys').then((saved) => {
      if (saved !== null && baton.keys.sync(JSON.parse(saved) as KeyInput[])) logger.info({ event: 'keys.reloaded' }, 'keys reloaded');
    }, () => undefined);
  }, toMs(config.keyReload, 'BATON_KEY_RELOAD'));
  reload.unref();
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
      throw new Error(`The web page's ${url.pathname} cannot be read: run \`npm run build\` (it bundles the client SDK for the page).`);
    }
    return () => new Response(body, { headers: { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' } });
  };
  const handler = createAuthHandler({
    baton,
    authenticate: async (username, password) => {
      const user = await users.authenticate(store, username, password);
      return user === null ? null : { userId: user.id };
    },
    cookie: { secure: config.cookieSecure },
    // Failed logins and introspection client authentications, counted in the store (shared by instances).
    loginProtection: createLoginProtection({ store, failures: config.loginFailures, failuresPerIp: config.loginFailuresPerIp }),
    introspectionProtection: createLoginProtection({ store, keyPrefix: 'introspect', failures: config.loginFailures, failuresPerIp: config.loginFailuresPerIp }),
    ...(config.introspectionSecret ? { introspectionClients: { 'resource-server': config.introspectionSecret } } : {}),
    logger,
    page: file('index.html', 'text/html; charset=utf-8'),
    assets: { '/app.js': file('app.js', 'text/javascript; charset=utf-8'), '/client.js': file('client.js', 'text/javascript; charset=utf-8') },
  });
  return {
    baton,
    handler,
    store,
    async close() {
      clearInterval(reload);
      clearInterval(sweep);
      await baton.close();
      await store.close();
    },
  };
}

/** Starts listening; SIGTERM/SIGINT stop accepting, finish in-flight requests, close the store. */
export async function startServer(config: ServerConfig): Promise<{ server: Server; service: Service; url: string; stop: () => Promise<void> }> {
  // Tokens, secrets and passwords never reach a log line.
  const logger = pino({
    level: config.logLevel,
    redact: { paths: ['*.authorization', '*.cookie', '*.password', '*.token', '*.access_token', '*.refresh_token', 'req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
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
  // Listening comes first (PORT=0 must name its port in the issuer); until the service is ready,
  // every request gets 503 with Retry-After (RFC 9110 §15.6.4) rather than waiting for a handler.
  let listener: RequestListener = (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1', 'cache-control': 'no-store' });
    res.end('{"error":"temporarily_unavailable","error_description":"The service is starting; retry in a second"}');
  };
  server.on('request', (req, res) => listener(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  // PORT=0 picks a free port; the default issuer then names the port actually bound.
  const issuer = config.port === 0 && config.issuer === `http://${config.host}:0` ? url : config.issuer;
  let service: Service;
  try {
    service = await createService({ ...config, issuer }, logger);
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
      return canonicalAddress(proxyaddr(req, trust));
    } catch {
      return 'unknown'; // the socket is already gone
    }
  };
  listener = toNodeListener(service.handler, { origin: issuer, address: clientAddress });
  // GET /ws: authenticated WebSockets with re-authentication; the service itself only answers pings.
  const sockets = attachWebSocketAuth({
    baton: service.baton,
    server,
    onMessage: ({ socket }, data) => {
      if (data.toString() === '{"type":"ping"}') socket.send('{"type":"pong"}');
    },
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await sockets.close();
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
