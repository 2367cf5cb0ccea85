/**
 * Protection of a password check against guessing: the login protection rate-limiter-flexible's wiki documents, on the store's counters
 * protection (https://github.com/animir/node-rate-limiter-flexible/wiki/Overall-example#login-endpoint-protection).
 * Two counters of failures: consecutive ones per name and address (a success clears them), and all
 * of an address's per day. An attempt from a pair or an address already refused is only read:
 * it writes nothing. Any other attempt is counted on both *before* the password is checked — so a
 * burst of parallel guesses cannot all pass a read made before any of them failed — and a right
 * password gives its count back: successes never count. An IPv6 address counts as its /64, the
 * smallest network one host is given.
 */
import { isIP, isIPv6 } from 'node:net';
import { LRUCache } from 'lru-cache';
import { MAX_MEMORY_COUNTERS, memoryCounters, StoreRateLimiter } from './rate-limit.ts';
import type { RateLimitResult } from './rate-limit.ts';
import { HttpError } from './respond.ts';
import type { CounterStore } from '../core/counter-store.ts';
import { BatonConfigError } from '../core/errors.ts';

/** Options of `createLoginProtection`. */
export interface LoginProtectionOptions {
  /** Where the counters live, shared by every instance on it. Default: this process's memory. */
  store?: CounterStore;
  /** Prefix of the counter keys: `<prefix>:pair:<name>|<address>`, `<prefix>:addr:<address>`. Default `login`. */
  keyPrefix?: string;
  /** After `max` consecutive failures of one name from one address, that pair is refused for `blockMs`. Default 10, 1 h; `false`: off. */
  failures?: { max: number; blockMs: number } | false;
  /** After `max` failures from one address within `windowMs`, the address is refused for `windowMs`. Default 100, 1 day; `false`: off. */
  failuresPerIp?: { max: number; windowMs: number } | false;
  /**
   * The clock the counters in `store` are measured on, in ms since the epoch. Default `Date.now`.
   * Without a store, the counters are kept in this process's memory, on this clock too.
   */
  now?: () => number;
  /**
   * How long `peek` trusts a read that found a pair clean (no block, no failure counted), in ms on
   * `now`. Default 1000; 0: every `peek` reads. An attempt (`check`), a failure or a refusal
   * counted by this process forgets every clean read at once; one counted by another process on
   * the same store reaches this one's `peek` within this time. Bounded to 10,000 pairs (a pair
   * dropped is read again).
   */
  peekCacheMs?: number;
}

/** One attempt, after `check`. */
export interface LoginAttempt {
  /** 0: go on and check the password (the attempt is counted). Otherwise refuse (429, `Retry-After`). */
  readonly retryAfterMs: number;
  /** A wrong password: it stays counted. Resolves to how long the pair or address is now refused, or 0. */
  failed(): Promise<number>;
  /** A right password: gives the attempt's count back and clears the pair's consecutive failures. */
  succeeded(): Promise<void>;
}

/** What the HTTP handler calls around a password (or client secret) check. */
export interface LoginProtection {
  check(name: string, ip: string): Promise<LoginAttempt>;
  /**
   * Reads only, counts nothing: how long `name` from `ip` is refused now (ms, or 0), and how many
   * consecutive failures of the pair are counted (a success must take `check` to clear them).
   * A pair found clean is not read again for `peekCacheMs` while this process counts no attempt.
   */
  peek?(name: string, ip: string): Promise<{ retryAfterMs: number; failures: number }>;
}

const DAY_MS = 86_400_000;
// rate-limiter-flexible's wiki keeps consecutive failures for 90 days since the first.
const PAIR_WINDOW_MS = 90 * DAY_MS;

/**
 * An address as one spelling: IPv4-mapped IPv6 (in either notation) as IPv4, IPv6 compressed and
 * lower-case without its zone index. Anything that is not an address is returned as it is.
 */
