/**
 * `remoteIssuer`'s default ledger of spent DPoP proof `jti`s (RFC 9449 §11.1), in this process's
 * memory: each kept until its proof could no longer be accepted. Bounded, and never by forgetting
 * one still in force — an ordinary client, signing proofs with its own key, could otherwise push a
 * captured proof's `jti` out and replay it: past `max` entries in force, proofs are refused with a
 * 503 until some expire (fail closed).
 */
import { monotonic } from '../core/clock.ts';
import { BatonError } from '../core/errors.ts';
import type { OneTimeLedger } from '../core/store.ts';

/** Spent `jti`s kept at most by default: a proof's life is 5 min, so 3,300 proofs a second to one instance. */
export const MAX_SPENT_PROOFS = 1_000_000;
/** A full ledger is scanned for expired entries at most this often (ms): a scan costs O(max). */
const PRUNE_EVERY_MS = 1000;

export function memoryLedger(max = MAX_SPENT_PROOFS, clock: () => number = monotonic): Pick<OneTimeLedger, 'consumeJti'> {
  const spent = new Map<string, number>(); // jti → until, on the monotonic clock
  let nextPrune = Number.NEGATIVE_INFINITY;
  const prune = (m: number): void => {
    if (m < nextPrune) return;
    nextPrune = m + PRUNE_EVERY_MS;
    for (const [jti, until] of spent) if (until <= m) spent.delete(jti);
  };
  return {
    consumeJti: async (jti, expiresAt, now) => {
      const m = clock();
      const until = spent.get(jti);
      if (until !== undefined && until > m) return false;
      if (until === undefined && spent.size >= max) prune(m);
      if (until === undefined && spent.size >= max) {
        throw new BatonError(
          'ERR_STORE_UNAVAILABLE',
          `this verifier holds ${max} DPoP proofs spent and still in force: proofs are refused until some expire (give remoteIssuer a shared dpop.ledger)`,
        );
      }
      spent.set(jti, m + Math.max(1, expiresAt - now));
      return true;
    },
  };
}
