/**
 * `baton-auth/next`'s route handlers and server actions, with a `Baton` in process and Next's own
 * cookie store of an action: `session` and `token` refresh and answer `private, no-store`, `token`
 * and `signout` only for our own pages (Sec-Fetch-Site / Origin), `signIn`/`signOut` write the
 * cookies through `next/headers`' store, `withRefresh` and `route` refresh through the single flight.
 */
import { describe, expect, it } from 'vitest';
import { createBatonNext } from 'baton-auth/next';
import { makeBaton } from '../support/baton.ts';
import { actionCookies, header, jar } from './support.ts';

const ORIGIN = 'http://localhost:3001';
const authenticate = async (u: string, p: string) => (u === 'ada' && p === 'ada password 1' ? { userId: 'user-ada', scope: 'orders:read' } : null);

function app() {
  const { baton, clock, events } = makeBaton({ accessTokenTtl: 60 });
  let action = actionCookies(null);
  const next = createBatonNext({ baton, authenticate, now: clock.now, cookies: { secure: false }, cookieStore: async () => action.store });
  const rotations = () => events.filter((e) => e.type === 'refresh.rotated').length;
  /** A new request (a server action or route handler) with `cookie`. */
  const requestWith = (cookie: string | null) => (action = actionCookies(cookie));
  const signedIn = async () => header(jar((await next.core.signIn({ username: 'ada', password: 'ada password 1' })).setCookies));
  return { baton, clock, next, rotations, requestWith, written: () => action.setCookies(), signedIn };
}

const get = (path: string, cookie: string, headers: Record<string, string> = {}) =>
  new Request(`${ORIGIN}/api/auth/${path}`, { headers: { cookie, ...headers } });
const post = (path: string, cookie: string, headers: Record<string, string> = {}) =>
  new Request(`${ORIGIN}/api/auth/${path}`, { method: 'POST', headers: { cookie, ...headers } });

describe('route handlers', () => {
  it('GET session: refreshes an expired session, sets the cookies, answers the snapshot with private, no-store', async () => {
    const { clock, next, rotations, signedIn } = app();
    const cookie = await signedIn();
    clock.advance(61_000);
    const res = await next.handlers.GET(get('session', cookie));
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    expect(await res.json()).toEqual({ status: 'signed-in', sub: 'user-ada', scope: 'orders:read', expiresAt: expect.any(Number) });
    expect(Object.keys(jar(res.headers.getSetCookie()))).toEqual(['baton_at', 'baton_rt']);
    expect(rotations()).toBe(1);
    const none = await next.handlers.GET(get('session', ''));
    expect([none.headers.get('cache-control'), await none.json()]).toEqual([
      'private, no-store',
      { status: 'signed-out', reason: null, description: 'Not signed in.' },
    ]);
  });

  it('GET token: only for our own pages; the access token and its remaining life, no-store', async () => {
    const { next, signedIn } = app();
    const cookie = await signedIn();
    for (const h of [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      {},
      { origin: 'https://evil.example' },
      { 'sec-fetch-site': 'cross-site', origin: ORIGIN },
    ]) {
      const refused = await next.handlers.GET(get('token', cookie, h));
      expect([refused.status, refused.headers.get('cache-control')], JSON.stringify(h)).toEqual([403, 'private, no-store']);
      expect(await refused.text()).not.toContain('access_token');
    }
    for (const h of [{ 'sec-fetch-site': 'same-origin' }, { origin: ORIGIN }]) {
      const res = await next.handlers.GET(get('token', cookie, h));
      const body = (await res.json()) as { access_token: string; expires_in: number };
      expect([res.status, res.headers.get('cache-control'), body.expires_in]).toEqual([200, 'private, no-store', 60]);
      expect(cookie).toContain(`baton_at=${body.access_token}`);
    }
    const out = await next.handlers.GET(get('token', '', { 'sec-fetch-site': 'same-origin' }));
    expect([out.status, out.headers.get('www-authenticate')]).toEqual([401, 'Bearer error="invalid_token"']);
  });

  it('POST signout: refused from another site (the session lives on), from our pages revokes it and clears the cookies', async () => {
    const { next, signedIn } = app();
    const cookie = await signedIn();
    for (const h of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }, {}]) {
      const refused = await next.handlers.POST(post('signout', cookie, h));
      expect([refused.status, refused.headers.getSetCookie()]).toEqual([403, []]);
    }
    // The host the browser addressed counts as ours even when Next rebuilt request.url with another name; another host does not.
    const renamed = (origin: string, host: string) =>
      new Request('http://localhost:3001/api/auth/signout', { method: 'POST', headers: { cookie, origin, host } });
    expect((await next.handlers.POST(renamed('http://evil.example:3001', 'app.example:3001'))).status).toBe(403);
    expect((await next.core.read(cookie)).status).toBe('signed-in');
    const viaHost = await next.handlers.POST(renamed('http://127.0.0.1:3001', '127.0.0.1:3001'));
    expect(viaHost.status).toBe(200);
    const res = await next.handlers.POST(post('signout', cookie, { origin: ORIGIN }));
    expect([res.status, res.headers.get('cache-control')]).toEqual([200, 'private, no-store']);
    expect(jar(res.headers.getSetCookie())).toEqual({ baton_at: '', baton_rt: '', baton_end: 'logout' });
    expect(await next.core.read(cookie)).toMatchObject({ status: 'signed-out', reason: 'logout' });
  });

  it('unknown endpoints and paths outside basePath are 404', async () => {
    const { next } = app();
    expect((await next.handlers.GET(get('nothing', ''))).status).toBe(404);
    expect((await next.handlers.POST(post('session', ''))).status).toBe(404);
    expect((await next.handlers.GET(new Request(`${ORIGIN}/elsewhere/session`))).status).toBe(404);
  });

  it('route(): a handler of the app refreshes first, and its response carries the cookies and private, no-store', async () => {
    const { clock, next, rotations, signedIn } = app();
    const cookie = await signedIn();
    const handler = next.route(async (_req, state) =>
      Response.json({ who: state.status === 'signed-in' ? state.claims.sub : null }, { headers: { 'x-app': '1' } }),
    );
    clock.advance(61_000);
    const responses = await Promise.all(Array.from({ length: 10 }, () => handler(new Request(`${ORIGIN}/api/items`, { headers: { cookie } }))));
    expect(rotations()).toBe(1);
    for (const res of responses) {
      expect([await res.json(), res.headers.get('x-app'), res.headers.get('cache-control')]).toEqual([{ who: 'user-ada' }, '1', 'private, no-store']);
      expect(res.headers.getSetCookie()).toHaveLength(2);
    }
  });
});