export function canonicalAddress(ip: string): string {
  const bare = ip.replace(/%.*$/, '');
  if (!isIPv6(bare)) return ip;
  const host = new URL(`http://[${bare}]`).hostname.slice(1, -1); // ::ffff:1.2.3.4 comes out as ::ffff:102:304
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped === null) return host;
  const [hi, lo] = [parseInt(mapped[1] as string, 16), parseInt(mapped[2] as string, 16)];
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** The address a budget of failures belongs to: an IPv4 address, or the /64 network of an IPv6 one. */
export function budgetAddress(ip: string): string {
  const address = canonicalAddress(ip);
  if (!isIPv6(address)) return address;
  const [left = '', right = ''] = address.split('::');
  const head = left === '' ? [] : left.split(':');
  const tail = right === '' ? [] : right.split(':');
  const groups = address.includes('::') ? [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail] : head;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

// Lone surrogates (possible in JSON) would make encodeURIComponent throw.
const nameId = (name: string): string => encodeURIComponent(name.slice(0, 256).toWellFormed());
const addressId = (ip: string): string => encodeURIComponent(budgetAddress(ip).slice(0, 64).toWellFormed());

/** The shapes of the counter keys, for `baton limits reset`. */
export const counterKeys = {
  /** Keys of the name's pairs (of every pair without a name) start with this. */
  pairs: (prefix: string, name?: string): string => `${prefix}:pair:${name === undefined ? '' : `${nameId(name)}|`}`,
  /** Keys of the pairs with this address end with this. */
  pairsEnding: (ip: string): string => `|${addressId(ip)}`,
  address: (prefix: string, ip: string): string => `${prefix}:addr:${addressId(ip)}`,
};

/** How long `res` says its key is refused, or 0. */
const refusedFor = (limiter: StoreRateLimiter, res: RateLimitResult | null): number =>
  res !== null && res.consumedPoints > limiter.points ? Math.max(res.msBeforeNext, 1) : 0;

/** A limiter of failures over `counters`: `max` in `windowMs`, then refused for `blockMs`. */
function failureLimiter(
  counters: Pick<CounterStore, 'hitCounter' | 'getCounter' | 'getCounters' | 'deleteCounter'>,
  now: (() => number) | undefined,
  keyPrefix: string,
  max: number,
  windowMs: number,
  blockMs: number,
): StoreRateLimiter {
  if (!Number.isInteger(max) || max < 1) throw new BatonConfigError(`${keyPrefix}: at least one failure must be allowed, got ${max}.`);
  for (const ms of [windowMs, blockMs])
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0)
      throw new BatonConfigError(`${keyPrefix}: a window or block must be a number of milliseconds above 0, got ${ms}.`);
  // The limiter blocks on the consume that exceeds `points`: after `max` failures, the next attempt.
  return new StoreRateLimiter({ store: counters, keyPrefix, points: max, blockDuration: blockMs / 1000, duration: windowMs / 1000, ...(now ? { now } : {}) });
}

/**
 * Counts one attempt on each limiter. Resolves to how long it is refused when it crossed a limit
 * (a burst running past a block set meanwhile), else 0, with each limiter's count.
 */
async function count(targets: [StoreRateLimiter, string][]): Promise<{ refused: number; counts: number[] }> {
  const results = await Promise.allSettled(targets.map(([limiter, key]) => limiter.consume(key)));
  let refused = 0;
  const counts: number[] = [];
  for (const result of results) {
    if (result.status === 'fulfilled') {
      counts.push(result.value.consumedPoints);
      continue;
    }
    // A limiter's answer means "over the limit"; anything else is the store failing.
    if (result.reason instanceof Error) throw result.reason;
    refused = Math.max(refused, (result.reason as RateLimitResult).msBeforeNext, 1);
    counts.push((result.reason as RateLimitResult).consumedPoints);
  }
  return { refused, counts };
}

type Peeked = { retryAfterMs: number; failures: number };

/** How long `targets` refuse now, and the consecutive failures counted on `pair` (its key in `targets`): reads only. */
async function peekAt(targets: [StoreRateLimiter, string][], pair: StoreRateLimiter | undefined): Promise<Peeked> {
  const seen = await StoreRateLimiter.getAll(targets);
  const retryAfterMs = Math.max(0, ...targets.map(([limiter], i) => refusedFor(limiter, seen[i] ?? null)));
  const i = targets.findIndex(([limiter]) => limiter === pair);
  return { retryAfterMs, failures: i < 0 ? 0 : Math.max(0, seen[i]?.consumedPoints ?? 0) };
}

/** An attempt's counter keys, the address's parsed once: the pair's key ends with it. */
function keysOf(name: string, ip: string): { pairKey: string; addressKey: string } {
  const addressKey = addressId(ip);
  return { pairKey: `${nameId(name)}|${addressKey}`, addressKey };
}

/**
 * `read` behind a memory of the pairs it last found clean (no block, no failure): one is not read
 * again for `ms` on `clock`, until `forget` — called when this process starts counting an attempt
 * and on any failure or refusal — forgets them all. At most 10,000 pairs (a pair dropped is read
 * again). #26: a resource server introspecting on the SQLite file read two counters per request,
 * 12 % of its CPU time.
 */
function cleanReads(prefix: string, ms: number, clock: () => number, read: (name: string, ip: string) => Promise<Peeked>) {
  if (!Number.isFinite(ms) || ms < 0) throw new BatonConfigError(`${prefix}: peekCacheMs must be 0 or more milliseconds, got ${ms}.`);
  const clean = new LRUCache<string, { until: number; epoch: number }>({ max: 10_000 });
  let epoch = 0;
  const CLEAN = Promise.resolve(Object.freeze({ retryAfterMs: 0, failures: 0 }));
  const forget = (): void => void epoch++;
  return {
    peek(name: string, ip: string): Promise<Peeked> {
      const id = `${name.length}:${name}|${ip}`; // length-prefixed: no name and address make another's key
      const known = clean.get(id);
      const t = clock();
      // A clock stepped back past the read does not stretch it.
      if (known !== undefined && known.epoch === epoch && t < known.until && t >= known.until - ms) return CLEAN;
      const since = epoch;
      return read(name, ip).then((seen) => {
        if (ms > 0 && seen.retryAfterMs === 0 && seen.failures === 0 && since === epoch) clean.set(id, { until: t + ms, epoch: since });
        return seen;
      });
    },
    forget,
    /** Runs `write` (a block being set) with the clean reads forgotten before and after it: a read made meanwhile may predate the block. */
    forgetAround: <T>(write: () => Promise<T>): Promise<T> => (forget(), write().finally(forget)),
  };
}

