/**
 * The standalone service's configuration: environment variables, optionally a JSON file named by
 * `BATON_CONFIG` (the environment wins), validated at start with a sentence that says what to fix.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import { BatonConfigError, MAX_SESSIONS_PER_USER, toMs } from 'baton-auth';
import type { SigningAlg, TokenFormat } from 'baton-auth';
import { checkOrigins } from 'baton-auth/http';
import { isLoopbackHost } from 'baton-auth/protocol';
import { batonCommand } from '../cli/command.ts';

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
  accessTtl: string;
  refreshTtl: string;
  refreshGrace: string;
  maxSessions: number;
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
  /** Refreshes allowed per session and window, or false. */
  refreshRate: { max: number; window: string } | false;
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
  /** Settings that work but are probably not what was meant, each a sentence (logged at start). */
  warnings: string[];
}

const duration = (name: string) =>
  z.string().refine((v) => {
    try {
      toMs(/^\d+$/.test(v) ? Number(v) : v, name);
      return true;
    } catch {
      return false;
    }
  }, { message: `${name} must be seconds or a duration like '90s', '15m', '7d'` });

/** `off`, or `<max>/<duration>` with at least one failure allowed. */
const failures = (name: string, shape: string) =>
  z.string().refine((v) => v === 'off' || (/^[1-9]\d*\/.+$/.test(v) && duration(name).safeParse(v.slice(v.indexOf('/') + 1)).success), {
    message: `${name} must be 'off' or ${shape}`,
  });

const PORT = 'PORT must be a port number from 1 to 65535, or 0 for a free one';
const MAX_CONNECTIONS = 'BATON_MAX_CONNECTIONS must be a whole number of connections, at least 1';
const PER_ADDRESS = 'BATON_MAX_CONNECTIONS_PER_ADDRESS must be a whole number of connections, at least 1';

/** More workers than this only adds contention (and memory): the cores are shared by all of them. */
export const MAX_WORKERS = 64;
const WORKERS = `BATON_WORKERS must be 'auto' (one per core: ${availableParallelism()} here) or a whole number of processes from 1 to ${MAX_WORKERS}`;

const MAX_SESSIONS = `BATON_MAX_SESSIONS must be a whole number from 1 (one device) to ${MAX_SESSIONS_PER_USER}: a user's logins, device list and "log out everywhere" read all the user's sessions, so there is no unlimited setting (0 no longer means no limit)`;

