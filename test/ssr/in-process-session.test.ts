/**
 * `baton-auth/ssr` with a `Baton` in this process: the same single flight and memo (counted from
 * the engine's events), the access token refreshed only near its end, `read` never refreshing, a
 * revoked session's reason, and what a sign-in needs.
 */
import { describe, expect, it } from 'vitest';
import { createServerSession } from 'baton-auth/ssr';
import { makeBaton } from '../support/baton.ts';

const authenticate = async (u: string, p: string) => (u === 'ada' && p === 'ada password 1' ? { userId: 'user-ada', scope: 'orders:read' } : null);
const jar = (setCookies: string[]): Record<string, string> =>
  Object.fromEntries(setCookies.map((s) => s.split(';')[0] as string).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const header = (c: Record<string, string>) =>
  Object.entries(c)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');

function setup() {
  const { baton, clock, events } = makeBaton({ accessTokenTtl: 60 });
  const session = createServerSession({ baton, authenticate, now: clock.now, refreshLeewaySec: 10, cookies: { secure: false } });
  const rotations = () => events.filter((e) => e.type === 'refresh.rotated').length;
  return { baton, clock, session, rotations };
}

describe('createServerSession with a Baton in process', () => {
  it('refreshes only within refreshLeewaySec of the end (at most a 25th of its life), once for 30 racing requests', async () => {
    const { clock, session, rotations } = setup();
    const signed = await session.signIn({ username: 'ada', password: 'ada password 1' });
    const cookies = header(jar(signed.setCookies));
    expect((await session.refresh(cookies)).setCookies).toEqual([]); // 60 s left
    clock.advance(45_000);
    expect((await session.refresh(cookies)).setCookies).toEqual([]); // 15 s left
    clock.advance(6_000); // 9 s left: within refreshLeewaySec, but past a 25th of the token's life (2.4 s of 60)
    expect((await session.refresh(cookies)).setCookies).toEqual([]);
    clock.advance(7_000); // 2 s left: within both
    const outcomes = await Promise.all(Array.from({ length: 30 }, () => session.refresh(cookies)));
    expect(rotations()).toBe(1);
    expect(new Set(outcomes.map((o) => jar(o.setCookies).baton_at)).size).toBe(1);
    expect(outcomes.every((o) => o.state.status === 'signed-in' && o.requestCookie?.includes(`baton_at=${jar(o.setCookies).baton_at}`))).toBe(true);
  });

  it('read() never refreshes, even past the end', async () => {
    const { clock, session, rotations } = setup();
    const cookies = header(jar((await session.signIn({ username: 'ada', password: 'ada password 1' })).setCookies));
    clock.advance(120_000);
    expect(await session.read(cookies)).toMatchObject({ status: 'signed-out' });
    expect(rotations()).toBe(0);
    const outcome = await session.refresh(cookies); // the proxy's path does
    expect([outcome.state.status, rotations()]).toEqual(['signed-in', 1]);
  });

  it("a revoked session reads as signed out with the engine's reason, and the refresh clears the cookies", async () => {
    const { baton, session } = setup();
    const signed = await session.signIn({ username: 'ada', password: 'ada password 1' });
    const cookies = header(jar(signed.setCookies));
    const sid = signed.state.status === 'signed-in' ? (signed.state.claims.sid as string) : '';
    await baton.revokeSession(sid, 'password_changed');
    expect(await session.read(cookies)).toMatchObject({ status: 'signed-out', reason: 'password_changed', description: 'The password changed.' });
    const outcome = await session.refresh(cookies);
    expect(outcome.state).toMatchObject({ status: 'signed-out', reason: 'password_changed' });
    expect(jar(outcome.setCookies)).toEqual({ baton_at: '', baton_rt: '', baton_end: 'password_changed' });
  });

  it('a reused refresh token ends the session with reason reused, and every cookie of it is cleared', async () => {
    const { baton, clock, session } = setup();
    const signed = await session.signIn({ username: 'ada', password: 'ada password 1' });
    const old = jar(signed.setCookies).baton_rt as string;
    await baton.refresh(old); // rotated elsewhere (another instance), past the grace window and the memo
    clock.advance(61_000);
    const outcome = await session.refresh(header({ baton_rt: old }));
    expect(outcome.state).toMatchObject({ status: 'signed-out', reason: 'reused' });
  });

  it('signIn without authenticate is a configuration error with a sentence; bad input a signed-out state', async () => {
    const { baton } = makeBaton();
    const bare = createServerSession({ baton });
    await expect(bare.signIn({ username: 'ada', password: 'x' })).rejects.toThrow(/authenticate/);
    const { session } = setup();
    expect((await session.signIn({ username: 'a'.repeat(300), password: 'x' })).state.status).toBe('signed-out');
    expect((await session.signIn({ username: 'ada', password: 'nope' })).setCookies).toEqual([]);
  });
});
