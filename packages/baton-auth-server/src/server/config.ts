/**
 * The standalone service's configuration: environment variables, optionally a JSON file named by
 * `BATON_CONFIG` (the environment wins), validated at start with a sentence that says what to fix.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import { BatonConfigError } from 'baton-auth';
import type { SigningAlg, TokenFormat } from 'baton-auth';
import { checkCookieSecure } from 'baton-auth/http';
import type { PageOptions } from 'baton-auth/http';
import { pageOf } from './settings/authorization.ts';
import { passkeysOf } from './settings/passkeys.ts';
import { auditTarget } from './settings/audit.ts';
import type { AuditTarget } from './settings/audit.ts';
import { batonCommand } from '../cli/command.ts';
import { checkStoreUrl } from './redact.ts';
import { configError, durationMs, durationText, list, MAX_WORKERS, SCHEMA_SETTINGS } from './settings.ts';

export { checkStoreUrl, credentialsOf, redactIn, redactUrl } from './redact.ts';

export { MAX_WORKERS } from './settings.ts';

const BATON = batonCommand();

/** The service's settings, after validation. */
export interface ServerConfig {
  port: number;
  host: string;
  issuer: string;
  /** The issuer came from BATON_ISSUER, not the default `http://HOST:PORT` (`cluster.ts` holds a default one to agree with the store's other instances). */
  issuerSet: boolean;
  /** DPoP (RFC 9449): `auto`, on once every instance on the store supports it; `off`, as a release before DPoP (`cluster.ts`). */
  dpop: 'auto' | 'off';
  /** How often this instance renews its registration in the store (it lapses after three missed). */
  heartbeatMs: number;
  store: string;
  /** The library's options of the same names (`createBaton`): durations as the library reads them ('15m', '90s'). */
  accessTokenTtl: string;
  refreshTokenTtl: string;
  refreshGrace: string;
  maxSessionsPerUser: number;
  tokenFormat: TokenFormat;
  alg: SigningAlg;
  cookieSecure: boolean;
  introspectionSecret: string | undefined;
  /** The service secret that seals the keys in the store (`BATON_SECRET`), or the file that holds it. */
  secret: string | undefined;
  secretFile: string | undefined;
  logLevel: string;
  /** Consecutive failed logins of one username from one address before that pair is blocked, or false. */
  loginFailures: { max: number; blockMs: number } | false;
  /** Failed logins from one address within a period before the address is blocked as long, or false. */
  loginFailuresPerIp: { max: number; windowMs: number } | false;
  /** How often keys are re-read from the store (a rotation made by another instance). */
  keyReload: string;
  /** Slow clients: the whole header, and the whole request, must arrive within these (ms). */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** How often expired records (sessions, counters, …) are deleted, in ms, or false. */
  sweepIntervalMs: number | false;
  /** Which proxies' X-Forwarded-For to believe: a hop count (0: none) or their addresses and CIDR ranges. */
  trustProxy: number | string[];
  /** Open connections at most; more are closed on arrival. */
  maxConnections: number;
  /** Open connections of one client address at most (the socket's peer; a trusted proxy's are not capped). */
  maxConnectionsPerAddress: number;
  /** Refreshes allowed per session and window, or false (`createBaton`'s `refreshRateLimit`). */
  refreshRateLimit: { max: number; window: string } | false;
  /** The APIs (RFC 8707 resource URIs) tokens may be asked for. */
  resources: string[];
  /** The scopes advertised as `scopes_supported`; undefined: those of the registered clients, read at start. */
  scopes: string[] | undefined;
  /** Origins besides the issuer's whose pages may use the refresh cookie (`BATON_ALLOWED_ORIGINS`). */
  allowedOrigins: string[];
  /** `GET /metrics` needs `Authorization: Bearer <this>` (`BATON_METRICS_TOKEN`). */
  metricsToken: string | undefined;
  /** Metrics on a port of their own instead (`BATON_METRICS_PORT`), on `HOST`. */
  metricsPort: number | undefined;
  /** Start on an empty embedded store although its secret file exists (`baton serve --fresh-start`): a deliberate new install. */
  freshStart?: boolean;
  /** Worker processes sharing the port (`BATON_WORKERS`, node:cluster); 1: the service runs in this process. */
  workers: number;
  /** The hosted pages' look (`BATON_PAGE_*`). */
  page: PageOptions;
  /** RFC 7591 registration (`BATON_CLIENT_REGISTRATION=open`), or undefined. */
  registration: { maxClients: number } | undefined;
  /** Hosts of trusted client ID metadata documents (`BATON_CLIENT_METADATA_HOSTS`); empty: off. */
  clientMetadataHosts: string[];
  /** The audit trail: off, standard output, or a file rotated by size (`BATON_AUDIT_LOG`). */
  audit: AuditTarget;
  /** Settings that work but are probably not what was meant, each a sentence (logged at start). */
  warnings: string[];
  /** Passkeys (`BATON_PASSKEYS_*`), or undefined: off. */
  passkeys?: { rpId: string; origins: string[]; maxPerUser: number } | undefined;
}

