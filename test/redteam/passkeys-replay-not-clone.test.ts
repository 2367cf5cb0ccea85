/**
 * Red team (passkeys, audit): the same answer posted again with its state — a retry after a lost
 * response, a double submission, a replay — was checked for its counter before its challenge was
 * found spent: with an authenticator that counts (a security key, Windows Hello), the counter had
 * not grown, so it was refused as a clone and `passkey.cloned` recorded for a passkey that was never
 * copied (an alarm an operator acts on: the user's key is then distrusted). Fixed: the challenge is
 * spent before the counter is read, so the same answer again is "already used"; a real clone (its
 * own fresh challenge, an older counter) is still refused and recorded.
 */
import { describe, expect, it } from 'vitest';
import { passkeysHarness } from './passkeys-harness.ts';

describe('red team: an answer posted twice', () => {
  it('is "already used", not a clone', async () => {
    const t = passkeysHarness();
    const key = t.authenticator();
    await t.register(key);
    const { options, state } = await t.passkeys.signInOptions();
    const answer = key.signIn(options, { counter: 3 });
    expect((await t.passkeys.signIn(answer, state)).userId).toBe('usr_alice');
    await expect(t.passkeys.signIn(answer, state)).rejects.toThrow(/already used/);
    expect(t.audit.filter((e) => e.type === 'passkey.cloned')).toEqual([]);
    // A copy answering its own challenge with an older counter is still a clone.
    await expect(t.signIn(key, { counter: 2 })).rejects.toThrow(/counter went backwards/);
    expect(t.audit.filter((e) => e.type === 'passkey.cloned')).toHaveLength(1);
  });
});
