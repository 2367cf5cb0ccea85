/**
 * Over HTTP, a session's end is told as an RFC 6749 §5.2 extension member, `session_end`, to a
 * request that proves it holds one of the session's tokens; the user reads their own history.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';

const ISSUER = 'https://auth.test';

function setup() {
  const clock = { ms: Date.now() };
  const baton = createBaton({
    issuer: ISSUER,
    keys: [generateKey('HS256', 'k')],
    refreshTokenSecret: randomBytes(32),
    store: memoryStore(),
    now: () => clock.ms,
    loginRateLimit: false,
  }); // the history tests log one user in 60 times at once
  const handler = createAuthHandler({ baton, authenticate: async (u, p) => (p === 'pw' ? { userId: u } : null) });
  const call = (path: string, init: RequestInit, ua = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0', ip = '203.0.113.5') =>
    handler(new Request(`${ISSUER}${path}`, { ...init, headers: { 'user-agent': ua, ...(init.headers as Record<string, string>) } }), { ip });
  const form = (fields: Record<string, string>) => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
  const login = async (ua?: string) =>
    (await (await call('/auth/login', form({ username: 'alice', password: 'pw' }), ua)).json()) as {
      access_token: string;
      refresh_token: string;
      session_id: string;
    };
  const bearer = (token: string, method = 'GET') => ({ method, headers: { authorization: `Bearer ${token}` } });
  return { call, form, login, bearer, clock, baton };
}

describe('session_end over HTTP', () => {
  it("a kicked device's refresh gets invalid_grant with session_end naming the session and device that kicked it", async () => {
    const { call, form, login, bearer } = setup();
    const laptop = await login();
    const phone = await login('Mozilla/5.0 (Linux; Android 15) Chrome/140.0 Mobile');
    expect((await call(`/auth/sessions/${laptop.session_id}`, bearer(phone.access_token, 'DELETE'))).status).toBe(204);
    const res = await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: laptop.refresh_token }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: 'invalid_grant',
      session_end: {
        reason: 'kicked',
        at: expect.any(Number),
        by: { session_id: phone.session_id, device: { userAgent: expect.stringMatching(/Android/), ip: '203.0.113.5' } },
      },
    });
  });

  it('a forged refresh token for the same session gets the plain invalid_grant', async () => {
    const { call, form, login, bearer } = setup();
    const pair = await login();
    await call('/auth/logout', bearer(pair.access_token, 'POST'));
    const [prefix, gen] = pair.refresh_token.split('.') as [string, string];
    const res = await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: `${prefix}.${gen}.${'A'.repeat(43)}` }));
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.error).toBe('invalid_grant');
    expect(body).not.toHaveProperty('session_end');
    const own = (await (await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }))).json()) as Record<
      string,
      unknown
    >;
    expect(own.session_end).toMatchObject({ reason: 'logout' });
  });

  it('a reuse says which generation, when it was retired and from where', async () => {
    const { call, form, login, clock } = setup();
    const pair = await login();
    const retiredAt = clock.ms;
    await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }));
    clock.ms += 11_000; // past the grace window
    const res = await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }), undefined, '192.0.2.66');
    expect(await res.json()).toMatchObject({
      error: 'invalid_grant',
      session_end: { reason: 'reused', at: clock.ms, generation: 0, retired_at: retiredAt, ip: '192.0.2.66' },
    });
  });

  it("GET /auth/sessions/history: the user's own events, with who ended what", async () => {
    const { call, login, bearer, clock } = setup();
    const laptop = await login();
    clock.ms += 1000;
    const phone = await login();
    clock.ms += 1000;
    await call('/auth/logout', {
      ...bearer(phone.access_token, 'POST'),
      headers: { authorization: `Bearer ${phone.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'others' }),
    });
    const res = await call('/auth/sessions/history', bearer(phone.access_token));
    const { events } = (await res.json()) as { events: { type: string; session_id: string; reason?: string; by?: { session_id: string }; current: boolean }[] };
    expect(events[0]).toMatchObject({
      type: 'session.revoked',
      session_id: laptop.session_id,
      reason: 'logout_everywhere',
      by: { session_id: phone.session_id },
      current: false,
    });
    expect(
      events
        .filter((e) => e.type === 'session.created')
        .map((e) => e.current)
        .sort(),
    ).toEqual([false, true]);
    expect((await call('/auth/sessions/history', { method: 'GET' })).status).toBe(401);
  });

  it('GET /auth/sessions/history comes in pages of 50 sessions: next, then ?before=next for the older ones; a malformed cursor is 400 invalid_request', async () => {
    const { call, login, bearer, clock, baton } = setup();
    const ids: string[] = [];
    for (let i = 0; i < 59; i++) {
      ids.push((await baton.login('alice')).session_id);
      clock.ms += 1;
    }
    const current = await login();
    ids.push(current.session_id);
    const read = async (query: string) => {
      const res = await call(`/auth/sessions/history${query}`, bearer(current.access_token));
      expect(res.status).toBe(200);
      return (await res.json()) as { next?: string; events: { type: string; session_id: string }[] };
    };
    const sessionsOf = (page: { events: { type: string; session_id: string }[] }) =>
      page.events.filter((e) => e.type === 'session.created').map((e) => e.session_id);
    const first = await read('');
    expect(sessionsOf(first)).toEqual(ids.slice(10).reverse());
    expect(first.next).toMatch(/^\d+\.[A-Za-z0-9_-]+$/);
    const second = await read(`?before=${encodeURIComponent(first.next as string)}`);
    expect(sessionsOf(second)).toEqual(ids.slice(0, 10).reverse());
    expect(second).not.toHaveProperty('next');
    for (const bad of ['x', '1.', '.abc', `${'9'.repeat(17)}.abc`, '1.a b']) {
      const res = await call(`/auth/sessions/history?before=${encodeURIComponent(bad)}`, bearer(current.access_token));
      expect(res.status, bad).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/before must be the `next` cursor/) });
    }
  });
});
