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
import { startTestService } from '../support/service.ts';

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

describe('the memo after a sign-out, remote mode without the revocation feed', () => {
  it('an older refresh cookie after sign-out is not handed the revoked pair, which this app would verify as signed in', async () => {
    const service = await startTestService({}, { username: 'ada', password: 'ada password 1' });
    const session = createServerSession({ issuer: service.url, clientId: 'default' });
    try {
      const rt = (setCookies: string[]) => `__Host-baton_rt=${jar(setCookies)['__Host-baton_rt']}`;
      const first = rt((await session.signIn({ username: 'ada', password: 'ada password 1' })).setCookies);
      const second = rt((await session.refresh(first)).setCookies); // the access cookie left out: a refresh now
      const third = rt((await session.refresh(second)).setCookies);
      expect((await session.signOut(third)).revoked).toBe(true);
      for (const stale of [first, second]) {
        const late = await session.refresh(stale);
        expect([late.state.status, jar(late.setCookies)['__Host-baton_rt']]).toEqual(['signed-out', '']);
      }
    } finally {
      session.close();
      await service.stop();
    }
  });
});

describe('the memo of another instance after a sign-out', () => {
  it("instance B's remembered pair of a session signed out through instance A is not written back: B clears the cookies", async () => {
    const { baton, clock } = makeBaton({ accessTokenTtl: 60 });
    const [a, b] = [0, 1].map(() => createServerSession({ baton, authenticate, now: clock.now, cookies: { secure: false } }));
    const first = header(jar((await a!.signIn({ username: 'ada', password: 'ada password 1' })).setCookies));
    clock.advance(61_000);
    const [viaA] = await Promise.all([a!.refresh(first), b!.refresh(first)]); // both instances remember a pair for the first cookie
    expect((await a!.signOut(header(jar(viaA.setCookies)))).revoked).toBe(true);
    const late = await b!.refresh(first);
    const set = jar(late.setCookies);
    expect(late.state.status).toBe('signed-out');
    expect([set.baton_at, set.baton_rt]).toEqual(['', '']);
  });
});
