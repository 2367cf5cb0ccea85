/**
 * Red team, `baton-auth/ssr` and `baton-auth/next`: attacks that held, kept as tests so that they
 * keep holding. The memo never hands one session's pair to another; two app instances racing one
 * cookie cause no reuse detection; a junk refresh cookie repeated costs one call to the service; a
 * planted `baton_end` never puts its text in the page; every answer of the route handlers is
 * `private, no-store` and none is readable cross-site; the address passed to signIn is forwarded
 * only when it is one address.
 */
import { describe, expect, it } from 'vitest';
import { createServerSession } from 'baton-auth/ssr';
import { createBatonNext } from 'baton-auth/next';
import { makeBaton } from '../support/baton.ts';
import { actionCookies } from '../next/support.ts';

const users = Array.from({ length: 20 }, (_, i) => `user-${i}`);
const authenticate = async (u: string, p: string) => (users.includes(u) && p === `${u} password` ? { userId: u } : null);
const jar = (setCookies: string[]): Record<string, string> =>
  Object.fromEntries(setCookies.map((s) => s.split(';')[0] as string).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const header = (c: Record<string, string>) =>
  Object.entries(c)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');

function inProcess() {
  const { baton, clock, events } = makeBaton({ accessTokenTtl: 60 });
  const make = () => createServerSession({ baton, authenticate, now: clock.now, cookies: { secure: false } });
  const signIn = async (s: ReturnType<typeof make>, u: string) => header(jar((await s.signIn({ username: u, password: `${u} password` })).setCookies));
  return { baton, clock, events, make, signIn };
}

describe('the memo and the single flight', () => {
  it("20 users refreshing at once, 3 requests each: each gets a pair of their own session, never another's", async () => {
    const { clock, make, signIn } = inProcess();
    const session = make();
    const cookies = await Promise.all(users.map((u) => signIn(session, u)));
    clock.advance(61_000);
    const outcomes = await Promise.all(cookies.flatMap((c, i) => [0, 1, 2].map(async () => ({ i, o: await session.refresh(c) }))));
    for (const { i, o } of outcomes) expect(o.state.status === 'signed-in' && o.state.claims.sub).toBe(users[i]);
    expect(new Set(outcomes.map(({ o }) => jar(o.setCookies).baton_rt)).size).toBe(users.length);
  });

  it('two app instances refreshing one cookie at once: both signed in, no reuse detection, the session lives on', async () => {
    const { clock, events, make, signIn } = inProcess();
    const [a, b] = [make(), make()];
    const cookie = await signIn(a, 'user-1');
    clock.advance(61_000);
    const [oa, ob] = await Promise.all([a.refresh(cookie), b.refresh(cookie)]);
    expect([oa.state.status, ob.state.status]).toEqual(['signed-in', 'signed-in']);
    clock.advance(61_000);
    const next = await b.refresh(header(jar(oa.setCookies)));
    expect(next.state.status).toBe('signed-in');
    expect(events.filter((e) => e.type === 'refresh.reused')).toEqual([]);
  });

  it('one junk refresh cookie sent 200 times costs one call to the service', async () => {
    let calls = 0;
    const fetcher: typeof fetch = async () => {
      calls++;
      return new Response(JSON.stringify({ error: 'invalid_grant' }), { status: 400, headers: { 'content-type': 'application/json' } });
    };
    const session = createServerSession({ issuer: 'http://127.0.0.1:9', clientId: 'web', fetch: fetcher });
    const outcomes = await Promise.all(Array.from({ length: 200 }, () => session.refresh('__Host-baton_rt=junk')));
    session.close();
    expect(calls).toBe(1);
    expect(outcomes.every((o) => o.state.status === 'signed-out')).toBe(true);
  });
});

describe('the baton_end cookie', () => {
  it('a planted reason that is not a word is ignored: no markup, no long text reaches the page', async () => {
    const { make } = inProcess();
    const session = make();
    for (const planted of ['<script>alert(1)</script>', 'a'.repeat(41), 'Revoked', 'x%0d%0aSet-Cookie:%20a=b', '"quoted"']) {
      const state = await session.read(`baton_end=${planted}`);
      expect(session.snapshot(state)).toEqual({ status: 'signed-out', reason: null, description: 'Not signed in.' });
      const outcome = await session.refresh(`baton_end=${planted}`);
      expect([outcome.state, outcome.setCookies]).toEqual([{ status: 'signed-out', reason: null, description: 'Not signed in.' }, []]);
    }
  });
});

describe('the route handlers', () => {
  const ORIGIN = 'https://app.example';
  function app() {
    const { baton, clock } = makeBaton({ accessTokenTtl: 60 });
    const next = createBatonNext({ baton, authenticate, now: clock.now, cookieStore: async () => actionCookies(null).store });
    return { next };
  }

  it('every answer is private, no-store and carries no CORS grant; a null Origin or Sec-Fetch-Site none gets no token and signs no one out', async () => {
    const { next } = app();
    const cookie = header(jar((await next.core.signIn({ username: 'user-2', password: 'user-2 password' })).setCookies));
    const requests = [
      new Request(`${ORIGIN}/api/auth/token`, { headers: { cookie, origin: 'null' } }),
      new Request(`${ORIGIN}/api/auth/token`, { headers: { cookie, 'sec-fetch-site': 'none' } }),
      new Request(`${ORIGIN}/api/auth/token`, { headers: { cookie, 'sec-fetch-site': 'same-site', origin: ORIGIN } }),
      new Request(`${ORIGIN}/api/auth/signout`, { method: 'POST', headers: { cookie, origin: 'null' } }),
      new Request(`${ORIGIN}/api/auth/signout`, { method: 'POST', headers: { cookie, 'sec-fetch-site': 'none' } }),
    ];
    for (const r of requests) {
      const res = r.method === 'POST' ? await next.handlers.POST(r) : await next.handlers.GET(r);
      expect([res.status, res.headers.get('cache-control'), res.headers.getSetCookie()], `${r.method} ${r.url} ${[...r.headers]}`).toEqual([
        403,
        'private, no-store',
        [],
      ]);
    }
    const others = [
      await next.handlers.GET(new Request(`${ORIGIN}/api/auth/nope`)),
      await next.handlers.GET(new Request(`${ORIGIN}/api/auth/token`, { headers: { 'sec-fetch-site': 'same-origin', cookie: 'baton_at=x' } })),
      await next.handlers.GET(new Request(`${ORIGIN}/api/auth/session`, { headers: { cookie } })),
      await next.handlers.GET(new Request(`${ORIGIN}/api/auth/token`, { headers: { cookie, 'sec-fetch-site': 'same-origin' } })),
    ];
    for (const res of others) {
      expect(res.headers.get('cache-control')).toBe('private, no-store');
      expect([...res.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([]);
    }
  });
});

describe('signIn and the address', () => {
  it('forwards X-Forwarded-For only for one well-formed address, never a list or a header smuggled in it', async () => {
    const seen: (string | null)[] = [];
    const fetcher: typeof fetch = async (_input, init) => {
      seen.push(new Headers(init?.headers).get('x-forwarded-for'));
      return new Response(JSON.stringify({ error: 'invalid_grant' }), { status: 400, headers: { 'content-type': 'application/json' } });
    };
    const session = createServerSession({ issuer: 'http://127.0.0.1:9', clientId: 'web', fetch: fetcher });
    for (const ip of ['203.0.113.7', '203.0.113.7, 10.0.0.1', '10.0.0.1\r\nx-evil: 1', ' 203.0.113.7', '2001:db8::1', 'localhost'])
      await session.signIn({ username: 'ada', password: 'pw', ip });
    session.close();
    expect(seen).toEqual(['203.0.113.7', null, null, null, '2001:db8::1', null]);
  });
});
