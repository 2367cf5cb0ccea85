/**
 * The options of `createBaton`, validated once at creation: a mistake fails at start-up with a
 * sentence that says what to change.
 *
 * Validation is written out here rather than with a schema library to keep the core's run-time
 * dependencies to `jose`; the checks are relations between options (lifetimes that must nest)
 * more than shapes.
 */
import { steadyClock } from './clock.ts';
import { toMs } from './duration.ts';
import type { Duration } from './duration.ts';
import { BatonConfigError } from './errors.ts';
import { keyRing } from './key-options.ts';
import { limits } from './limit-options.ts';
import type { Limits } from './limit-options.ts';
import type { KeyInput, KeyRing } from './keys.ts';
import type { TokenFormat } from './access-token.ts';
import { STORE_METHODS } from './store.ts';
import type { TokenStore } from './store.ts';
import type { AuditSink } from './audit.ts';
import type { BatonEvent } from './events.ts';

/** Options of `createBaton`. Durations are seconds or strings such as `'15m'`, `'7d'`. */
export interface BatonOptions {
  /** The `iss` of every access token, usually the service's URL. */
  issuer: string;
  /** The `aud` of access tokens and what `verify` requires; defaults to `issuer`. */
  audience?: string;
  /**
   * Signing (HS256, ES256, EdDSA, RS256, PS256; RSA keys of 2048 bits or more), encryption (`dir`) and refresh-token (`use: 'refresh'`) keys,
   * or a ready `KeyRing`.
   *
   * **Where keys live.** Private keys and secrets mint tokens: whoever reads them signs access
   * tokens for any user and scope. Keep them in your secret manager or configuration, never in
   * the token store in the clear — a copy of the database (a backup, a dump, a replica) must not
   * be able to mint anything. The standalone service keeps them in the store only sealed
   * (AES-256-GCM) under a key derived from `BATON_SECRET`, which never enters the store.
   */
  keys: readonly KeyInput[] | KeyRing;
  /**
   * The secret that authenticates refresh tokens (HMAC-SHA256), at least 32 bytes; optional when
   * `keys` holds an active `refresh` key. The same custody as `keys`: in configuration, never in
   * the store — with it and a copy of the store, anyone mints the next refresh token of any session.
   */
  refreshTokenSecret?: string | Uint8Array;
  /** Former refresh-token secrets that still verify, to change the secret without logging anyone out. */
  previousRefreshTokenSecrets?: readonly (string | Uint8Array)[];
  /** Where sessions, denylists and revocations live. */
  store: TokenStore;
  /** Access-token lifetime, capped at the end of the token's session (its absolute or idle end). Default `'15m'`. */
  accessTokenTtl?: Duration;
  /** Idle lifetime of a session: it ends unless refreshed within this time. Default `'14d'`. */
  refreshTokenTtl?: Duration;
  /** Absolute lifetime of a session, however often it is refreshed. Default `'90d'`. */
  sessionMaxAge?: Duration;
  /** How long a rotated-away refresh token still yields the current one (races, lost responses). Default `'10s'`. */
  refreshGrace?: Duration;
  /** Clock tolerance when checking `exp`, `nbf` and `iat`, whole seconds. Default `'5s'`. */
  leeway?: Duration;
  /** At most this many active sessions per user; a new login evicts the oldest. Default 50; 1: single session; at most `MAX_SESSIONS_PER_USER` (1,000): there is no unlimited setting. */
  maxSessionsPerUser?: number;
  /** Format of new access tokens. Default `'jwt'`. All formats are verified whatever this says. */
  tokenFormat?: TokenFormat;
  /**
   * At most `max` logins per `window` per user, or `false`: each login may evict a session past
   * `maxSessionsPerUser` and so cause revocation events that every resource server following the
   * feed keeps until they expire. Past it `login` throws `ERR_RATE_LIMITED` (429 `slow_down`) and
   * writes nothing. Default 30 per minute. Counted in the store (its counters, else its one-time ledger), shared by every instance.
   */
  loginRateLimit?: { max: number; window: Duration } | false;
  /** At most `max` rotations per `window` per session, or `false`. Default 30 per minute. Grace answers do not count. */
  refreshRateLimit?: { max: number; window: Duration } | false;
  /** At most this many grace answers (retired token, current pair) per generation of a session; each signs a token. Default 100. */
  refreshGraceLimit?: number;
  /** Cache of verified tokens (bounded LRU, revocations checked on every hit), or `false`. Default 10,000 tokens. */
  verifyCache?: { max: number } | false;
  /** Tokens longer than this many characters are refused before any parsing. Default 8192. */
  maxTokenLength?: number;
  /** Scope of sessions whose login names none. Default `''`. */
  defaultScope?: string;
  /** Receives lifecycle events (audit logs, alerts). Errors it throws are ignored. */
  onEvent?: (event: BatonEvent) => void;
  /**
   * The audit trail's sink: every security event as one `AuditEvent` (schema `v: 1`): the engine's,
   * and those of the handler and the authorization server built on this `Baton` (`Baton.audit`).
   * Called synchronously; what it throws is ignored, so it never breaks a request (queue slow work).
   */
  audit?: AuditSink;
  /**
   * Saves the key ring where every instance reads it, after `rotateKeys` and `revokeKey` changed
   * it (the standalone service seals it into the store). Without it the ring lives in this
   * process only: keys from your configuration must change there too.
   */
  persistKeys?: (ring: KeyRing) => Promise<void>;
  /**
   * DPoP (RFC 9449): how long a proof is accepted after its `iat` (and before, for clock skew),
   * default `'5m'`; how long a server nonce lasts (§8), default `'5m'` (the one before is still
   * accepted); whether `checkProof` requires a nonce, default `true` (the token endpoints).
   * Nonces are derived from the active refresh key, so every instance issues and accepts the same.
   */
  dpop?: { proofLifetime?: Duration; nonceLifetime?: Duration; requireNonce?: boolean };
  /**
   * The clock, in milliseconds since the epoch. Default a steady clock (`core/clock.ts`): the
   * wall clock, but never back and never leaping with a step of it (NTP, a VM resumed) until
   * the step has held for a minute. A clock given here is used as it is: if it can step, grace
   * windows and expiries step with it (in-memory revocations are also kept on the monotonic clock).
   */
  now?: () => number;
}

