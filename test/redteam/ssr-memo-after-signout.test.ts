/**
 * Red team, `baton-auth/ssr`'s memo: a refresh's pair is remembered for `memoMs` under the old
 * refresh token, for late racers. A sign-out inside that window revoked the session at the engine,
 * but the memo still handed the revoked pair to anyone presenting the OLD refresh cookie (a request
 * already on its way, a second tab, or a thief who copied the cookie a moment earlier): Set-Cookie
 * of the signed-out session's tokens — the user signed back in after signing out, and, where the
 * app does not follow the revocation feed, `signed-in` for the access token's whole life.
 */
import { describe, expect, it } from 'vitest';
import { createServerSession } from 'baton-auth/ssr';
import { makeBaton } from '../support/baton.ts';

const authenticate = async (u: string, p: string) => (u === 'ada' && p === 'ada password 1' ? { userId: 'user-ada' } : null);
const jar = (setCookies: string[]): Record<string, string> =>
  Object.fromEntries(setCookies.map((s) => s.split(';')[0] as string).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const header = (c: Record<string, string>) =>
  Object.entries(c)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');

describe('the memo after a sign-out', () => {
  it('a refresh with a rotated-away cookie after sign-out hands back no token of the revoked session', async () => {
    const { baton, clock } = makeBaton({ accessTokenTtl: 60 });
    const session = createServerSession({ baton, authenticate, now: clock.now, cookies: { secure: false } });
    const first = header(jar((await session.signIn({ username: 'ada', password: 'ada password 1' })).setCookies));
    clock.advance(61_000);
    const rotated = await session.refresh(first);
    const second = jar(rotated.setCookies);
    expect(rotated.state.status).toBe('signed-in');
    // Two generations deep: the memo chain rt0 → rt1 → rt2 must be forgotten whole.
    clock.advance(61_000);
    const third = jar((await session.refresh(header(second))).setCookies);
    const out = await session.signOut(header(third));
    expect(out.revoked).toBe(true);
    for (const stale of [first, header(second)]) {
      const late = await session.refresh(stale);
      const set = jar(late.setCookies);
      expect(late.state.status).toBe('signed-out');
      expect([set.baton_at, set.baton_rt].filter((v) => v !== undefined && v !== '')).toEqual([]);
    }
  });
});
