/**
 * Protection of a password check against guessing: rate-limiter-flexible's documented login
 * protection (https://github.com/animir/node-rate-limiter-flexible/wiki/Overall-example#login-endpoint-protection).
 * Two counters of failures: consecutive ones per name and address (a success clears them), and all
 * of an address's per day. Before the password is checked both are only read: a refused attempt
 * writes nothing. A wrong password counts on both; a right one never counts.
 */
import { isIP, isIPv6 } from 'node:net';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { StoreRateLimiter } from './rate-limit.ts';
import { HttpError } from './respond.ts';
import type { TokenStore } from '../stores/types.ts';

/** Options of `createLoginProtection`. */
export interface LoginProtectionOptions {
  /** Where the counters live, shared by every instance on it. Default: this process's memory. */
  store?: TokenStore;
  /** Prefix of the counter keys: `<prefix>:pair:<name>|<address>`, `<prefix>:addr:<address>`. Default `login`. */
  keyPrefix?: string;
  /** After `max` consecutive failures of one name from one address, that pair is refused for `blockMs`. Default 10, 1 h; `false`: off. */
  failures?: { max: number; blockMs: number } | false;
  /** After `max` failures from one address within `windowMs`, the address is refused for `windowMs`. Default 100, 1 day; `false`: off. */
  failuresPerIp?: { max: number; windowMs: number } | false;
  /**
   * The clock the counters in `store` are measured on, in ms since the epoch. Default `Date.now`.
   * Without a store, rate-limiter-flexible's memory counters keep their own timers and clock.
   */
  now?: () => number;
}

/** One attempt, after `check`. */
export interface LoginAttempt {
  /** 0: go on and check the password. Otherwise refuse (429, `Retry-After`): nothing was written. */
  readonly retryAfterMs: number;
  /** Counts a wrong password; resolves to how long the pair or address is now refused, or 0. */
  failed(): Promise<number>;
  /** A right password: clears the pair's consecutive failures (writes only if there were some). */
  succeeded(): Promise<void>;
}

/** What the HTTP handler calls around a password (or client secret) check. */
export interface LoginProtection {
  check(name: string, ip: string): Promise<LoginAttempt>;
}

const DAY_MS = 86_400_000;
// The wiki keeps consecutive failures for 90 days since the first. RateLimiterMemory expires keys
// with setTimeout, which cannot wait longer than 2^31 - 1 ms (24.8 days).
const PAIR_WINDOW_MS = 90 * DAY_MS;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** An address as one spelling: IPv4-mapped IPv6 as IPv4, IPv6 compressed and lower-case. */
export function canonicalAddress(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1] as string;
  return isIPv6(ip) ? new URL(`http://[${ip}]`).hostname.slice(1, -1) : ip;
}

// Lone surrogates (possible in JSON) would make encodeURIComponent throw.
const nameId = (name: string): string => encodeURIComponent(name.slice(0, 256).toWellFormed());
const addressId = (ip: string): string => encodeURIComponent(canonicalAddress(ip).slice(0, 64).toWellFormed());

/** The shapes of the counter keys, for `baton limits reset`. */
export const counterKeys = {
  /** Keys of the name's pairs (of every pair without a name) start with this. */
  pairs: (prefix: string, name?: string): string => `${prefix}:pair:${name === undefined ? '' : `${nameId(name)}|`}`,
  /** Keys of the pairs with this address end with this. */
  pairsEnding: (ip: string): string => `|${addressId(ip)}`,
  address: (prefix: string, ip: string): string => `${prefix}:addr:${addressId(ip)}`,
};

/** How long `res` says its key is refused, or 0. */
const refusedFor = (limiter: RateLimiterAbstract, res: RateLimiterRes | null): number =>
  res !== null && res.consumedPoints > limiter.points ? Math.max(res.msBeforeNext, 1) : 0;

