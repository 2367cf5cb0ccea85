/**
 * A user's budget of logins (#21 round 3, B1). Each login past `maxSessionsPerUser` evicts a
 * session, and each session can end in revocation events (its eviction or revocation, and up to
 * `TOKEN_REVOCATIONS_PER_SESSION` of its tokens) that every resource server following the feed
 * keeps until they expire: unbounded logins by one user would fill them all.
 *
 * Counted where every instance sees it: in the store's counters when it has them (the built-in
 * stores: one atomic operation, a fixed window), else in its one-time ledger (a token bucket of
 * `LEDGER_BURST` logins, then one per `windowMs / max`; a refused login costs that many reads).
 * Either way at most `2 · max` logins in any window, `max · (t / windowMs + 1)` in any time `t`.
 */
import { createHash } from 'node:crypto';
import { BatonError } from './errors.ts';
import type { Engine } from './engine.ts';
import type { TokenStore } from './store.ts';

/** Logins at once through the one-time ledger, where a refused one costs this many reads. */
const LEDGER_BURST = 10;

type Counters = { hitCounter(key: string, points: number, windowMs: number, now: number): Promise<{ count: number; resetAt: number }> };
export const hasCounters = (store: TokenStore): store is TokenStore & Counters => typeof (store as Partial<Counters>).hitCounter === 'function';

/** A user id as a counter or ledger key: a digest, the same length for any id, naming no one in the store. */
export const userKey = (userId: string): string => createHash('sha256').update(userId).digest('base64url');

/** Spends one of the user's logins; throws `ERR_RATE_LIMITED` (with when to come back) when none is left. */
export async function spendLogin(e: Engine, userId: string, now: number): Promise<void> {
  const limit = e.o.loginRateLimit;
  if (limit === undefined) return;
  const user = userKey(userId);
  const refuse = (retryAfterMs: number): never => {
    throw new BatonError('ERR_RATE_LIMITED', `too many logins of this user: at most ${limit.max} per ${Math.ceil(limit.windowMs / 1000)} s`, {
      retryAfterMs: Math.max(1, retryAfterMs),
      public: true,
    });
  };
  const store = e.store;
  if (hasCounters(store)) {
    const { count, resetAt } = await store.hitCounter(`baton-login:${user}`, 1, limit.windowMs, now);
    if (count > limit.max) refuse(resetAt - now);
    return;
  }
  const interval = Math.max(1, Math.floor(limit.windowMs / limit.max));
  const burst = Math.min(LEDGER_BURST, limit.max);
  const current = Math.floor(now / interval);
  for (let i = 0; i < burst; i++) {
    const slot = current - i;
    // '~' is not in a jti's alphabet (base64url); kept until it leaves the window, so never spent twice.
    if (await store.consumeJti(`~login:${user}:${slot}`, (slot + burst) * interval, now)) return;
  }
  refuse((current + 1) * interval - now);
}