const schema = z.object({
  PORT: z.coerce.number({ message: PORT }).int({ message: PORT }).min(0, { message: PORT }).max(65535, { message: PORT }).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  BATON_ISSUER: z.string().url({ message: 'BATON_ISSUER must be a URL, e.g. https://auth.example.com' }).optional(),
  BATON_STORE: z.string().regex(/^(sqlite:.+|memory:|rediss?:\/\/.+|redis\+cluster:\/\/.+|postgres(ql)?:\/\/.+)$/, {
    message: "BATON_STORE must be sqlite:<path>, memory:, redis://…, rediss://…, redis+cluster://host:port,… or postgres://…",
  }).default('sqlite:./data/baton.sqlite'),
  BATON_ACCESS_TTL: duration('BATON_ACCESS_TTL').default('15m'),
  BATON_REFRESH_TTL: duration('BATON_REFRESH_TTL').default('14d'),
  BATON_REFRESH_GRACE: duration('BATON_REFRESH_GRACE').default('10s'),
  // No unlimited setting: a login, the device list and "log out everywhere" read all of a user's active sessions.
  BATON_MAX_SESSIONS: z.coerce.number({ message: MAX_SESSIONS }).int({ message: MAX_SESSIONS }).min(1, { message: MAX_SESSIONS }).max(MAX_SESSIONS_PER_USER, { message: MAX_SESSIONS }).default(50),
  BATON_TOKEN_FORMAT: z.enum(['jwt', 'jwe', 'opaque'], { message: 'BATON_TOKEN_FORMAT must be jwt, jwe or opaque' }).default('jwt'),
  BATON_ALG: z.enum(['HS256', 'ES256', 'EdDSA', 'RS256', 'PS256'], { message: 'BATON_ALG must be HS256, ES256, EdDSA, RS256 or PS256' }).default('EdDSA'),
  BATON_COOKIE_SECURE: z.enum(['true', 'false', '1', '0', 'on', 'off'], { message: 'BATON_COOKIE_SECURE must be true or false' }).default('true'),
  BATON_INTROSPECTION_SECRET: z.string().min(32, { message: `BATON_INTROSPECTION_SECRET must be at least 32 characters (make one with \`${BATON} secret generate\`)` }).optional(),
  BATON_SECRET: z.string().min(32, { message: `BATON_SECRET must be at least 32 characters (make one with \`${BATON} secret generate\`)` }).optional(),
  BATON_SECRET_FILE: z.string().min(1).optional(),
  BATON_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'silent']).default('info'),
  BATON_KEY_RELOAD: duration('BATON_KEY_RELOAD').default('30s'),
  BATON_LOGIN_FAILURES: failures('BATON_LOGIN_FAILURES', "failures in a row and how long they block, like '10/1h'").default('10/1h'),
  BATON_LOGIN_FAILURES_PER_IP: failures('BATON_LOGIN_FAILURES_PER_IP', "failures and the period they count over and block for, like '100/1d'").default('100/1d'),
  BATON_HEADERS_TIMEOUT: duration('BATON_HEADERS_TIMEOUT').default('10s'),
  BATON_REQUEST_TIMEOUT: duration('BATON_REQUEST_TIMEOUT').default('30s'),
  BATON_TRUST_PROXY: z.string().optional(),
  // A timer cannot wait longer than 2^31 - 1 ms (24.8 days).
  BATON_SWEEP_INTERVAL: z.string().refine((v) => v === 'off' || (duration('BATON_SWEEP_INTERVAL').safeParse(v).success && toMs(duration$(v), 'BATON_SWEEP_INTERVAL') > 0 && toMs(duration$(v), 'BATON_SWEEP_INTERVAL') < 2 ** 31), {
    message: "BATON_SWEEP_INTERVAL must be 'off' or a duration above 0 and below 24d, like '10m'",
  }).default('10m'),
  BATON_MAX_CONNECTIONS: z.coerce.number({ message: MAX_CONNECTIONS }).int({ message: MAX_CONNECTIONS }).min(1, { message: MAX_CONNECTIONS }).default(1000),
  BATON_MAX_CONNECTIONS_PER_ADDRESS: z.coerce.number({ message: PER_ADDRESS }).int({ message: PER_ADDRESS }).min(1, { message: PER_ADDRESS }).optional(),
  BATON_RESOURCES: z.string().refine((v) => list(v).every((r) => !r.includes('#') && URL.canParse(r)), {
    message: 'BATON_RESOURCES must list absolute URIs without a fragment, separated by commas or spaces, e.g. https://api.example.com,https://reports.example.com',
  }).default(''),
  BATON_SCOPES: z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E ,]*$/, { message: 'BATON_SCOPES must list scope names (RFC 6749 §3.3), separated by commas or spaces' }).optional(),
  // The sentence names the entry and the form to write (baton-auth/http checkOrigins, as createAuthHandler's).
  BATON_ALLOWED_ORIGINS: z.string().superRefine((v, ctx) => {
    try {
      checkOrigins(list(v), 'BATON_ALLOWED_ORIGINS');
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  }).default(''),
  BATON_METRICS_TOKEN: z.string().min(32, { message: `BATON_METRICS_TOKEN must be at least 32 characters (make one with \`${BATON} secret generate\`)` }).optional(),
  BATON_METRICS_PORT: z.coerce.number().int().min(1).max(65535, { message: 'BATON_METRICS_PORT must be a port number' }).optional(),
  BATON_REFRESH_RATE: z.string().regex(/^(off|\d+\/\d+[smh]?)$/, { message: "BATON_REFRESH_RATE must be 'off' or refreshes per window, like '30/1m'" }).default('30/1m'),
  BATON_WORKERS: z.string().refine((v) => v === 'auto' || (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= MAX_WORKERS), { message: WORKERS }).default('1'),
  BATON_DPOP: z.enum(['auto', 'off'], { message: "BATON_DPOP must be 'auto' (DPoP once every instance on the store supports it) or 'off'" }).default('auto'),
  BATON_HEARTBEAT: z.string().refine((v) => duration('BATON_HEARTBEAT').safeParse(v).success && toMs(duration$(v), 'BATON_HEARTBEAT') >= 1000 && toMs(duration$(v), 'BATON_HEARTBEAT') <= 300_000, {
    message: "BATON_HEARTBEAT must be a duration from 1s to 5m, like '10s'",
  }).default('10s'),
});