/**
 * The zod schema of the settings, made from the one table (`settings.ts`): a default is written as
 * in the environment and checked as if it had been given (`prefault`).
 */
const schema = z.object(Object.fromEntries(SCHEMA_SETTINGS.map((s) => [s.env, s.default === undefined ? s.parse.optional() : s.parse.prefault(s.default)])));

/** `off`, or `<count>/<duration>` (checked by the schema): the count and the duration, ms and as written. */
const perWindow = (v: string, name: string): { max: number; ms: number; window: string } | false =>
  v === 'off'
    ? false
    : { max: Number(v.slice(0, v.indexOf('/'))), ms: durationMs(v.slice(v.indexOf('/') + 1), name), window: durationText(v.slice(v.indexOf('/') + 1)) };

/** BATON_TRUST_PROXY: a hop count, or proxy-addr's list of addresses, CIDR ranges and names. */
function trusted(value: string | undefined): number | string[] {
  const v = value?.trim() ?? '';
  if (v === '') return 0;
  if (/^\d+$/.test(v)) return Number(v);
  const list = v.split(',').map((a) => a.trim());
  try {
    proxyaddr.compile(list);
  } catch (err) {
    throw new BatonConfigError(
      `BATON_TRUST_PROXY must be a hop count (e.g. 1) or a comma-separated list of proxy addresses or CIDR ranges (e.g. 10.0.0.0/8,::1, or loopback): ${(err as Error).message}.`,
    );
  }
  return list;
}

/** The name in `names` nearest to `key` by edit distance (Levenshtein: a few lines, no dependency for it), if one is near enough to be a slip. */
function closest(key: string, names: string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const next = [i];
      for (let j = 1; j <= b.length; j++)
        next[j] = Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      row = next;
    }
    return row[b.length] as number;
  };
  const upper = key.toUpperCase();
  const [best] = names.map((n) => [n, distance(upper, n)] as const).sort((x, y) => x[1] - y[1]);
  return best !== undefined && best[1] <= Math.max(2, Math.floor(best[0].length / 4)) ? best[0] : undefined;
}