describe('server actions', () => {
  it('signIn writes both cookies through Next’s store (HttpOnly, SameSite=Strict, Secure when asked); a wrong password writes none', async () => {
    const { next, requestWith, written } = app();
    requestWith(null);
    const form = new FormData();
    form.set('username', 'ada');
    form.set('password', 'wrong');
    expect(await next.signIn(form)).toMatchObject({ status: 'signed-out', description: 'Wrong username or password' });
    expect(written()).toEqual([]);
    form.set('password', 'ada password 1');
    expect((await next.signIn(form)).status).toBe('signed-in');
    const set = written();
    expect(Object.keys(jar(set))).toEqual(['baton_at', 'baton_rt', 'baton_end']);
    for (const s of set.slice(0, 2)) expect(s).toMatch(/Path=\/.*HttpOnly.*SameSite=strict/i);
    expect(await next.auth()).toMatchObject({ status: 'signed-in' }); // the action reads its own writes
  });

  it('withRefresh: an action without the proxy refreshes once and writes the cookies; auth() in it reads the new token', async () => {
    const { clock, next, rotations, requestWith, written, signedIn } = app();
    const cookie = await signedIn();
    clock.advance(120_000); // past the token's end and the verifier's leeway
    requestWith(cookie);
    expect((await next.auth()).status).toBe('signed-out'); // auth() alone never refreshes
    const sub = await next.withRefresh(async (state) => (state.status === 'signed-in' ? state.claims.sub : null));
    expect([sub, rotations(), Object.keys(jar(written()))]).toEqual(['user-ada', 1, ['baton_at', 'baton_rt']]);
    expect((await next.auth()).status).toBe('signed-in');
  });

  it('signOut revokes the session and clears the cookies through the store', async () => {
    const { next, requestWith, written, signedIn } = app();
    const cookie = await signedIn();
    requestWith(cookie);
    await next.signOut();
    expect(jar(written())).toEqual({ baton_at: '', baton_rt: '', baton_end: 'logout' });
    expect(await next.core.read(cookie)).toMatchObject({ status: 'signed-out', reason: 'logout' });
  });
});