/** What each setting does, for `baton serve --help` (every variable of the schema has a line: a test holds it to that). */
export const SETTINGS: Record<keyof z.infer<typeof schema> | 'BATON_CONFIG', string> = {
  PORT: 'port to listen on (default 3000; 0 picks a free one)',
  HOST: 'address to listen on (default 127.0.0.1)',
  BATON_ISSUER: 'the public URL of the service, its `iss` (default http://HOST:PORT)',
  BATON_STORE: 'sqlite:<path> (default sqlite:./data/baton.sqlite), memory:, redis://…, rediss://…, redis+cluster://…, postgres://…',
  BATON_SECRET: 'the service secret that seals the keys in the store (at least 32 characters; `baton secret generate`)',
  BATON_SECRET_FILE: 'a file holding the service secret, instead of BATON_SECRET',
  BATON_ACCESS_TTL: "access-token lifetime (default '15m')",
  BATON_REFRESH_TTL: "refresh-token idle lifetime (default '14d')",
  BATON_REFRESH_GRACE: "how long a just-rotated refresh token still gets the current pair (default '10s'; keep it to seconds)",
  BATON_REFRESH_RATE: "rotations per session and window (default '30/1m'; 'off')",
  BATON_MAX_SESSIONS: `sessions per user, the oldest evicted beyond it (default 50; 1: one device; at most ${MAX_SESSIONS_PER_USER})`,
  BATON_TOKEN_FORMAT: 'jwt (default), jwe or opaque access tokens',
  BATON_ALG: 'signing algorithm of new keys: EdDSA (default), ES256, RS256 (RFC 9068\'s must), PS256 or HS256',
  BATON_COOKIE_SECURE: 'Secure refresh cookies (default true; false only for a plain-http localhost issuer)',
  BATON_ALLOWED_ORIGINS: 'origins besides the issuer whose pages may use the refresh cookie, comma-separated',
  BATON_RESOURCES: 'the APIs (RFC 8707 resource URIs) tokens may be asked for, comma-separated',
  BATON_SCOPES: 'the scopes to advertise as scopes_supported (default: those of the registered clients)',
  BATON_INTROSPECTION_SECRET: 'creates the confidential client resource-server with this secret (at least 32 characters)',
  BATON_LOGIN_FAILURES: "failed logins in a row of one username from one address, and how long they block (default '10/1h'; 'off')",
  BATON_LOGIN_FAILURES_PER_IP: "failed logins from one address per period (default '100/1d'; 'off')",
  BATON_TRUST_PROXY: 'which proxies X-Forwarded-For to believe: a hop count, or addresses and CIDR ranges (default: none)',
  BATON_HEADERS_TIMEOUT: "the whole request header must arrive within this (default '10s')",
  BATON_REQUEST_TIMEOUT: "the whole request must arrive within this (default '30s')",
  BATON_MAX_CONNECTIONS: 'open connections at most (default 1000)',
  BATON_MAX_CONNECTIONS_PER_ADDRESS: "open connections of one client address at most (default an eighth of BATON_MAX_CONNECTIONS, at least 16); a trusted proxy's are not capped",
  BATON_KEY_RELOAD: "how often keys are re-read from the store (default '30s')",
  BATON_SWEEP_INTERVAL: "how often expired records are deleted (default '10m'; 'off')",
  BATON_METRICS_TOKEN: 'serves Prometheus metrics at GET /metrics to `Authorization: Bearer <this>` (at least 32 characters)',
  BATON_METRICS_PORT: 'serves Prometheus metrics on this port of HOST instead, without a token',
  BATON_WORKERS: "worker processes sharing the port (default 1; 'auto': one per core); not with memory:. SIGHUP restarts them one at a time",
  BATON_LOG_LEVEL: 'fatal, error, warn, info (default: a JSON line per request), debug or silent',
  BATON_DPOP: "'auto' (default): DPoP once every instance on the store supports it; 'off': none (as a release before DPoP)",
  BATON_HEARTBEAT: "how often this instance renews its registration in the store; it lapses after three missed (default '10s')",
  BATON_CONFIG: 'a JSON file of these settings (the environment wins)',
};

