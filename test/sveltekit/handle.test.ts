/**
 * `baton-auth/sveltekit` in process: the handle, the helpers and the endpoints on SvelteKit's own
 * request shape (a real `Request`, SvelteKit's runtime `cookies`, `resolve` writing the cookies as
 * its server does) over an in-process `Baton`. One refresh however many requests arrive with the
 * same cookies, the new cookies on every response with `Cache-Control: private, no-store`, the
 * render's own fetches reading the new token, `locals` set, and the session's end told.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Baton } from 'baton-auth';
import { batonEndpoints, batonLoad, batonSignIn, batonSignOut, createBatonHandle } from 'baton-auth/sveltekit';
import type { BatonHandle } from 'baton-auth/sveltekit';
import { makeBaton } from '../support/baton.ts';
import type { ManualClock } from '../support/clock.ts';
import { cookieJar, serveKit, setCookies } from '../support/sveltekit.ts';
import type { Route } from '../support/sveltekit.ts';

const APP = 'http://127.0.0.1:5173';
const PASSWORD = 'correct horse battery';

/** A Baton with 60-second access tokens, the handle on it (plain-http cookies: `baton_at`, `baton_rt`), and a signed-in user's cookies. */
async function setup(): Promise<{ baton: Baton; clock: ManualClock; handle: BatonHandle; rotations: () => number; cookie: string }> {
  const { baton, clock, events } = makeBaton({ accessTokenTtl: 60 });
  const handle = createBatonHandle({
    baton,
    now: clock.now,
    cookies: { secure: false },
    authenticate: async (username, password) => (username === 'alice' && password === PASSWORD ? { userId: 'usr_alice' } : null),
  });
  const { response } = await serveKit(handle, signInRequest(), async (event) => {
    await batonSignIn(event);
    return new Response(null, { status: 303, headers: { location: '/' } });
  });
  return { baton, clock, handle, rotations: () => events.filter((e) => e.type === 'refresh.rotated').length, cookie: cookieJar(null, response) };
}

function signInRequest(password = PASSWORD): Request {
  const body = new URLSearchParams({ username: 'alice', password });
  return new Request(`${APP}/login`, { method: 'POST', body, headers: { origin: APP } });
}

const get = (path: string, cookie: string | null, headers: Record<string, string> = {}) =>
  new Request(`${APP}${path}`, { headers: { ...(cookie === null ? {} : { cookie }), ...headers } });

/** A route that answers what the handle left in `locals`. */
const echo: Route = (event) =>
  Response.json({
    status: event.locals.baton.state.status,
    token: event.locals.baton.state.status === 'signed-in' ? event.locals.baton.state.accessToken : null,
  });

const cacheControl = (r: Response) => r.headers.get('cache-control');

