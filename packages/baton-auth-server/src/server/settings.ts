/**
 * The service's settings, once: one row per variable — its name, the option it becomes (the
 * library's name where the library has the option: `BATON_ACCESS_TTL` is `accessTokenTtl`), its
 * default, what it does, and how its text is checked. The zod schema (`config.ts`), `baton serve
 * --help` and docs/configuration.md (`npm run docs:config`) are all made from this table.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { BatonConfigError, checkScopes, MAX_SESSIONS_PER_USER, toMs } from 'baton-auth';
import { checkOrigins, checkResources } from 'baton-auth/http';
import { batonCommand } from '../cli/command.ts';

const BATON = batonCommand();

/** More workers than this only adds contention (and memory): the cores are shared by all of them. */
export const MAX_WORKERS = 64;

/** One setting. */
export interface Setting {
  /** The environment variable (or key of the `BATON_CONFIG` file). */
  env: string;
  /** The option of the service's configuration it becomes: the library's option of the same meaning, where it has one. */
  option: string;
  /** The default, as it would be written in the environment; undefined: unset (`unset` says what that means). */
  default?: string;
  /** What an unset variable means, when it has no literal default. */
  unset?: string;
  /** What it does, one sentence or two: units and forms included. */
  doc: string;
  /** The check of its text; absent for a variable read before the schema (`BATON_CONFIG`, `BATON_RUNTIME_FILE`). */
  parse?: z.ZodType;
}

/** A list given with commas or spaces. */
export function list(v: string): string[] {
  return v.split(/[\s,]+/).filter((x) => x !== '');
}

/** A duration as the service reads it: whole seconds (`90`) or a duration string (`90s`, `15m`, `1d`). */
export const durationText = (v: string): string => (/^\d+$/.test(v) ? `${v}s` : v);

/** The one duration reader of every setting: ms, or a BatonConfigError naming `name`. */
export function durationMs(v: string, name: string): number {
  return toMs(durationText(v), name);
}

