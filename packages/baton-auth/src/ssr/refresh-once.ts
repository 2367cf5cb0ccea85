/**
 * One refresh per refresh token in this process, however many requests present it: the first
 * starts it, the others wait for its result. The result is then remembered for a short while
 * (`memoMs`, within the service's grace window) under a hash of the old token, so that a request
 * that set out with the old cookie before the new one reached the browser gets the same pair — not
 * a second rotation, and never a reuse detection. Failures that end the session are remembered as
 * well; a transient failure is not (the next request tries again).
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { TokenPair } from '../core/baton.ts';
import { isBatonError } from '../core/errors.ts';
import type { BatonErrorCode } from '../core/errors.ts';

/** Codes by which the token service says the session is over (its `invalid_grant`). Every other failure keeps the session. */
// Typed by the error table, so that a code renamed there (ERR_SESSION_EXPIRED → ERR_SESSION_ENDED) fails to compile here.
const ENDS_SESSION: ReadonlySet<string> = new Set<BatonErrorCode>(['ERR_REFRESH_INVALID', 'ERR_REFRESH_REUSED', 'ERR_SESSION_ENDED', 'ERR_SESSION_REVOKED']);

/** Whether `err` ends the session (clear the cookies) rather than leaving it as it is (the service away, slow, misconfigured). */
export function endsSession(err: unknown): boolean {
  return isBatonError(err) && ENDS_SESSION.has(err.code);
}

/** Refreshed pairs remembered at most, by count. */
const MEMO_MAX = 10_000;

type Settled = { ok: true; pair: TokenPair } | { ok: false; error: unknown };

const keyOf = (refreshToken: string) => createHash('sha256').update(refreshToken).digest('base64url');

/** `refresh` made single-flight per token, with the memo; `forget` drops every remembered pair of a session being signed out. */
export function refreshOnce(
  refresh: (refreshToken: string) => Promise<TokenPair>,
  memoMs: number,
): { refresh: (refreshToken: string) => Promise<TokenPair>; forget: (refreshToken: string) => void } {
  const inflight = new Map<string, Promise<TokenPair>>();
  const memo = new LRUCache<string, Settled>({ max: MEMO_MAX, ttl: Math.max(1, memoMs), ttlAutopurge: false });
  // The key of the token each remembered pair's refresh token replaced: the chain back from the newest token.
  const replaced = new LRUCache<string, string>({ max: MEMO_MAX, ttl: Math.max(1, memoMs), ttlAutopurge: false });
  const run = (refreshToken: string): Promise<TokenPair> => {
    // Keyed by a hash: neither map holds the old refresh token itself.
    const key = keyOf(refreshToken);
    const known = memo.get(key);
    if (known !== undefined) return known.ok ? Promise.resolve(known.pair) : Promise.reject(known.error as Error);
    let pending = inflight.get(key);
    if (pending === undefined) {
      pending = refresh(refreshToken);
      inflight.set(key, pending);
      pending.then(
        (pair) => {
          // Never past the new access token's own end.
          const ttl = Math.max(1, Math.min(memoMs, pair.expires_in * 1000));
          memo.set(key, { ok: true, pair }, { ttl });
          replaced.set(keyOf(pair.refresh_token), key, { ttl });
          inflight.delete(key);
        },
        (error: unknown) => {
          if (endsSession(error)) memo.set(key, { ok: false, error });
          inflight.delete(key);
        },
      );
    }
    return pending;
  };
  // A sign-out revokes the session: no late racer with an older (or newer) cookie of it may be handed one of its pairs from here.
  const forget = (refreshToken: string): void => {
    const newest = keyOf(refreshToken);
    for (let k: string | undefined = newest; k !== undefined;) {
      const older = replaced.get(k);
      replaced.delete(k);
      if (older !== undefined) memo.delete(older);
      k = older;
    }
    for (let k: string | undefined = newest; k !== undefined;) {
      const known = memo.get(k);
      memo.delete(k);
      k = known?.ok === true ? keyOf(known.pair.refresh_token) : undefined;
    }
  };
  return { refresh: run, forget };
}