describe('createBatonHandle', () => {
  it('signs in from a form action: both cookies on the redirect, private, no-store; locals signed in', async () => {
    const { cookie } = await setup();
    expect(cookie).toMatch(/^baton_at=[^;]+; baton_rt=rt_/);
    const { handle } = await setup();
    const { response, event } = await serveKit(handle, signInRequest(), async (ev) => {
      await batonSignIn(ev);
      return new Response(null, { status: 303, headers: { location: '/' } });
    });
    const set = setCookies(response);
    for (const name of ['baton_at', 'baton_rt']) {
      const attributes = (set.get(name) ?? '').split('; ').slice(1).sort();
      expect(attributes, name).toEqual(expect.arrayContaining(['HttpOnly', 'Path=/', 'SameSite=Strict']));
      expect(attributes, name).not.toContain('Secure'); // plain http: SvelteKit's default Secure is not taken
    }
    expect(set.get('baton_at')).toContain('Max-Age=60');
    expect(cacheControl(response)).toBe('private, no-store');
    expect(event.locals.baton.state.status).toBe('signed-in');
    expect(JSON.stringify(batonLoad(event))).not.toContain('baton_rt');
  });

  it('a wrong password: signed out with the sentence, no cookie', async () => {
    const { handle } = await setup();
    const { response, event } = await serveKit(handle, signInRequest('wrong password!'), async (ev) => Response.json(await batonSignIn(ev)));
    expect(event.locals.baton.state).toMatchObject({ status: 'signed-out', description: 'Wrong username or password' });
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it('a valid access cookie: verified only, locals signed in, nothing set, and the per-user answer kept out of shared caches', async () => {
    const { handle, cookie, rotations } = await setup();
    const { response, event } = await serveKit(handle, get('/', cookie), echo);
    expect(event.locals.baton.state.status).toBe('signed-in');
    expect(batonLoad(event)).toMatchObject({ status: 'signed-in', sub: 'usr_alice' });
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(cacheControl(response)).toBe('private, no-store');
    expect(rotations()).toBe(0);
  });

  it('no cookie at all: signed out with no reason; the page may be shared, but only with requests without cookies (Vary: Cookie)', async () => {
    const { handle } = await setup();
    const { response, event } = await serveKit(handle, get('/', null), () => new Response('hello', { headers: { vary: 'Accept' } }));
    expect(event.locals.baton.state).toMatchObject({ status: 'signed-out', reason: null });
    expect(batonLoad(event)).toMatchObject({ status: 'signed-out', reason: null });
    expect(cacheControl(response)).toBeNull();
    expect(response.headers.get('vary')).toBe('Accept, Cookie');
  });

  it("a page that says why someone's session ended is theirs: private, no-store, though it sets no cookie", async () => {
    const { handle } = await setup();
    const { response, event } = await serveKit(handle, get('/', 'baton_end=admin'), () => new Response('Signed out: admin'));
    expect(event.locals.baton.state).toMatchObject({ status: 'signed-out', reason: 'admin' });
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(cacheControl(response)).toBe('private, no-store');
  });

  it('concurrent requests with the same expired access cookie refresh once: each answer carries the same new pair, private, no-store (property: any number of racers)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 30 }), async (racers) => {
        const { handle, clock, cookie, rotations } = await setup();
        clock.advance(61_000);
        const answers = await Promise.all(Array.from({ length: racers }, () => serveKit(handle, get('/', cookie), echo)));
        expect(rotations()).toBe(1);
        const pairs = new Set(answers.map(({ response }) => [...setCookies(response).values()].join('\n')));
        expect(pairs.size).toBe(1);
        for (const { response, event } of answers) {
          expect(cacheControl(response)).toBe('private, no-store');
          expect(setCookies(response).get('baton_rt')).not.toContain(cookie.split('baton_rt=')[1]);
          expect(event.locals.baton.state.status).toBe('signed-in');
        }
      }),
      { numRuns: 8 },
    );
  });

  it("a render's 20 parallel event.fetch calls to the app read the handle's new token: one rotation, no cookie from the sub-requests", async () => {
    const { handle, clock, cookie, rotations } = await setup();
    clock.advance(61_000);
    const subTokens: Array<string | null> = [];
    const subCookies: string[][] = [];
    const page: Route = async (event) => {
      if (event.isSubRequest) {
        const r = await echo(event);
        return r;
      }
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => event.fetch(`/api/items?part=${i}`)));
      for (const a of answers) {
        subCookies.push(a.headers.getSetCookie());
        subTokens.push(((await a.json()) as { token: string | null }).token);
      }
      return echo(event);
    };
    const { response, event } = await serveKit(handle, get('/', cookie), page);
    expect(rotations()).toBe(1);
    const token = event.locals.baton.state.status === 'signed-in' ? event.locals.baton.state.accessToken : 'none';
    expect(setCookies(response).get('baton_at')).toContain(token);
    expect(new Set(subTokens)).toEqual(new Set([token]));
    expect(subCookies.flat()).toEqual([]);
  });

  it('a revoked session: signed out with its reason, both cookies cleared, private, no-store; the next render still says why', async () => {
    const { baton, handle, cookie } = await setup();
    await baton.revokeUserSessions('usr_alice', { reason: 'admin' });
    const { response, event } = await serveKit(handle, get('/', cookie), echo);
    expect(event.locals.baton.state).toMatchObject({ status: 'signed-out', reason: 'admin' });
    expect(setCookies(response).get('baton_rt')).toMatch(/Max-Age=0/);
    expect(cacheControl(response)).toBe('private, no-store');
    const next = await serveKit(handle, get('/', cookieJar(cookie, response)), echo);
    expect(batonLoad(next.event)).toMatchObject({ status: 'signed-out', reason: 'admin' });
  });

  it("a cookie the app sets itself also gets private, no-store, over the route's own Cache-Control", async () => {
    const { handle } = await setup();
    const { response } = await serveKit(handle, get('/', null), (event) => {
      event.cookies.set('theme', 'dark', { path: '/' });
      return new Response('x', { headers: { 'cache-control': 'public, max-age=600' } });
    });
    expect(cacheControl(response)).toBe('private, no-store');
  });
});