/** Options after validation, each named for its option, durations in milliseconds (the leeway in seconds, as `exp` counts). */
export interface ResolvedOptions extends Limits {
  issuer: string;
  audience: string;
  ring: KeyRing;
  store: TokenStore;
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
  sessionMaxAgeMs: number;
  refreshGraceMs: number;
  leewaySec: number;
  tokenFormat: TokenFormat;
  defaultScope: string;
  onEvent: ((event: BatonEvent) => void) | undefined;
  audit: AuditSink | undefined;
  persistKeys: ((ring: KeyRing) => Promise<void>) | undefined;
  dpop: { proofLifetimeSec: number; nonceLifetimeSec: number; requireNonce: boolean };
  now: () => number;
}

const KNOWN = new Set([
  'issuer',
  'audience',
  'keys',
  'refreshTokenSecret',
  'previousRefreshTokenSecrets',
  'store',
  'accessTokenTtl',
  'refreshTokenTtl',
  'sessionMaxAge',
  'refreshGrace',
  'leeway',
  'maxSessionsPerUser',
  'tokenFormat',
  'loginRateLimit',
  'refreshRateLimit',
  'refreshGraceLimit',
  'verifyCache',
  'maxTokenLength',
  'defaultScope',
  'onEvent',
  'audit',
  'persistKeys',
  'dpop',
  'now',
]);

function human(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const)
    if (ms % size === 0 && ms > 0) return `${ms / size}${unit}`;
  return `${ms / 1000}s`;
}

