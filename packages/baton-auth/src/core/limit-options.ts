/**
 * The bounds of `createBaton`'s options: what a caller can make the engine spend — sessions per user, logins and
 * rotations per window, grace answers per generation, the verified-token cache, a token's length — each checked once
 * at creation with a sentence that says what to change.
 */
import { toMs } from './duration.ts';
import type { Duration } from './duration.ts';
import { BatonConfigError } from './errors.ts';
import { MAX_SESSIONS_PER_USER } from './store.ts';

/** The options of `createBaton` the bounds are made of (see `BatonOptions` for each one's meaning and default). */
export interface LimitOptions {
  maxSessionsPerUser?: number | undefined;
  loginRateLimit?: { max: number; window: Duration } | false | undefined;
  refreshRateLimit?: { max: number; window: Duration } | false | undefined;
  refreshGraceLimit?: number | undefined;
  verifyCache?: { max: number } | false | undefined;
  maxTokenLength?: number | undefined;
}

/** The bounds after validation, each named for its option; windows in milliseconds, `undefined` for a limit turned off. */
export interface Limits {
  maxSessionsPerUser: number;
  /** A session's rotation budget (`refreshRateLimit`). */
  refreshRateLimit: { max: number; windowMs: number } | undefined;
  /** A user's login budget (`loginRateLimit`). */
  loginRateLimit: { max: number; windowMs: number } | undefined;
  refreshGraceLimit: number;
  /** The verified-token cache's size (`verifyCache.max`), 0 when it is off. */
  verifyCacheMax: number;
  maxTokenLength: number;
}

/**
 * A rate limit's window in ms, above 0: a window of 0 ends at once, so every attempt would open a
 * new one and the limit would count nothing.
 */
function windowMs(window: Duration, setting: string): number {
  const ms = toMs(window, `${setting}.window`);
  if (ms <= 0)
    throw new BatonConfigError(`\`${setting}.window\` must be longer than 0 (a window of 0 limits nothing), e.g. '1m'; or set \`${setting}: false\`.`);
  return ms;
}

/** A rate limit (`{ max, window }`, default 30 a minute) in ms, or undefined when set to `false`. */
function rateLimit(given: LimitOptions['loginRateLimit'], setting: 'loginRateLimit' | 'refreshRateLimit'): Limits['loginRateLimit'] {
  const limit = given ?? { max: 30, window: '1m' };
  if (limit === false) return undefined;
  if (!Number.isInteger(limit.max) || limit.max < 1)
    throw new BatonConfigError(`\`${setting}.max\` must be a whole number of at least 1 (or set \`${setting}: false\`).`);
  return { max: limit.max, windowMs: windowMs(limit.window, setting) };
}

/** The bounds: sessions per user, the refresh and login rate limits, the grace answers, the verify cache, the token length. */
export function limits(options: LimitOptions): Limits {
  const maxSessionsPerUser = options.maxSessionsPerUser ?? 50;
  if (!Number.isInteger(maxSessionsPerUser) || maxSessionsPerUser < 1 || maxSessionsPerUser > MAX_SESSIONS_PER_USER) {
    throw new BatonConfigError(
      `\`maxSessionsPerUser\` must be a whole number from 1 (a single session per user) to ${MAX_SESSIONS_PER_USER}: a login, the device list and "log out everywhere" read all of a user's active sessions, so there is no unlimited setting (0 no longer means no limit).`,
    );
  }
  const refreshRateLimit = rateLimit(options.refreshRateLimit, 'refreshRateLimit');
  const loginRateLimit = rateLimit(options.loginRateLimit, 'loginRateLimit');
  const refreshGraceLimit = options.refreshGraceLimit ?? 100;
  if (!Number.isInteger(refreshGraceLimit) || refreshGraceLimit < 1) throw new BatonConfigError('`refreshGraceLimit` must be a whole number of at least 1.');
  const cache = options.verifyCache ?? { max: 10_000 };
  if (cache !== false && (!Number.isInteger(cache.max) || cache.max < 1))
    throw new BatonConfigError('`verifyCache.max` must be a whole number of at least 1 (or set `verifyCache: false`).');
  const maxTokenLength = options.maxTokenLength ?? 8192;
  if (!Number.isInteger(maxTokenLength) || maxTokenLength < 256) throw new BatonConfigError('`maxTokenLength` must be a whole number of at least 256.');
  return {
    maxSessionsPerUser,
    refreshRateLimit,
    loginRateLimit,
    refreshGraceLimit,
    verifyCacheMax: cache === false ? 0 : cache.max,
    maxTokenLength,
  };
}