/** Creates the protection; with `store`, its counters are shared through the store. */
export function createLoginProtection(options: LoginProtectionOptions = {}): LoginProtection {
  const prefix = options.keyPrefix ?? 'login';
  const failures = options.failures ?? { max: 10, blockMs: 3_600_000 };
  const perIp = options.failuresPerIp ?? { max: 100, windowMs: DAY_MS };
  // In memory, at the bound, a pair's failures below its limit may give way (memoryCounters):
  // never a block, never an address's count, which bounds what the pair's forgetting is worth.
  const pairKeys = `${prefix}:pair:`;
  const counters = options.store ?? memoryCounters(MAX_MEMORY_COUNTERS, (key, c) => failures !== false && key.startsWith(pairKeys) && c.count < failures.max);
  const limiter = (keyPrefix: string, max: number, windowMs: number, blockMs: number): StoreRateLimiter =>
    failureLimiter(counters, options.now, keyPrefix, max, windowMs, blockMs);
  // The limiter joins its prefix and a key with ':', which gives counterKeys' shapes.
  const pair = failures ? limiter(`${prefix}:pair`, failures.max, PAIR_WINDOW_MS, failures.blockMs) : undefined;
  const address = perIp ? limiter(`${prefix}:addr`, perIp.max, perIp.windowMs, perIp.windowMs) : undefined;

  const limiters = ({ pairKey, addressKey }: { pairKey: string; addressKey: string }): [StoreRateLimiter, string][] => [
    ...(pair ? [[pair, pairKey] as [StoreRateLimiter, string]] : []),
    ...(address ? [[address, addressKey] as [StoreRateLimiter, string]] : []),
  ];
  const clean = cleanReads(prefix, options.peekCacheMs ?? 1000, options.now ?? Date.now, (name, ip) => peekAt(limiters(keysOf(name, ip)), pair));
  return {
    peek: clean.peek,
    async check(name, ip) {
      // An attempt in flight (a guess): no clean read answers beside it, from before its block is read.
      clean.forget();
      const keys = keysOf(name, ip);
      const targets = limiters(keys);
      const blocked = (await peekAt(targets, pair)).retryAfterMs;
      // An address or pair refused already is only read: nothing more is counted.
      const { refused, counts } = blocked > 0 ? { refused: blocked, counts: [] } : await clean.forgetAround(() => count(targets));
      if (refused > 0) return { retryAfterMs: refused, failed: async () => 0, succeeded: async () => undefined };
      return {
        retryAfterMs: 0,
        // Counted already; the failure that reaches a limit sets the block at once (`StoreRateLimiter.block`).
        failed: () =>
          clean.forgetAround(async () => {
            let blocked = 0;
            for (const [i, [limiter, key]] of targets.entries()) {
              if ((counts[i] ?? 0) < limiter.points) continue;
              const ms = limiter === pair ? (failures as { blockMs: number }).blockMs : (perIp as { windowMs: number }).windowMs;
              await limiter.block(key, ms / 1000);
              blocked = Math.max(blocked, ms);
            }
            return blocked;
          }),
        async succeeded() {
          // The attempt's count comes back: the pair starts again, the address gets its point back
          // (its counter goes when nothing is left of it). A store error here must not refuse a right password.
          const back = async (): Promise<void> => {
            const key = keys.addressKey;
            const res = await address?.reward(key, 1);
            if (res !== undefined && res.consumedPoints <= 0) await address?.delete(key);
          };
          await Promise.all([pair?.delete(keys.pairKey), back()]).catch(() => undefined);
        },
      };
    },
  };
}

/** The refusal of an attempt: 429 with `Retry-After` in seconds (RFC 6585 §4, RFC 9110 §10.2.3). */
export function tooManyAttempts(retryAfterMs: number): HttpError {
  const seconds = Math.ceil(retryAfterMs / 1000);
  // How long, in words a person reads (the header says it in seconds), and the way out sooner.
  const wait = seconds < 90 ? `${seconds} seconds` : seconds < 5400 ? `${Math.round(seconds / 60)} minutes` : `${Math.round(seconds / 3600)} hours`;
  return new HttpError('ERR_RATE_LIMITED', `Too many failed attempts: try again in ${wait}, or ask whoever runs this service to lift the block sooner`, {
    headers: { 'retry-after': String(seconds) },
  });
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
export async function resetFailures(store: CounterStore, keyPrefix: string, target: string, now: () => number = Date.now): Promise<number> {
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
