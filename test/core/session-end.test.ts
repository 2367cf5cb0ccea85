/**
 * Sessions say why they ended — to the holder of one of their tokens (a right MAC or signature)
 * and to no one else — and keep a history for the user and for support staff.
 */
import { describe, expect, it } from 'vitest';
import { ENDED_SESSIONS_PER_USER, SESSION_HISTORY_PAGE, isBatonError } from 'baton-auth';
import type { BatonError } from 'baton-auth';
import { makeBaton } from '../support/baton.ts';

const LAPTOP = { name: 'Firefox on Linux', ip: '203.0.113.5' };
const PHONE = { name: 'Chrome on Android', ip: '198.51.100.7' };

async function failure(promise: Promise<unknown>): Promise<BatonError> {
  try {
    await promise;
  } catch (err) {
    if (isBatonError(err)) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('why a session ended', () => {
  it('kicked: the refresh and the access token of the kicked device say by which session and device', async () => {
    const { baton, clock } = makeBaton();
    const laptop = await baton.login('u', { device: LAPTOP });
    const phone = await baton.login('u', { device: PHONE });
    clock.advance(1000);
    await baton.revokeSession(laptop.session_id, { reason: 'kicked', by: phone.session_id });
    const refused = await failure(baton.refresh(laptop.refresh_token));
    expect(refused.code).toBe('ERR_SESSION_ENDED');
    expect(refused.sessionEnd).toEqual({ reason: 'kicked', at: clock.ms, by: phone.session_id, byDevice: PHONE });
    const denied = await failure(baton.verify(laptop.access_token));
    expect(denied.code).toBe('ERR_SESSION_REVOKED');
    expect(denied.sessionEnd).toEqual({ reason: 'kicked', at: clock.ms, by: phone.session_id, byDevice: PHONE });
  });

  it('evicted: a single-session account names the new login and its device', async () => {
    const { baton } = makeBaton({ maxSessionsPerUser: 1 });
    const first = await baton.login('u', { device: LAPTOP });
    const second = await baton.login('u', { device: PHONE });
    expect((await failure(baton.refresh(first.refresh_token))).sessionEnd).toMatchObject({ reason: 'evicted', by: second.session_id, byDevice: PHONE });
  });

  it('reused: the generation presented, when it was retired, and from where; the holder of the newest token is told too', async () => {
    const { baton, clock } = makeBaton({ refreshGrace: '10s' });
    const first = await baton.login('u');
    const retiredAt = clock.ms;
    const next = await baton.refresh(first.refresh_token);
    clock.advance(11_000);
    const reuse = await failure(baton.refresh(first.refresh_token, { ip: '192.0.2.99' }));
    expect(reuse.code).toBe('ERR_REFRESH_REUSED');
    const expected = { reason: 'reused', at: clock.ms, generation: 0, retiredAt, ip: '192.0.2.99' };
    expect(reuse.sessionEnd).toEqual(expected);
    expect((await failure(baton.refresh(next.refresh_token))).sessionEnd).toEqual(expected);
  });

  it("idle_timeout and absolute_timeout, from the session's times", async () => {
    const idle = makeBaton({ refreshTokenTtl: '1h', sessionMaxAge: '2h' });
    const a = await idle.baton.login('u');
    idle.clock.advance(3_600_000 + 1);
    expect((await failure(idle.baton.refresh(a.refresh_token))).sessionEnd).toEqual({ reason: 'idle_timeout', at: idle.clock.ms - 1 });
    const absolute = makeBaton({ refreshTokenTtl: '1h', sessionMaxAge: '1h', accessTokenTtl: '1m' });
    let pair = await absolute.baton.login('u');
    const end = absolute.clock.ms + 3_600_000;
    for (let i = 0; i < 4; i++) {
      absolute.clock.advance(15 * 60_000);
      if (i < 3) pair = await absolute.baton.refresh(pair.refresh_token);
    }
    expect((await failure(absolute.baton.refresh(pair.refresh_token))).sessionEnd).toEqual({ reason: 'absolute_timeout', at: end });
  });

  it('logout_everywhere, password_changed and admin', async () => {
    const { baton } = makeBaton();
    const [a, b, c, d] = [await baton.login('u', { device: LAPTOP }), await baton.login('u'), await baton.login('v'), await baton.login('w')];
    await baton.revokeUserSessions('u', { except: a.session_id, reason: 'logout_everywhere', by: a.session_id });
    expect((await failure(baton.refresh(b.refresh_token))).sessionEnd).toMatchObject({ reason: 'logout_everywhere', by: a.session_id, byDevice: LAPTOP });
    await baton.passwordChanged('v');
    expect((await failure(baton.refresh(c.refresh_token))).sessionEnd).toMatchObject({ reason: 'password_changed' });
    await baton.revokeSession(d.session_id, 'admin');
    expect((await failure(baton.refresh(d.refresh_token))).sessionEnd).toMatchObject({ reason: 'admin' });
  });

  it('key_revoked: a refresh token minted by a key taken out of service', async () => {
    const { baton } = makeBaton();
    const pair = await baton.login('u');
    const kid = baton.keys.active('refresh')?.kid as string;
    await baton.revokeKey(kid);
    expect((await failure(baton.refresh(pair.refresh_token))).sessionEnd).toMatchObject({ reason: 'key_revoked' });
    await baton.refresh((await baton.login('u')).refresh_token); // new sessions refresh under the successor
  });

  it("is told only to a holder of one of the session's tokens: a forged MAC or another client learns nothing", async () => {
    const { baton } = makeBaton();
    const pair = await baton.login('u', { clientId: 'web' });
    await baton.revokeSession(pair.session_id, 'admin');
    const [prefix, gen, mac] = pair.refresh_token.split('.') as [string, string, string];
    const forged = `${prefix}.${gen}.${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}`;
    expect((await failure(baton.refresh(forged, { clientId: 'web' }))).sessionEnd).toBeUndefined();
    expect((await failure(baton.refresh(pair.refresh_token, { clientId: 'other' }))).sessionEnd).toBeUndefined();
    expect((await failure(baton.refresh(pair.refresh_token, { clientId: 'web' }))).sessionEnd).toMatchObject({ reason: 'admin' });
  });
});

describe('lineage and history', () => {
  it('refresh events carry the session, the generations and a fingerprint, never the token', async () => {
    const { baton, clock, events } = makeBaton({ refreshGrace: '10s' });
    const first = await baton.login('u');
    await baton.refresh(first.refresh_token);
    await baton.refresh(first.refresh_token);
    clock.advance(11_000);
    await failure(baton.refresh(first.refresh_token, { ip: '192.0.2.7' }));
    const refreshes = events.filter((e) => e.type.startsWith('refresh.'));
    expect(refreshes.map((e) => e.type)).toEqual(['refresh.rotated', 'refresh.grace', 'refresh.reused']);
    for (const e of refreshes) expect(e).toMatchObject({ sessionId: first.session_id, fingerprint: expect.stringMatching(/^[A-Za-z0-9_-]{16}$/) });
    expect(refreshes[2]).toMatchObject({ presentedGeneration: 0, ip: '192.0.2.7' });
    expect(JSON.stringify(events)).not.toContain(first.refresh_token.split('.')[2]);
  });

  it('sessionHistory: logins, rotation counts, grace answers and ends with who did it, newest first', async () => {
    const { baton, clock } = makeBaton();
    const laptop = await baton.login('u', { device: LAPTOP });
    clock.advance(1000);
    const phone = await baton.login('u', { device: PHONE });
    clock.advance(1000);
    const next = await baton.refresh(phone.refresh_token);
    await baton.refresh(phone.refresh_token); // a grace answer
    clock.advance(1000);
    await baton.refresh(next.refresh_token);
    clock.advance(1000);
    await baton.revokeSession(laptop.session_id, { reason: 'kicked', by: phone.session_id });
    const history = await baton.sessionHistory('u');
    expect(history.map((e) => [e.type, e.sessionId === phone.session_id ? 'phone' : 'laptop'])).toEqual([
      ['session.revoked', 'laptop'],
      ['refresh.rotated', 'phone'],
      ['refresh.grace', 'phone'],
      ['session.created', 'phone'],
      ['session.created', 'laptop'],
    ]);
    expect(history[0]).toMatchObject({ reason: 'kicked', by: phone.session_id, byDevice: PHONE, device: LAPTOP });
    expect(history[1]).toMatchObject({ count: 2 });
    expect(history[2]).toMatchObject({ count: 1 });
  });

  it('a single-session account logging in again and again keeps its 100 most recently ended sessions: a refresh of one of those is told why it ended, one of an older (deleted) session is a plain invalid_grant', async () => {
    const { baton, clock } = makeBaton({ maxSessionsPerUser: 1, loginRateLimit: false }); // 101 logins in 101 s: past the login budget
    const first = await baton.login('u', { device: LAPTOP });
    const later: string[] = [];
    for (let i = 0; i < ENDED_SESSIONS_PER_USER + 1; i++) {
      clock.advance(1000);
      later.push((await baton.login('u', { device: PHONE })).refresh_token);
    }
    const pruned = await failure(baton.refresh(first.refresh_token));
    expect(pruned.code).toBe('ERR_REFRESH_INVALID');
    expect(pruned.sessionEnd).toBeUndefined();
    const kept = await failure(baton.refresh(later.at(-2) as string));
    expect(kept.sessionEnd).toMatchObject({ reason: 'evicted', byDevice: PHONE });
    // The access token of the deleted session stays refused: the revocation log still holds its end.
    expect((await failure(baton.verify(first.access_token))).code).toBe('ERR_SESSION_REVOKED');
    // The history: the active session and the 100 ended ones, 50 sessions a page.
    const page = await baton.sessionHistoryPage('u');
    expect(new Set(page.events.map((e) => e.sessionId)).size).toBe(SESSION_HISTORY_PAGE);
    const rest = await baton.sessionHistoryPage('u', { before: page.next as string });
    const last = await baton.sessionHistoryPage('u', { before: rest.next as string });
    expect(new Set(last.events.map((e) => e.sessionId)).size).toBe(ENDED_SESSIONS_PER_USER + 1 - 2 * SESSION_HISTORY_PAGE);
    expect(last.next).toBeUndefined();
    await expect(baton.sessionHistoryPage('u', { before: 'not a cursor' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });
});