/** The issuer, audience, store, keys and token format: what the engine cannot start without. */
function essentials(options: BatonOptions): Pick<ResolvedOptions, 'audience' | 'store' | 'ring' | 'tokenFormat'> {
  if (typeof options !== 'object' || options === null)
    throw new BatonConfigError('createBaton needs an options object: { issuer, keys, refreshTokenSecret, store }.');
  for (const name of Object.keys(options)) {
    if (!KNOWN.has(name)) throw new BatonConfigError(`Unknown option ${JSON.stringify(name)}; the options are: ${[...KNOWN].join(', ')}.`);
  }
  if (typeof options.issuer !== 'string' || options.issuer === '')
    throw new BatonConfigError('`issuer` is required: the URL of this token service, e.g. "https://auth.example.com".');
  const audience = options.audience ?? options.issuer;
  if (typeof audience !== 'string' || audience === '') throw new BatonConfigError('`audience` must be a non-empty string.');
  const store = options.store;
  const missing = (names: readonly string[]) => names.filter((m) => typeof (store as unknown as Record<string, unknown>)[m] !== 'function');
  if (typeof store !== 'object' || store === null)
    throw new BatonConfigError('`store` is required: e.g. `store: memoryStore()` from "baton-auth/stores/memory".');
  if (missing(STORE_METHODS.required).length > 0)
    throw new BatonConfigError(`\`store\` lacks ${missing(STORE_METHODS.required).join(', ')} of the store contract (baton-auth's TokenStore).`);
  const ring = keyRing(options);
  const tokenFormat = options.tokenFormat ?? 'jwt';
  if (!['jwt', 'jwe', 'opaque'].includes(tokenFormat))
    throw new BatonConfigError(`\`tokenFormat\` must be 'jwt', 'jwe' or 'opaque', got ${JSON.stringify(tokenFormat)}.`);
  if (tokenFormat === 'opaque' && missing(STORE_METHODS.opaque).length > 0)
    throw new BatonConfigError("`tokenFormat: 'opaque'` needs a store that keeps opaque tokens (saveOpaqueToken, findOpaqueToken, deleteOpaqueToken).");
  if (tokenFormat === 'jwe' && ring.active('enc') === undefined) {
    throw new BatonConfigError("`tokenFormat: 'jwe'` needs an encryption key: add `generateKey('dir')` (a 32-byte secret) to `keys`.");
  }
  return { audience, store, ring, tokenFormat };
}

/** The lifetimes, which must nest: an access token within a refresh token within a session; the grace and leeway short. */
function lifetimes(options: BatonOptions): {
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
  sessionMaxAgeMs: number;
  refreshGraceMs: number;
  leewayMs: number;
} {
  const accessTokenTtlMs = toMs(options.accessTokenTtl ?? '15m', 'accessTokenTtl');
  const refreshTokenTtlMs = toMs(options.refreshTokenTtl ?? '14d', 'refreshTokenTtl');
  const sessionMaxAgeMs = toMs(options.sessionMaxAge ?? Math.max(90 * 86_400, refreshTokenTtlMs / 1000), 'sessionMaxAge');
  const refreshGraceMs = toMs(options.refreshGrace ?? '10s', 'refreshGrace');
  const leewayMs = toMs(options.leeway ?? '5s', 'leeway');
  if (accessTokenTtlMs < 1000) throw new BatonConfigError('`accessTokenTtl` must be at least 1 second.');
  if (refreshTokenTtlMs <= accessTokenTtlMs) {
    throw new BatonConfigError(
      `\`refreshTokenTtl\` (${human(refreshTokenTtlMs)}) must be longer than \`accessTokenTtl\` (${human(accessTokenTtlMs)}): a session would end before its first refresh. Raise refreshTokenTtl or lower accessTokenTtl.`,
    );
  }
  if (sessionMaxAgeMs < refreshTokenTtlMs) {
    throw new BatonConfigError(`\`sessionMaxAge\` (${human(sessionMaxAgeMs)}) must be at least \`refreshTokenTtl\` (${human(refreshTokenTtlMs)}).`);
  }
  if (refreshGraceMs > refreshTokenTtlMs) {
    throw new BatonConfigError(
      `\`refreshGrace\` (${human(refreshGraceMs)}) must not be longer than \`refreshTokenTtl\` (${human(refreshTokenTtlMs)}); a few seconds is enough to absorb races and lost responses.`,
    );
  }
  if (leewayMs % 1000 !== 0 || leewayMs > 300_000) throw new BatonConfigError('`leeway` must be whole seconds, at most 5 minutes.');
  return { accessTokenTtlMs, refreshTokenTtlMs, sessionMaxAgeMs, refreshGraceMs, leewayMs };
}

