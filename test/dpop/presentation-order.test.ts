/**
 * Red team 2 (fixed): at a resource server, a proof by another key than the one the token is
 * bound to (a stolen token, without its key) had its signature checked before its key was
 * compared with the token's `cnf.jkt` — one signature check per request for a proof the attacker
 * signs once and sends again and again (refused before its `jti` is spent). The comparison costs
 * nothing and now comes first (RFC 9449 §4.3: every cheap check before the signature; §7.1).
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { DpopVerifier } from '../../packages/baton-auth/src/dpop/proof.ts';
import { dpopKey, dpopProof } from '../support/dpop.ts';

const URL_ = 'https://auth.test/orders';

it("refuses a proof by another key than the token's without checking its signature", async () => {
  const baton = createBaton({ issuer: 'https://auth.test', keys: [generateKey('ES256', 'k')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
  const owner = await dpopKey();
  const thief = await dpopKey();
  const token = (await baton.login('u', { jkt: owner.jkt })).access_token;
  const stolenUse = await dpopProof(thief, 'GET', URL_, { accessToken: token });
  const before = DpopVerifier.signaturesChecked;
  for (let i = 0; i < 3; i++) {
    await expect(baton.verify(token, { dpop: { proof: stolenUse, method: 'GET', url: URL_ } })).rejects.toMatchObject({ code: 'ERR_DPOP_INVALID' });
  }
  expect(DpopVerifier.signaturesChecked - before).toBe(0);
  // The owner's proof is still checked, signature and all, and accepted.
  const own = await dpopProof(owner, 'GET', URL_, { accessToken: token });
  expect((await baton.verify(token, { dpop: { proof: own, method: 'GET', url: URL_ } })).sub).toBe('u');
  expect(DpopVerifier.signaturesChecked - before).toBe(1);
});
