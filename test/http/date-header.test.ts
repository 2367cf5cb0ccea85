/**
 * Every answer of the handler is dated on the engine's clock (RFC 9110 §6.6.1, an IMF-fixdate),
 * not the wall clock: clients that time DPoP proofs by it keep agreeing with the service through a
 * step of the wall clock. The text is formatted once a second (#26); for any sequence of clock
 * moves, each answer's Date is the engine's second at that answer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { makeBaton } from '../support/baton.ts';

describe('the Date header', () => {
  it("for any moves of the engine's clock (back, forward, within a second), each answer is dated at the engine's second", async () => {
    const { baton, clock } = makeBaton();
    const handler = createAuthHandler({ baton, authenticate: async () => null, clients: staticClients([{ id: 'default' }]) });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: -3_600_000, max: 3_600_000 }), { minLength: 1, maxLength: 30 }), async (moves) => {
        for (const move of moves) {
          clock.advance(move);
          const res = await handler(new Request('https://auth.test/.well-known/jwks.json'));
          expect(res.headers.get('date')).toBe(new Date(Math.floor(clock.ms / 1000) * 1000).toUTCString());
        }
      }),
      { numRuns: 30 },
    );
  });
});