/** DPoP (RFC 9449): how long a proof and a nonce are good for, and whether a nonce is required. */
function dpopOptions(options: BatonOptions): ResolvedOptions['dpop'] {
  const dpop = options.dpop ?? {};
  if (typeof dpop !== 'object' || dpop === null) throw new BatonConfigError('`dpop` must be an object: { proofLifetime, nonceLifetime, requireNonce }.');
  const proofLifetimeMs = toMs(dpop.proofLifetime ?? '5m', 'dpop.proofLifetime');
  const nonceLifetimeMs = toMs(dpop.nonceLifetime ?? '5m', 'dpop.nonceLifetime');
  if (proofLifetimeMs < 1000 || proofLifetimeMs % 1000 !== 0 || proofLifetimeMs > 3_600_000)
    throw new BatonConfigError('`dpop.proofLifetime` must be whole seconds, from 1 second to 1 hour (a few minutes is usual).');
  if (nonceLifetimeMs < 10_000 || nonceLifetimeMs % 1000 !== 0 || nonceLifetimeMs > 86_400_000)
    throw new BatonConfigError('`dpop.nonceLifetime` must be whole seconds, from 10 seconds to 1 day.');
  if (dpop.requireNonce !== undefined && typeof dpop.requireNonce !== 'boolean') throw new BatonConfigError('`dpop.requireNonce` must be true or false.');
  return { proofLifetimeSec: proofLifetimeMs / 1000, nonceLifetimeSec: nonceLifetimeMs / 1000, requireNonce: dpop.requireNonce ?? true };
}

/** Validates `options`; throws `BatonConfigError` with a sentence that says what to fix. */
export function resolveOptions(options: BatonOptions): ResolvedOptions {
  const { audience, store, ring, tokenFormat } = essentials(options);
  const { accessTokenTtlMs, refreshTokenTtlMs, sessionMaxAgeMs, refreshGraceMs, leewayMs } = lifetimes(options);
  // Retired keys verify for as long as a token they made can live, then nothing.
  ring.setRetention({ sig: accessTokenTtlMs + leewayMs, enc: accessTokenTtlMs + leewayMs, refresh: refreshTokenTtlMs + refreshGraceMs + leewayMs });
  const bounds = limits(options);
  if (options.persistKeys !== undefined && typeof options.persistKeys !== 'function')
    throw new BatonConfigError('`persistKeys` must be a function that saves the key ring and resolves when done.');
  const dpop = dpopOptions(options);
  if (options.audit !== undefined && typeof options.audit !== 'function')
    throw new BatonConfigError('`audit` must be a function that receives each audit event (`(event) => void`).');
  if (options.now !== undefined && typeof options.now !== 'function')
    throw new BatonConfigError('`now` must be a function returning milliseconds since the epoch.');

  return {
    issuer: options.issuer,
    audience,
    ring,
    store,
    accessTokenTtlMs,
    refreshTokenTtlMs,
    sessionMaxAgeMs,
    refreshGraceMs,
    leewaySec: leewayMs / 1000,
    tokenFormat,
    ...bounds,
    defaultScope: options.defaultScope ?? '',
    onEvent: options.onEvent,
    audit: options.audit,
    persistKeys: options.persistKeys,
    dpop,
    now: options.now ?? steadyClock(),
  };
}
