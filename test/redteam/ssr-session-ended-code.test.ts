/**
 * Red team, `baton-auth/ssr` in-process mode: which engine errors end a session. The engine says
 * `ERR_SESSION_ENDED` (#23 renamed it from `ERR_SESSION_EXPIRED`) for a refresh token whose session
 * passed its idle or absolute end; the list of codes that clear the cookies still named the old code,
 * so such a session was `unavailable` ("you are still signed in, try again") for good: its cookies
 * kept, and every request of the user another refresh attempt at the engine, never remembered.
 */
import { describe, expect, it } from 'vitest';
import { createServerSession } from 'baton-auth/ssr';
import { makeBaton } from '../support/baton.ts';

const authenticate = async (u: string, p: string) => (u === 'ada' && p === 'ada password 1' ? { userId: 'user-ada' } : null);
const header = (setCookies: string[]) => setCookies.map((s) => s.split(';')[0]).join('; ');

describe('a session past its end, in process', () => {
  it('is signed out and its cookies cleared, not unavailable; the answer is remembered', async () => {
    const { baton, clock, events } = makeBaton({ accessTokenTtl: 60, refreshTokenTtl: 120, sessionMaxAge: 300 });
    const session = createServerSession({ baton, authenticate, now: clock.now, cookies: { secure: false } });
    const cookie = header((await session.signIn({ username: 'ada', password: 'ada password 1' })).setCookies);
    clock.advance(400_000); // past the refresh token's life and the session's
    const outcome = await session.refresh(cookie);
    expect(outcome.state.status).toBe('signed-out');
    expect(outcome.setCookies.filter((s) => /^baton_(at|rt)=;/.test(s))).toHaveLength(2);
    const attempts = events.length;
    await Promise.all(Array.from({ length: 20 }, () => session.refresh(cookie)));
    expect(events.length - attempts).toBeLessThanOrEqual(1);
  });
});