/**
 * Query parameters that carry a credential: drivers read `?password=` (ioredis, postgres),
 * `?sslpassword=`, `?sslkey=`, tokens and secrets of every spelling.
 */
const CREDENTIAL_PARAM = /pass|pwd|secret|token|key|auth|cred/i;

/** A URL's scheme, user part (before the last `@` of the authority), the rest of the authority and path, and its query and fragment. */
function urlParts(url: string): { scheme: string; user: string | undefined; rest: string; query: string; fragment: string } {
  const scheme = /^[a-z][a-z0-9+.-]*:(?:\/\/)?/i.exec(url)?.[0] ?? '';
  let rest = url.slice(scheme.length);
  const hash = rest.indexOf('#');
  const fragment = hash === -1 ? '' : rest.slice(hash);
  if (hash !== -1) rest = rest.slice(0, hash);
  const mark = rest.indexOf('?');
  const query = mark === -1 ? '' : rest.slice(mark);
  if (mark !== -1) rest = rest.slice(0, mark);
  const authority = scheme.endsWith('//') ? rest.split('/')[0] as string : '';
  const at = authority.lastIndexOf('@');
  return at === -1 ? { scheme, user: undefined, rest, query, fragment } : { scheme, user: rest.slice(0, at), rest: rest.slice(at + 1), query, fragment };
}

/**
 * The user part of a URL whose authority cannot be told: an `@` after it (a raw `/`, `?` or `#`
 * in a password ends the authority early, `redis://:pa/ss@host`, and drivers disagree on where
 * it ends), or an `@` with no `//` before it (`redis:pw@host`) — everything between the scheme
 * and the last `@`; undefined for a URL that parses as written.
 */
function ambiguousUser(url: string): string | undefined {
  if (/^(sqlite|memory):/i.test(url)) return undefined; // a file path, which may hold an @
  const { scheme, rest, query, fragment } = urlParts(url);
  if (!`${rest}${query}${fragment}`.includes('@')) return undefined;
  return url.slice(scheme.length, url.lastIndexOf('@'));
}

const decoded = (v: string): string => {
  try {
    return decodeURIComponent(v.replace(/\+/g, ' '));
  } catch {
    return v;
  }
};