/** Creates the protection; with `store`, its counters are shared through the store. */
export function createLoginProtection(options: LoginProtectionOptions = {}): LoginProtection {
  const prefix = options.keyPrefix ?? 'login';
  const failures = options.failures ?? { max: 10, blockMs: 3_600_000 };
  const perIp = options.failuresPerIp ?? { max: 100, windowMs: DAY_MS };
  const limiter = (keyPrefix: string, max: number, windowMs: number, blockMs: number): RateLimiterAbstract => {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`${keyPrefix}: at least one failure must be allowed, got ${max}.`);
    // rate-limiter-flexible blocks on the consume that exceeds `points`: the max-th failure blocks.
    const shape = { keyPrefix, points: max - 1, blockDuration: blockMs / 1000 };
    return options.store
      ? new StoreRateLimiter({ store: options.store, ...shape, duration: windowMs / 1000, ...(options.now ? { now: options.now } : {}) })
      : new RateLimiterMemory({ ...shape, duration: Math.min(windowMs, MAX_TIMER_MS) / 1000 });
  };
  // rate-limiter-flexible joins its prefix and a key with ':', which gives counterKeys' shapes.
  const pair = failures ? limiter(`${prefix}:pair`, failures.max, PAIR_WINDOW_MS, failures.blockMs) : undefined;
  const address = perIp ? limiter(`${prefix}:addr`, perIp.max, perIp.windowMs, perIp.windowMs) : undefined;

  return {
    async check(name, ip) {
      const pairKey = `${nameId(name)}|${addressId(ip)}`;
      const addressKey = addressId(ip);
      const [pairRes, addressRes] = await Promise.all([pair?.get(pairKey) ?? null, address?.get(addressKey) ?? null]);
      const retryAfterMs = Math.max(pair ? refusedFor(pair, pairRes) : 0, address ? refusedFor(address, addressRes) : 0);
      return {
        retryAfterMs,
        async failed() {
          const results = await Promise.allSettled([pair?.consume(pairKey), address?.consume(addressKey)]);
          let blocked = 0;
          for (const result of results) {
            if (result.status === 'fulfilled') continue;
            // A RateLimiterRes means "over the limit"; anything else is the store failing.
            if (result.reason instanceof Error) throw result.reason;
            blocked = Math.max(blocked, (result.reason as RateLimiterRes).msBeforeNext, 1);
          }
          return blocked;
        },
        async succeeded() {
          // A store error here must not refuse a right password.
          if (pair && pairRes !== null && pairRes.consumedPoints > 0) await pair.delete(pairKey).catch(() => undefined);
        },
      };
    },
  };
}

/** The refusal of an attempt: 429 with `Retry-After` in seconds (RFC 6585 §4, RFC 9110 §10.2.3). */
export function tooManyAttempts(retryAfterMs: number): HttpError {
  return new HttpError(429, 'slow_down', 'Too many failed attempts; try again later', { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) });
}

/** The client id of an `Authorization: Basic` header (RFC 6749 §2.3.1), or '' (still counted per address). */
export function basicClientId(authorization: string | null): string {
  const match = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(authorization ?? '');
  const decoded = match ? Buffer.from(match[1] as string, 'base64').toString('utf8') : '';
  const id = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : '';
  try {
    return decodeURIComponent(id.replace(/\+/g, ' '));
  } catch {
    return id;
  }
}

/**
 * Deletes the failure counters of a name (its pairs, from every address) or of an address (its
 * count per period and its pairs); an address-shaped target is taken as both. Resolves to how many.
 * `now` is the clock the counters were written on (ms since the epoch; default `Date.now`): only
 * the counters still live at its time are found.
 */
export async function resetFailures(store: TokenStore, keyPrefix: string, target: string, now: () => number = Date.now): Promise<number> {
  const at = now();
  const keys = await store.counterKeys(counterKeys.pairs(keyPrefix, target), at);
  if (isIP(target) !== 0) {
    keys.push(counterKeys.address(keyPrefix, target));
    keys.push(...(await store.counterKeys(counterKeys.pairs(keyPrefix), at)).filter((key) => key.endsWith(counterKeys.pairsEnding(target))));
  }
  let deleted = 0;
  for (const key of new Set(keys)) if (await store.deleteCounter(key)) deleted++;
  return deleted;
}
