/**
 * Red team, `baton-auth/sveltekit`: what held. `locals` between concurrent requests, junk
 * cookies (cost, and a signed-in user kept), a session-end reason planted in a cookie reflected
 * into the page, an app forwarding the browser's old Cookie header to its own endpoints, and the
 * token service away (nobody signed out, nothing cleared).
 */
import { describe, expect, it } from 'vitest';
import { batonLoad, batonSignIn, createBatonHandle } from 'baton-auth/sveltekit';
import { makeBaton } from '../support/baton.ts';
import { freePort } from '../support/ports.ts';
import { cookieJar, serveKit } from '../support/sveltekit.ts';
import type { Route } from '../support/sveltekit.ts';

const APP = 'http://127.0.0.1:5173';
const PASSWORD = 'correct horse battery';

async function setup() {
  const { baton, clock, events } = makeBaton({ accessTokenTtl: 60 });
  const handle = createBatonHandle({
    baton,
    now: clock.now,
    cookies: { secure: false },
    authenticate: async (username, password) => (['alice', 'bob'].includes(username) && password === PASSWORD ? { userId: `usr_${username}` } : null),
  });
  const signIn = async (username: string) => {
    const body = new URLSearchParams({ username, password: PASSWORD });
    const { response } = await serveKit(handle, new Request(`${APP}/login`, { method: 'POST', body, headers: { origin: APP } }), async (event) => {
      await batonSignIn(event);
      return new Response(null, { status: 303 });
    });
    return cookieJar(null, response);
  };
  return { baton, clock, handle, signIn, rotations: () => events.filter((e) => e.type === 'refresh.rotated').length };
}

const get = (path: string, cookie: string | null) => new Request(`${APP}${path}`, cookie === null ? {} : { headers: { cookie } });
const whoRoute: Route = async (event) => {
  await new Promise((r) => setTimeout(r, Math.random() * 5)); // interleave
  return Response.json(batonLoad(event));
};

describe('sveltekit edges that held', () => {
  it('200 concurrent requests of alice, bob and no one: each locals and each answer is its own', async () => {
    const { handle, signIn } = await setup();
    const jars = { alice: await signIn('alice'), bob: await signIn('bob'), none: null };
    const order = Array.from({ length: 200 }, (_, i) => (['alice', 'bob', 'none'] as const)[i % 3] as 'alice' | 'bob' | 'none');
    const answers = await Promise.all(order.map((who) => serveKit(handle, get('/', jars[who]), whoRoute)));
    for (const [i, { response, event }] of answers.entries()) {
      const who = order[i] as string;
      const body = (await response.json()) as { sub?: string; status: string };
      expect(body.sub ?? 'none').toBe(who === 'none' ? 'none' : `usr_${who}`);
      expect(event.locals.baton.snapshot).toEqual(body);
    }
  });

  it('a Cookie header of 300 junk cookies beside a valid session: still signed in, no refresh, in bounded time', async () => {
    const { handle, signIn, rotations } = await setup();
    const jar = await signIn('alice');
    const junk = Array.from({ length: 300 }, (_, i) => `j${i}=${'x'.repeat(20)}`).join('; ');
    const started = performance.now();
    for (let i = 0; i < 50; i++) {
      const { event } = await serveKit(handle, get('/', `${junk}; ${jar}`), whoRoute);
      expect(event.locals.baton.state.status).toBe('signed-in');
    }
    expect(rotations()).toBe(0);
    expect((performance.now() - started) / 50).toBeLessThan(50); // ms per request, on a loaded 2-core machine
  });

  it('a forged access cookie of 8 KiB with no refresh cookie: signed out, one clearing, no store row', async () => {
    const { baton, handle } = await setup();
    const { response, event } = await serveKit(handle, get('/', `baton_at=${'A'.repeat(8192)}`), whoRoute);
    expect(event.locals.baton.state.status).toBe('signed-out');
    expect(response.headers.getSetCookie().every((c) => /Max-Age=0/.test(c))).toBe(true);
    expect(await baton.listSessions('usr_alice')).toHaveLength(0);
  });

  for (const planted of ['<img/src=x/onerror=alert(1)>', '"><script>alert(1)</script>', 'admin<b>', 'A'.repeat(41)]) {
    it(`a baton_end cookie planted as ${JSON.stringify(planted.slice(0, 30))}: never reflected into the page's data`, async () => {
      const { handle } = await setup();
      const { response, event } = await serveKit(handle, get('/', `baton_end=${planted}`), whoRoute);
      expect(event.locals.baton.snapshot).toMatchObject({ status: 'signed-out', reason: null });
      expect(await response.text()).not.toContain(planted.slice(0, 8));
    });
  }

  it("an app forwarding the browser's Cookie header to its own endpoint (the old refresh token, highest precedence in SvelteKit's fetch): still one rotation", async () => {
    const { clock, handle, signIn, rotations } = await setup();
    const jar = await signIn('alice');
    clock.advance(61_000);
    const subStates: string[] = [];
    const page: Route = async (event) => {
      if (event.isSubRequest) {
        subStates.push(event.locals.baton.state.status);
        return new Response('{}');
      }
      await Promise.all(Array.from({ length: 5 }, () => event.fetch('/api/items', { headers: { cookie: event.request.headers.get('cookie') ?? '' } })));
      return new Response('page');
    };
    const { response } = await serveKit(handle, get('/', jar), page);
    expect(rotations()).toBe(1);
    expect(subStates).toEqual(Array(5).fill('signed-in'));
    expect(response.headers.get('cache-control')).toBe('private, no-store');
  });

  it('the token service away (remote mode, nothing listening): nobody signed out, no cookie cleared, the page private', async () => {
    const port = await freePort();
    const handle = createBatonHandle({ issuer: `http://127.0.0.1:${port}`, clientId: 'web', cookies: { secure: false }, timeoutMs: 1000 });
    try {
      const { response, event } = await serveKit(handle, get('/', 'baton_at=eyJhbGciOiJFUzI1NiJ9.e30.x; baton_rt=rt_abc'), whoRoute);
      expect(event.locals.baton.state.status).toBe('unavailable');
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(response.headers.get('cache-control')).toBe('private, no-store');
    } finally {
      handle.session.close();
    }
  });
});
