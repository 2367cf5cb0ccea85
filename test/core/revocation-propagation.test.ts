/**
 * Revocation propagation, as a property: every revocation reaches every follower, whatever the
 * interleaving. Followers are engines on one memory store (as instances on one Redis are): each
 * hears revocations through the store's publish/subscribe and, when it starts, reads the log
 * (`revocationsSince`) — a follower that starts while revocations are being written must miss
 * none of them. fast-check's scheduler chooses the order in which the commands start and their
 * awaits resume; at the end every follower refuses every revoked token (with why) and accepts
 * every other one.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateKey } from 'baton-auth';
import type { Baton, TokenPair } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { codeOf, makeBaton } from '../support/baton.ts';
import { ManualClock } from '../support/clock.ts';

type Command =
  | { op: 'login'; user: number; on: number }
  | { op: 'revokeSession'; target: number; on: number }
  | { op: 'revokeToken'; target: number; on: number }
  | { op: 'logout'; target: number; on: number }
  | { op: 'follow' };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ op: fc.constant('login' as const), user: fc.nat(2), on: fc.nat(7) }),
  fc.record({ op: fc.constant('revokeSession' as const), target: fc.nat(15), on: fc.nat(7) }),
  fc.record({ op: fc.constant('revokeToken' as const), target: fc.nat(15), on: fc.nat(7) }),
  fc.record({ op: fc.constant('logout' as const), target: fc.nat(15), on: fc.nat(7) }),
  fc.constant({ op: 'follow' as const }),
);

describe('revocation propagation', () => {
  it('every revoked session and token is refused by every follower, late ones included, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 25 }), fc.scheduler(), async (commands, s) => {
        const store = memoryStore();
        const clock = new ManualClock();
        const shared = {
          store,
          clock,
          keys: [generateKey('HS256', 'shared')],
          refreshTokenSecret: randomBytes(32),
          loginRateLimit: false as const,
          maxSessionsPerUser: 1000,
        };
        const followers: Baton[] = [makeBaton(shared).baton, makeBaton(shared).baton];
        const pairs: TokenPair[] = [];
        const revokedSessions = new Set<string>();
        const revokedTokens = new Set<string>();
        const pick = <T>(list: T[], i: number): T | undefined => list[i % Math.max(1, list.length)];

        const run = async (c: Command): Promise<void> => {
          if (c.op === 'follow') {
            const late = makeBaton(shared).baton;
            followers.push(late);
            await late.ready();
            return;
          }
          const on = pick(followers, c.on) as Baton;
          if (c.op === 'login') {
            pairs.push(await on.login(`user-${c.user}`));
            return;
          }
          const pair = pick(pairs, c.target);
          if (pair === undefined) return;
          if (c.op === 'revokeSession') {
            revokedSessions.add(pair.session_id); // before the call: a verify after it must refuse
            await on.revokeSession(pair.session_id);
          } else if (c.op === 'logout') {
            revokedSessions.add(pair.session_id);
            await on.revoke(pair.refresh_token); // RFC 7009: a refresh token ends its session
          } else {
            revokedTokens.add(pair.access_token);
            await on.revoke(pair.access_token); // one access token only
          }
        };
        const done = Promise.all(commands.map((c) => s.schedule(Promise.resolve(c.op)).then(() => run(c))));
        await s.waitAll(); // starts the commands in the order the scheduler chose
        await done;

        try {
          for (const [f, follower] of followers.entries()) {
            for (const pair of pairs) {
              const expected = revokedSessions.has(pair.session_id)
                ? 'ERR_SESSION_REVOKED'
                : revokedTokens.has(pair.access_token)
                  ? 'ERR_TOKEN_REVOKED'
                  : 'resolved';
              expect(await codeOf(follower.verify(pair.access_token)), `follower ${f}, session ${pair.session_id}`).toBe(expected);
            }
          }
        } finally {
          await Promise.all(followers.map((b) => b.close()));
        }
      }),
      { numRuns: 60 },
    );
  }, 60_000);
});