/** A `name=value` pair (in the query, or `;`-separated in the path) that carries a credential: its name says so, or its value sets one (`options=-c password=…`). */
const PAIR = /([?&;])([^=&;?#]*)=([^&;#]*)/g;
const holdsCredential = (name: string, value: string): boolean => CREDENTIAL_PARAM.test(decoded(name)) || /(?:pass|pwd|secret|token|key|auth|cred)[^=]*=/i.test(decoded(value));

/** The password of a user part, raw or percent-encoded (`%3A` spelling the colon). */
function passwordOf(user: string): string | undefined {
  if (user.includes(':')) return user.slice(user.indexOf(':') + 1);
  const plain = decoded(user);
  return plain.includes(':') ? plain.slice(plain.indexOf(':') + 1) : undefined;
}

/** The credentials a URL holds — its user part's password, the values of credential-like parameters — as written and decoded. */
export function credentialsOf(url: string): string[] {
  const found: string[] = [];
  const unclear = ambiguousUser(url);
  if (unclear !== undefined) {
    // Its password's pieces too (≥ 3 characters), as a driver that split it may print them.
    const password = passwordOf(unclear) ?? unclear;
    found.push(unclear, password, ...password.split(/[/?#;@]/).filter((piece) => piece.length >= 3));
  }
  const { user, rest, query } = urlParts(url);
  const password = user === undefined ? undefined : passwordOf(user);
  if (password !== undefined) found.push(password, ...(user?.includes(':') ? [] : [user as string]));
  for (const [, , name, value] of `${rest}${query}`.matchAll(PAIR)) {
    if (holdsCredential(name as string, value as string)) found.push(value as string, ...[...decoded(value as string).matchAll(/=(\S+)/g)].map((m) => m[1] as string));
  }
  return [...new Set(found.flatMap((v) => [v, decoded(v)]))].filter((v) => v !== '');
}

/**
 * A URL fit for a log line or a message (the one helper for every store URL the service and the
 * commands print): the user part's password and every credential-like parameter's value become
 * `***`; the user name, hosts, path and other parameters stay, to say which store it is. A URL
 * whose authority cannot be told (`ambiguousUser`) is shown as its scheme alone.
 */
export function redactUrl(url: string): string {
  const { scheme, user, rest, query, fragment } = urlParts(url);
  if (ambiguousUser(url) !== undefined) return `${scheme}<redacted>`;
  const who = user === undefined ? '' : `${passwordOf(user) === undefined ? user : user.includes(':') ? `${user.slice(0, user.indexOf(':'))}:***` : '***'}@`;
  const masked = `${rest}${query}`.replace(PAIR, (pair, sep: string, name: string, value: string) => (holdsCredential(name, value) ? `${sep}${name}=***` : pair));
  return `${scheme}${who}${masked}${fragment}`;
}

/**
 * Refuses a network store URL whose authority cannot be told (`ambiguousUser`): a driver would
 * read another host, user or password than meant, and the URL could not be printed safely.
 */
export function checkStoreUrl(url: string): void {
  if (!/^(rediss?|redis\+cluster|postgres(ql)?):/i.test(url) || ambiguousUser(url) === undefined) return;
  throw new BatonConfigError(`BATON_STORE ${redactUrl(url)} has an @ after its host, or no // before its user part: percent-encode /, ?, #, @ and : in the user name and password (%2F, %3F, %23, %40, %3A), as in redis://:p%2Fss@host:6379.`);
}

/** `text` (a driver's error message, say) with the URL and each credential it holds replaced by their redacted forms. */
export function redactIn(text: string, url: string): string {
  let out = text.split(url).join(redactUrl(url));
  // Longest first: a password that contains another credential is hidden whole.
  for (const secret of credentialsOf(url).sort((a, b) => b.length - a.length)) out = out.split(secret).join('***');
  return out;
}

/** A list given with commas or spaces. */
function list(v: string): string[] {
  return v.split(/[\s,]+/).filter((x) => x !== '');
}

const duration$ = (v: string): string => (/^\d+$/.test(v) ? `${v}s` : v);
const failureLimit = (v: string, name: string): { max: number; ms: number } | false =>
  v === 'off' ? false : { max: Number(v.slice(0, v.indexOf('/'))), ms: toMs(duration$(v.slice(v.indexOf('/') + 1)), name) };
const rate = (v: string): { max: number; window: string } | false => (v === 'off' ? false : { max: Number(v.split('/')[0]), window: duration$(v.split('/')[1] as string) });

/** BATON_TRUST_PROXY: a hop count, or proxy-addr's list of addresses, CIDR ranges and names. */
function trusted(value: string | undefined): number | string[] {
  const v = value?.trim() ?? '';
  if (v === '') return 0;
  if (/^\d+$/.test(v)) return Number(v);
  const list = v.split(',').map((a) => a.trim());
  try {
    proxyaddr.compile(list);
  } catch (err) {
    throw new BatonConfigError(`BATON_TRUST_PROXY must be a hop count (e.g. 1) or a comma-separated list of proxy addresses or CIDR ranges (e.g. 10.0.0.0/8,::1, or loopback): ${(err as Error).message}.`);
  }
  return list;
}

/** The name in `names` nearest to `key` by edit distance (Levenshtein: a few lines, no dependency for it), if one is near enough to be a slip. */
function closest(key: string, names: string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const next = [i];
      for (let j = 1; j <= b.length; j++) next[j] = Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      row = next;
    }
    return row[b.length] as number;
  };
  const upper = key.toUpperCase();
  const [best] = names.map((n) => [n, distance(upper, n)] as const).sort((x, y) => x[1] - y[1]);
  return best !== undefined && best[1] <= Math.max(2, Math.floor(best[0].length / 4)) ? best[0] : undefined;
}

/** Reads and validates the configuration from `env` (and the file `BATON_CONFIG` names). */
export function loadConfig(env: Record<string, string | undefined> = process.env): ServerConfig {
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
  if (typeof file !== 'object' || file === null || Array.isArray(file)) throw new BatonConfigError(`The config file ${env.BATON_CONFIG} must hold one JSON object of settings, e.g. {"PORT": 8080}.`);
  // A misspelled key would be ignored, and its setting silently left at its default (#22).
  for (const key of Object.keys(file)) {
    if (Object.hasOwn(schema.shape, key) || key === 'BATON_LOGIN_RATE') continue;
    const near = closest(key, Object.keys(schema.shape));
    throw new BatonConfigError(`The config file ${env.BATON_CONFIG} names ${JSON.stringify(key.slice(0, 64))}, which is no setting${near === undefined ? '' : `: did you mean ${near}?`} (every setting: \`${BATON} serve --help\`).`);
  }
  const input: Record<string, unknown> = { ...file };
  if (env.BATON_LOGIN_RATE || 'BATON_LOGIN_RATE' in file) {
    throw new BatonConfigError("BATON_LOGIN_RATE is gone (it counted successful logins too): use BATON_LOGIN_FAILURES (e.g. '10/1h') and BATON_LOGIN_FAILURES_PER_IP (e.g. '100/1d').");
  }
  for (const key of Object.keys(schema.shape)) if (env[key] !== undefined && env[key] !== '') input[key] = env[key];
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BatonConfigError(`Configuration error: ${issue?.message ?? 'invalid value'}${issue?.path.length ? ` (${issue.path.join('.')})` : ''}.`);
  }
  const c = parsed.data;
  checkStoreUrl(c.BATON_STORE);
  if (c.BATON_SECRET !== undefined && c.BATON_SECRET_FILE !== undefined) throw new BatonConfigError('Set BATON_SECRET or BATON_SECRET_FILE, not both.');
  const headersTimeoutMs = toMs(duration$(c.BATON_HEADERS_TIMEOUT), 'BATON_HEADERS_TIMEOUT');
  const requestTimeoutMs = toMs(duration$(c.BATON_REQUEST_TIMEOUT), 'BATON_REQUEST_TIMEOUT');
  if (headersTimeoutMs === 0 || requestTimeoutMs === 0) throw new BatonConfigError('BATON_HEADERS_TIMEOUT and BATON_REQUEST_TIMEOUT must be above 0: a slow client would hold its connection forever.');
  if (headersTimeoutMs > requestTimeoutMs) throw new BatonConfigError(`BATON_HEADERS_TIMEOUT (${c.BATON_HEADERS_TIMEOUT}) must not exceed BATON_REQUEST_TIMEOUT (${c.BATON_REQUEST_TIMEOUT}): the headers are part of the request.`);
  const trustProxy = trusted(c.BATON_TRUST_PROXY);
  // One address may hold an eighth of the slots: filling them all takes eight addresses at least.
  const maxConnectionsPerAddress = c.BATON_MAX_CONNECTIONS_PER_ADDRESS ?? Math.min(c.BATON_MAX_CONNECTIONS, Math.max(16, Math.floor(c.BATON_MAX_CONNECTIONS / 8)));
  if (maxConnectionsPerAddress > c.BATON_MAX_CONNECTIONS) {
    throw new BatonConfigError(`BATON_MAX_CONNECTIONS_PER_ADDRESS (${maxConnectionsPerAddress}) must not exceed BATON_MAX_CONNECTIONS (${c.BATON_MAX_CONNECTIONS}): one address could then hold every connection.`);
  }
  const loginFailures = failureLimit(c.BATON_LOGIN_FAILURES, 'BATON_LOGIN_FAILURES');
  const loginFailuresPerIp = failureLimit(c.BATON_LOGIN_FAILURES_PER_IP, 'BATON_LOGIN_FAILURES_PER_IP');
  const issuer = (c.BATON_ISSUER ?? `http://${c.HOST.includes(':') ? `[${c.HOST}]` : c.HOST}:${c.PORT}`).replace(/\/$/, '');
  const cookieSecure = ['true', '1', 'on'].includes(c.BATON_COOKIE_SECURE);
  const { hostname, protocol } = new URL(issuer);
  if (!cookieSecure && !(protocol === 'http:' && isLoopbackHost(hostname))) {
    throw new BatonConfigError('BATON_COOKIE_SECURE=false is only allowed for a plain-http localhost issuer; serve over https and keep Secure cookies.');
  }
  const workers = c.BATON_WORKERS === 'auto' ? Math.min(MAX_WORKERS, availableParallelism()) : Number(c.BATON_WORKERS);
  // Each worker would hold its own private database: a session made on one would be unknown to the others.
  if (workers > 1 && (c.BATON_STORE === 'memory:' || c.BATON_STORE === 'sqlite::memory:')) {
    throw new BatonConfigError(`BATON_WORKERS=${c.BATON_WORKERS} needs a store the workers share: with ${c.BATON_STORE} each worker would keep its own users, keys and sessions. Use sqlite:<path>, Redis or PostgreSQL, or BATON_WORKERS=1.`);
  }
  const warnings: string[] = [];
  // A grace window hands the current pair to whoever presents the previous token: seconds absorb races, more is a gift to a thief.
  if (toMs(duration$(c.BATON_REFRESH_GRACE), 'BATON_REFRESH_GRACE') > 60_000) {
    warnings.push(`BATON_REFRESH_GRACE=${c.BATON_REFRESH_GRACE} is long: for that long after each rotation, whoever holds the previous refresh token gets the current pair. A few seconds (the default, 10s) absorb racing tabs and lost responses.`);
  }
  return {
    warnings,
    port: c.PORT,
    host: c.HOST,
    issuer,
    issuerSet: c.BATON_ISSUER !== undefined,
    dpop: c.BATON_DPOP,
    heartbeatMs: toMs(duration$(c.BATON_HEARTBEAT), 'BATON_HEARTBEAT'),
    store: c.BATON_STORE,
    accessTtl: duration$(c.BATON_ACCESS_TTL),
    refreshTtl: duration$(c.BATON_REFRESH_TTL),
    refreshGrace: duration$(c.BATON_REFRESH_GRACE),
    maxSessions: c.BATON_MAX_SESSIONS,
    tokenFormat: c.BATON_TOKEN_FORMAT,
    alg: c.BATON_ALG,
    cookieSecure,
    introspectionSecret: c.BATON_INTROSPECTION_SECRET,
    secret: c.BATON_SECRET,
    secretFile: c.BATON_SECRET_FILE,
    logLevel: c.BATON_LOG_LEVEL,
    keyReload: duration$(c.BATON_KEY_RELOAD),
    headersTimeoutMs,
    requestTimeoutMs,
    maxConnections: c.BATON_MAX_CONNECTIONS,
    maxConnectionsPerAddress,
    trustProxy,
    sweepIntervalMs: c.BATON_SWEEP_INTERVAL === 'off' ? false : toMs(duration$(c.BATON_SWEEP_INTERVAL), 'BATON_SWEEP_INTERVAL'),
    refreshRate: rate(c.BATON_REFRESH_RATE),
    resources: list(c.BATON_RESOURCES),
    scopes: c.BATON_SCOPES === undefined ? undefined : list(c.BATON_SCOPES),
    allowedOrigins: list(c.BATON_ALLOWED_ORIGINS),
    metricsToken: c.BATON_METRICS_TOKEN,
    metricsPort: c.BATON_METRICS_PORT,
    workers,
    loginFailures: loginFailures && { max: loginFailures.max, blockMs: loginFailures.ms },
    loginFailuresPerIp: loginFailuresPerIp && { max: loginFailuresPerIp.max, windowMs: loginFailuresPerIp.ms },
  };
}