/** The settings as given: the file `BATON_CONFIG` names, then the environment over it (an empty variable is unset). */
function readInput(env: Record<string, string | undefined>): Record<string, unknown> {
  let file: Record<string, unknown> = {};
  if (env.BATON_CONFIG) {
    try {
      file = JSON.parse(readFileSync(env.BATON_CONFIG, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      // A parse error quotes the file's text, which may hold a secret: say where, not what.
      const why = err instanceof SyntaxError ? 'it is not valid JSON' : `${(err as NodeJS.ErrnoException).code ?? 'it cannot be read'}`;
      throw new BatonConfigError(`Cannot read the config file ${env.BATON_CONFIG}: ${why}.`);
    }
  }
  if (typeof file !== 'object' || file === null || Array.isArray(file))
    throw new BatonConfigError(`The config file ${env.BATON_CONFIG} must hold one JSON object of settings, e.g. {"PORT": 8080}.`);
  // A misspelled key would be ignored, and its setting silently left at its default (#22).
  for (const key of Object.keys(file)) {
    if (Object.hasOwn(schema.shape, key) || key === 'BATON_LOGIN_RATE') continue;
    const near = closest(key, Object.keys(schema.shape));
    throw new BatonConfigError(
      `The config file ${env.BATON_CONFIG} names ${JSON.stringify(key.slice(0, 64))}, which is no setting${near === undefined ? '' : `: did you mean ${near}?`} (every setting: \`${BATON} serve --help\`).`,
    );
  }
  if (env.BATON_LOGIN_RATE || 'BATON_LOGIN_RATE' in file) {
    throw new BatonConfigError(
      "BATON_LOGIN_RATE is gone (it counted successful logins too): use BATON_LOGIN_FAILURES (e.g. '10/1h') and BATON_LOGIN_FAILURES_PER_IP (e.g. '100/1d').",
    );
  }
  const input: Record<string, unknown> = { ...file };
  for (const key of Object.keys(schema.shape)) if (env[key] !== undefined && env[key] !== '') input[key] = env[key];
  return input;
}

/** The settings checked by the schema, read by name: `text` for a string, `count` for a number. */
interface Parsed {
  text(name: string): string;
  maybe(name: string): string | undefined;
  count(name: string): number;
}

/** The limits on connections and slow clients, checked against each other. */
function connectionLimits(p: Parsed): Pick<ServerConfig, 'headersTimeoutMs' | 'requestTimeoutMs' | 'maxConnections' | 'maxConnectionsPerAddress'> {
  const headersTimeoutMs = durationMs(p.text('BATON_HEADERS_TIMEOUT'), 'BATON_HEADERS_TIMEOUT');
  const requestTimeoutMs = durationMs(p.text('BATON_REQUEST_TIMEOUT'), 'BATON_REQUEST_TIMEOUT');
  if (headersTimeoutMs === 0 || requestTimeoutMs === 0)
    throw new BatonConfigError('BATON_HEADERS_TIMEOUT and BATON_REQUEST_TIMEOUT must be above 0: a slow client would hold its connection forever.');
  if (headersTimeoutMs > requestTimeoutMs)
    throw new BatonConfigError(
      `BATON_HEADERS_TIMEOUT (${p.text('BATON_HEADERS_TIMEOUT')}) must not exceed BATON_REQUEST_TIMEOUT (${p.text('BATON_REQUEST_TIMEOUT')}): the headers are part of the request.`,
    );
  const maxConnections = p.count('BATON_MAX_CONNECTIONS');
  // One address may hold an eighth of the slots: filling them all takes eight addresses at least.
  const given = p.maybe('BATON_MAX_CONNECTIONS_PER_ADDRESS');
  const maxConnectionsPerAddress = given !== undefined ? Number(given) : Math.min(maxConnections, Math.max(16, Math.floor(maxConnections / 8)));
  if (maxConnectionsPerAddress > maxConnections) {
    throw new BatonConfigError(
      `BATON_MAX_CONNECTIONS_PER_ADDRESS (${maxConnectionsPerAddress}) must not exceed BATON_MAX_CONNECTIONS (${maxConnections}): one address could then hold every connection.`,
    );
  }
  return { headersTimeoutMs, requestTimeoutMs, maxConnections, maxConnectionsPerAddress };
}

/** The limits written `<count>/<duration>` or `off`: failed logins (per username and address, per address) and refreshes per session. */
function rateLimits(p: Parsed): Pick<ServerConfig, 'loginFailures' | 'loginFailuresPerIp' | 'refreshRateLimit'> {
  const loginFailures = perWindow(p.text('BATON_LOGIN_FAILURES'), 'BATON_LOGIN_FAILURES');
  const loginFailuresPerIp = perWindow(p.text('BATON_LOGIN_FAILURES_PER_IP'), 'BATON_LOGIN_FAILURES_PER_IP');
  const refreshRate = perWindow(p.text('BATON_REFRESH_RATE'), 'BATON_REFRESH_RATE');
  return {
    loginFailures: loginFailures && { max: loginFailures.max, blockMs: loginFailures.ms },
    loginFailuresPerIp: loginFailuresPerIp && { max: loginFailuresPerIp.max, windowMs: loginFailuresPerIp.ms },
    refreshRateLimit: refreshRate && { max: refreshRate.max, window: refreshRate.window },
  };
}

/** Settings that work but are probably not what was meant, each a sentence (`ServerConfig.warnings`). */
function warningsOf(p: Parsed): string[] {
  const warnings: string[] = [];
  // A grace window hands the current pair to whoever presents the previous token: seconds absorb races, more is a gift to a thief.
  if (durationMs(p.text('BATON_REFRESH_GRACE'), 'BATON_REFRESH_GRACE') > 60_000) {
    warnings.push(
      `BATON_REFRESH_GRACE=${p.text('BATON_REFRESH_GRACE')} is long: for that long after each rotation, whoever holds the previous refresh token gets the current pair. A few seconds (the default, 10s) absorb racing tabs and lost responses.`,
    );
  }
  return warnings;
}

/** Reads and validates the configuration from `env` (and the file `BATON_CONFIG` names). */
export function loadConfig(env: Record<string, string | undefined> = process.env): ServerConfig {
  const parsed = schema.safeParse(readInput(env));
  if (!parsed.success) configError(parsed.error.issues[0]);
  const c = parsed.data as Record<string, string | number | undefined>;
  const p: Parsed = { text: (n) => String(c[n]), maybe: (n) => (c[n] === undefined ? undefined : String(c[n])), count: (n) => Number(c[n]) };
  const store = p.text('BATON_STORE');
  checkStoreUrl(store);
  if (c.BATON_SECRET !== undefined && c.BATON_SECRET_FILE !== undefined) throw new BatonConfigError('Set BATON_SECRET or BATON_SECRET_FILE, not both.');
  const host = p.text('HOST');
  const issuer = (p.maybe('BATON_ISSUER') ?? `http://${host.includes(':') ? `[${host}]` : host}:${p.count('PORT')}`).replace(/\/$/, '');
  // The library's rule (createAuthHandler's cookie.secure): without Secure only on a plain-http loopback issuer.
  const cookieSecure = checkCookieSecure(issuer, ['true', '1', 'on'].includes(p.text('BATON_COOKIE_SECURE')), 'BATON_COOKIE_SECURE');
  const workers = c.BATON_WORKERS === 'auto' ? Math.min(MAX_WORKERS, availableParallelism()) : p.count('BATON_WORKERS');
  // Each worker would hold its own private database: a session made on one would be unknown to the others.
  if (workers > 1 && (store === 'memory:' || store === 'sqlite::memory:')) {
    throw new BatonConfigError(
      `BATON_WORKERS=${p.text('BATON_WORKERS')} needs a store the workers share: with ${store} each worker would keep its own users, keys and sessions. Use sqlite:<path>, Redis or PostgreSQL, or BATON_WORKERS=1.`,
    );
  }
  const scopes = p.maybe('BATON_SCOPES');
  return {
    warnings: warningsOf(p),
    host,
    issuer,
    store,
    cookieSecure,
    workers,
    ...connectionLimits(p),
    port: p.count('PORT'),
    issuerSet: c.BATON_ISSUER !== undefined,
    dpop: p.text('BATON_DPOP') as ServerConfig['dpop'],
    heartbeatMs: durationMs(p.text('BATON_HEARTBEAT'), 'BATON_HEARTBEAT'),
    accessTokenTtl: durationText(p.text('BATON_ACCESS_TTL')),
    refreshTokenTtl: durationText(p.text('BATON_REFRESH_TTL')),
    refreshGrace: durationText(p.text('BATON_REFRESH_GRACE')),
    maxSessionsPerUser: p.count('BATON_MAX_SESSIONS'),
    tokenFormat: p.text('BATON_TOKEN_FORMAT') as TokenFormat,
    alg: p.text('BATON_ALG') as SigningAlg,
    introspectionSecret: p.maybe('BATON_INTROSPECTION_SECRET'),
    secret: p.maybe('BATON_SECRET'),
    secretFile: p.maybe('BATON_SECRET_FILE'),
    logLevel: p.text('BATON_LOG_LEVEL'),
    keyReload: durationText(p.text('BATON_KEY_RELOAD')),
    trustProxy: trusted(p.maybe('BATON_TRUST_PROXY')),
    sweepIntervalMs: c.BATON_SWEEP_INTERVAL === 'off' ? false : durationMs(p.text('BATON_SWEEP_INTERVAL'), 'BATON_SWEEP_INTERVAL'),
    resources: list(p.text('BATON_RESOURCES')),
    scopes: scopes === undefined ? undefined : list(scopes),
    allowedOrigins: list(p.text('BATON_ALLOWED_ORIGINS')),
    metricsToken: p.maybe('BATON_METRICS_TOKEN'),
    metricsPort: c.BATON_METRICS_PORT === undefined ? undefined : p.count('BATON_METRICS_PORT'),
    ...rateLimits(p),
    page: pageOf(p.maybe('BATON_PAGE_TITLE'), p.maybe('BATON_PAGE_LOGO'), p.maybe('BATON_PAGE_THEME')),
    registration: c.BATON_CLIENT_REGISTRATION === 'open' ? { maxClients: p.count('BATON_CLIENT_REGISTRATION_MAX') } : undefined,
    clientMetadataHosts: list(p.text('BATON_CLIENT_METADATA_HOSTS')),
    audit: auditTarget(p.text),
    passkeys: passkeysOf(p.maybe('BATON_PASSKEYS_RP_ID'), p.maybe('BATON_PASSKEYS_ORIGINS'), p.count('BATON_PASSKEYS_MAX'), issuer),
  };
}