/** A library check run as a zod refinement: its sentence becomes the issue's. */
const byLibrary = (check: (v: string) => unknown) =>
  z.string().superRefine((v, ctx) => {
    try {
      check(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

/** A duration from `min` to `max` ms (inclusive). */
const duration = (name: string, min = 0, max = Number.MAX_SAFE_INTEGER, shape = "seconds or a duration like '90s', '15m', '7d'") =>
  z.string().refine(
    (v) => {
      try {
        const ms = durationMs(v, name);
        return ms >= min && ms <= max;
      } catch {
        return false;
      }
    },
    { message: `${name} must be ${shape}` },
  );

/** `off`, or `<count>/<duration>` with a count of at least 1: the one form of every "so many per window" setting. */
const perWindow = (name: string, shape: string) =>
  // A window of 0 would be no limit at all (every attempt opens a new window): at least a second.
  z.string().refine((v) => v === 'off' || (/^[1-9]\d*\/.+$/.test(v) && duration(name, 1000).safeParse(v.slice(v.indexOf('/') + 1)).success), {
    message: `${name} must be 'off' or ${shape}, with a duration of at least 1s`,
  });

/** A whole number from `min` to `max`, with one sentence for every way to miss. */
const whole = (message: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number({ message }).int({ message }).min(min, { message }).max(max, { message });

const secret = (name: string) => z.string().min(32, { message: `${name} must be at least 32 characters (make one with \`${BATON} secret generate\`)` });

/** Every setting, in the order `serve --help` and docs/configuration.md list them. */
export const SETTINGS_TABLE: readonly Setting[] = [
  {
    env: 'PORT',
    option: 'port',
    default: '3000',
    doc: 'The port to listen on; 0 picks a free one.',
    parse: whole('PORT must be a port number from 1 to 65535, or 0 for a free one', 0, 65535),
  },
  { env: 'HOST', option: 'host', default: '127.0.0.1', doc: 'The address to listen on.', parse: z.string().min(1, { message: 'HOST must be an address' }) },
  {
    env: 'BATON_ISSUER',
    option: 'issuer',
    unset: 'http://HOST:PORT',
    doc: 'The public URL of the service, its `iss`. Several instances on one store must share one: set it.',
    parse: z.string().url({ message: 'BATON_ISSUER must be a URL, e.g. https://auth.example.com' }),
  },
  {
    env: 'BATON_STORE',
    option: 'store',
    default: 'sqlite:./data/baton.sqlite',
    doc: 'Where sessions, keys, users and clients live: sqlite:<path>, memory:, redis://…, rediss://…, redis+cluster://host:port,…, postgres://… (percent-encode / ? # @ : in a password).',
    parse: z.string().regex(/^(sqlite:.+|memory:|rediss?:\/\/.+|redis\+cluster:\/\/.+|postgres(ql)?:\/\/.+)$/, {
      message: 'BATON_STORE must be sqlite:<path>, memory:, redis://…, rediss://…, redis+cluster://host:port,… or postgres://…',
    }),
  },
  {
    env: 'BATON_SECRET',
    option: 'secret',
    unset: `with SQLite, a file data/baton.secret made on first start`,
    doc: 'The service secret that seals the keys in the store (at least 32 characters; `baton secret generate`).',
    parse: secret('BATON_SECRET'),
  },
  { env: 'BATON_SECRET_FILE', option: 'secretFile', doc: 'A file holding the service secret, instead of BATON_SECRET.', parse: z.string().min(1) },
  {
    env: 'BATON_ACCESS_TTL',
    option: 'accessTokenTtl',
    default: '15m',
    doc: 'Access-token lifetime: seconds or a duration (90s, 15m, 1d).',
    parse: duration('BATON_ACCESS_TTL'),
  },
  {
    env: 'BATON_REFRESH_TTL',
    option: 'refreshTokenTtl',
    default: '14d',
    doc: 'Refresh-token idle lifetime: seconds or a duration; longer than BATON_ACCESS_TTL.',
    parse: duration('BATON_REFRESH_TTL'),
  },
  {
    env: 'BATON_REFRESH_GRACE',
    option: 'refreshGrace',
    default: '10s',
    doc: 'How long a just-rotated refresh token still gets the current pair (racing tabs, lost responses); keep it to seconds: over a minute is warned of.',
    parse: duration('BATON_REFRESH_GRACE'),
  },
  {
    env: 'BATON_REFRESH_RATE',
    option: 'refreshRateLimit',
    default: '30/1m',
    doc: "Rotations allowed per session and window, as <count>/<duration> (30/1m, 1000/1d), or 'off'.",
    parse: perWindow('BATON_REFRESH_RATE', "refreshes per window, like '30/1m' or '1000/1d'"),
  },
  {
    env: 'BATON_MAX_SESSIONS',
    option: 'maxSessionsPerUser',
    default: '50',
    doc: `Sessions per user, the oldest evicted beyond it: 1 (one device) to ${MAX_SESSIONS_PER_USER}. There is no unlimited setting: a login, the device list and "log out everywhere" read all of a user's sessions.`,
    parse: whole(
      `BATON_MAX_SESSIONS must be a whole number from 1 (one device) to ${MAX_SESSIONS_PER_USER}: a user's logins, device list and "log out everywhere" read all the user's sessions, so there is no unlimited setting (0 no longer means no limit)`,
      1,
      MAX_SESSIONS_PER_USER,
    ),
  },
  {
    env: 'BATON_TOKEN_FORMAT',
    option: 'tokenFormat',
    default: 'jwt',
    doc: 'Access tokens as jwt, jwe or opaque.',
    parse: z.enum(['jwt', 'jwe', 'opaque'], { message: 'BATON_TOKEN_FORMAT must be jwt, jwe or opaque' }),
  },
  {
    env: 'BATON_ALG',
    option: 'alg',
    default: 'EdDSA',
    doc: "The signing algorithm of new keys: EdDSA, ES256, RS256 (RFC 9068's must), PS256 or HS256.",
    parse: z.enum(['HS256', 'ES256', 'EdDSA', 'RS256', 'PS256'], { message: 'BATON_ALG must be HS256, ES256, EdDSA, RS256 or PS256' }),
  },
  {
    env: 'BATON_COOKIE_SECURE',
    option: 'cookieSecure',
    default: 'true',
    doc: 'Secure refresh cookies; false only for a plain-http localhost issuer.',
    parse: z.enum(['true', 'false', '1', '0', 'on', 'off'], { message: 'BATON_COOKIE_SECURE must be true or false' }),
  },
  {
    env: 'BATON_ALLOWED_ORIGINS',
    option: 'allowedOrigins',
    default: '',
    doc: "Origins besides the issuer's whose pages may call the endpoints, read their answers (CORS) and use the refresh cookie; comma- or space-separated.",
    parse: byLibrary((v) => checkOrigins(list(v), 'BATON_ALLOWED_ORIGINS')),
  },
  {
    env: 'BATON_RESOURCES',
    option: 'resources',
    default: '',
    doc: 'The APIs (RFC 8707 resource URIs) tokens may be asked for; comma- or space-separated.',
    parse: byLibrary((v) => checkResources(list(v), 'BATON_RESOURCES')),
  },
  {
    env: 'BATON_SCOPES',
    option: 'scopes',
    unset: "the registered clients' scopes, read at start",
    doc: 'The scopes advertised as scopes_supported (RFC 6749 §3.3 names); comma- or space-separated.',
    parse: byLibrary((v) => checkScopes(list(v), 'BATON_SCOPES')),
  },
  {
    env: 'BATON_INTROSPECTION_SECRET',
    option: 'introspectionSecret',
    doc: 'Registers the confidential client resource-server with this secret (at least 32 characters), to introspect and follow the revocation feed.',
    parse: secret('BATON_INTROSPECTION_SECRET'),
  },
  {
    env: 'BATON_LOGIN_FAILURES',
    option: 'loginFailures',
    default: '10/1h',
    doc: "Failed logins in a row of one username from one address, and how long that pair is then refused, as <count>/<duration>; or 'off'.",
    parse: perWindow('BATON_LOGIN_FAILURES', "failures in a row and how long they block, like '10/1h'"),
  },
  {
    env: 'BATON_LOGIN_FAILURES_PER_IP',
    option: 'loginFailuresPerIp',
    default: '100/1d',
    doc: "Failed logins from one address per period, which it is then refused for; or 'off' (both also limit introspection client authentication).",
    parse: perWindow('BATON_LOGIN_FAILURES_PER_IP', "failures and the period they count over and block for, like '100/1d'"),
  },
  {
    env: 'BATON_TRUST_PROXY',
    option: 'trustProxy',
    unset: "none: the client's address is the socket's",
    doc: 'Which proxies X-Forwarded-For to believe: a hop count (1), or addresses and CIDR ranges (10.0.0.0/8,loopback).',
    parse: z.string(),
  },
  {
    env: 'BATON_HEADERS_TIMEOUT',
    option: 'headersTimeoutMs',
    default: '10s',
    doc: 'The whole request header must arrive within this (a duration; 408 and closed otherwise).',
    parse: duration('BATON_HEADERS_TIMEOUT'),
  },
  {
    env: 'BATON_REQUEST_TIMEOUT',
    option: 'requestTimeoutMs',
    default: '30s',
    doc: 'The whole request must arrive within this (a duration, at least BATON_HEADERS_TIMEOUT).',
    parse: duration('BATON_REQUEST_TIMEOUT'),
  },
  {
    env: 'BATON_MAX_CONNECTIONS',
    option: 'maxConnections',
    default: '1000',
    doc: 'Open connections at most; more are closed on arrival.',
    parse: whole('BATON_MAX_CONNECTIONS must be a whole number of connections, at least 1', 1),
  },
  {
    env: 'BATON_MAX_CONNECTIONS_PER_ADDRESS',
    option: 'maxConnectionsPerAddress',
    unset: 'an eighth of BATON_MAX_CONNECTIONS, at least 16',
    doc: "Open connections of one client address at most (an IPv6 client by its /64); a trusted proxy's are not capped.",
    parse: whole('BATON_MAX_CONNECTIONS_PER_ADDRESS must be a whole number of connections, at least 1', 1),
  },
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

/** The rows checked by the schema (those with a `parse`). */
export const SCHEMA_SETTINGS = SETTINGS_TABLE.filter((s): s is Setting & { parse: z.ZodType } => s.parse !== undefined);

/** The default of a row as a reader sees it. */
export const defaultOf = (s: Setting): string => (s.default === undefined ? (s.unset ?? 'unset') : s.default === '' ? 'none' : s.default);

/** The `Environment:` section of `baton serve --help`, a line per setting. */
export function settingsHelp(): string {
  const width = Math.max(...SETTINGS_TABLE.map((s) => s.env.length));
  return SETTINGS_TABLE.map((s) => `  ${s.env.padEnd(width)}  ${s.doc} (default: ${defaultOf(s)})`).join('\n');
}

/** docs/configuration.md, as `npm run docs:config` writes it. */
export function configurationReference(): string {
  const code = (v: string): string => v.replace(/\|/g, '\\|');
  // Outside code spans, `<count>` would be an HTML tag to a Markdown renderer (and an unclosed element to VitePress's Vue).
  const cell = (v: string): string => code(v).replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from packages/baton-auth-server/src/server/settings.ts by `npm run docs:config`; test/server/settings.test.ts fails when it is stale. Do not edit by hand. -->',
    '',
    "The service (`baton serve`) reads these from the environment, or from the JSON file `BATON_CONFIG` names (the environment wins); a mistake stops it with a sentence that names the variable. Durations are whole seconds (`90`) or a duration string (`90s`, `15m`, `14d`, `1d`). `option` is the name the setting has in the service's configuration — the library's option name where `createBaton` or `createAuthHandler` has the same setting.",
    '',
    '| variable | option | default | what it does |',
    '| --- | --- | --- | --- |',
    ...SETTINGS_TABLE.map(
      (s) =>
        `| \`${s.env}\` | \`${s.option}\` | ${s.default === undefined || s.default === '' ? cell(defaultOf(s)) : `\`${code(s.default)}\``} | ${cell(s.doc)} |`,
    ),
    '',
  ].join('\n');
}

/** Throws the BatonConfigError of a zod issue: its sentence, and the variable it is about. */
export function configError(issue: { message?: string; path: PropertyKey[] } | undefined): never {
  throw new BatonConfigError(`Configuration error: ${issue?.message ?? 'invalid value'}${issue?.path.length ? ` (${issue.path.map(String).join('.')})` : ''}.`);
}
