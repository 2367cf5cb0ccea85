/**
 * Red team 2 (fixed): `remoteIssuer`'s default ledger of spent DPoP proofs was an LRU of a million
 * entries that forgot the oldest *unexpired* one to make room: a client flooding proofs signed with
 * its own key (a million in a proof's 5-minute life, 3,300 a second) pushed a captured proof's
 * `jti` out, and the capture was accepted again. Now a full ledger forgets only expired entries
 * and otherwise refuses (503), as every security cache must (fail closed).
 */
import { expect, it } from 'vitest';
import { memoryLedger } from '../../../packages/baton-auth/src/remote/proof-ledger.ts';

it('never forgets a spent proof still in force to make room: a full ledger refuses', async () => {
  let m = 0;
  const ledger = memoryLedger(3, () => m);
  const now = 1_000_000;
  expect(await ledger.consumeJti('captured', now + 300_000, now)).toBe(true);
  expect(await ledger.consumeJti('flood-1', now + 300_000, now)).toBe(true);
  expect(await ledger.consumeJti('flood-2', now + 300_000, now)).toBe(true);
  await expect(ledger.consumeJti('flood-3', now + 300_000, now)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
  expect(await ledger.consumeJti('captured', now + 300_000, now)).toBe(false); // the replay is still refused
  m += 300_001; // every proof's life is over: room again
  expect(await ledger.consumeJti('flood-3', now + 600_000, now + 300_000)).toBe(true);
  expect(await ledger.consumeJti('flood-3', now + 600_000, now + 300_000)).toBe(false);
});