describe('batonEndpoints and the helpers', () => {
  const { GET, POST } = batonEndpoints();
  const endpoint =
    (method: 'GET' | 'POST'): Route =>
    (event) =>
      method === 'GET' ? GET(event as never) : POST(event as never);

  it('GET /api/auth/session: the snapshot without any token, private, no-store', async () => {
    const { handle, cookie } = await setup();
    const { response } = await serveKit(handle, get('/api/auth/session', cookie), endpoint('GET'));
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 'signed-in', sub: 'usr_alice' });
    expect(JSON.stringify(body)).not.toMatch(/ey[A-Za-z0-9_-]{10,}|rt_/);
    expect(cacheControl(response)).toBe('private, no-store');
  });

  it("GET /api/auth/token: the access token for this origin's pages only", async () => {
    const { handle, cookie } = await setup();
    const same = await serveKit(handle, get('/api/auth/token', cookie, { 'sec-fetch-site': 'same-origin' }), endpoint('GET'));
    expect(same.response.status).toBe(200);
    const body = (await same.response.json()) as { access_token: string; expires_in: number };
    expect(body.expires_in).toBeGreaterThan(0);
    expect(cookie).toContain(body.access_token);
    for (const headers of [{ 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }, { origin: 'https://evil.example' }, {}]) {
      const other = await serveKit(handle, get('/api/auth/token', cookie, headers), endpoint('GET'));
      expect(other.response.status, JSON.stringify(headers)).toBe(403);
      expect(await other.response.text()).not.toContain(body.access_token);
    }
  });

  it('POST /api/auth/signout: refused from another origin; from ours, revoked at the engine, cookies cleared', async () => {
    const { baton, handle, cookie } = await setup();
    const post = (origin: string) => new Request(`${APP}/api/auth/signout`, { method: 'POST', headers: { cookie, origin } });
    const refused = await serveKit(handle, post('https://evil.example'), endpoint('POST'));
    expect(refused.response.status).toBe(403);
    expect(await baton.listSessions('usr_alice')).toHaveLength(1);
    const { response } = await serveKit(handle, post(APP), endpoint('POST'));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'signed-out', reason: 'logout' });
    expect(setCookies(response).get('baton_rt')).toMatch(/Max-Age=0/);
    expect(cacheControl(response)).toBe('private, no-store');
    expect(await baton.listSessions('usr_alice')).toHaveLength(0);
  });

  it('batonSignOut in a request whose handle just refreshed: the session revoked, locals signed out with the reason logout', async () => {
    const { baton, handle, clock, cookie } = await setup();
    clock.advance(61_000);
    const { event } = await serveKit(handle, get('/', cookie), async (ev) => {
      await batonSignOut(ev);
      return new Response(null);
    });
    expect(event.locals.baton.state).toMatchObject({ status: 'signed-out', reason: 'logout' });
    expect(await baton.listSessions('usr_alice')).toHaveLength(0);
  });

  it('the helpers without the handle say what to add', async () => {
    expect(() => batonLoad({ locals: {} as App.Locals })).toThrow(/createBatonHandle\(…\) from src\/hooks\.server\.ts/);
    expect(() => batonEndpoints({ basePath: 'api/auth' })).toThrow(/basePath must be a path from the site's root/);
  });
});
