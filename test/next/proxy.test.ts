/**
 * `baton-auth/next`'s proxy (`proxy.ts` on Next 16, `middleware.ts` on 15) against the service on
 * a free port: one rotation for many concurrent requests with the same expired cookie, the new
 * cookies on the response AND on the forwarded request (what every server component of the render
 * reads), `Cache-Control: private, no-store` on every response that sets one, `auth()` never
 * refreshing, a revoked session's reason, and the service away keeping the cookies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NextRequest } from 'next/server.js';
import { createBatonNext } from 'baton-auth/next';
import type { BatonNext, NextCookieStore } from 'baton-auth/next';
import { RequestCookies } from 'next/dist/server/web/spec-extension/cookies.js';
import { RequestCookiesAdapter } from 'next/dist/server/web/spec-extension/adapters/request-cookies.js';
import { eventually } from '../support/eventually.ts';
import { freePort } from '../support/ports.ts';
import { startTestService } from '../support/service.ts';
import type { TestService } from '../support/service.ts';
import { header, jar } from './support.ts';

const SECRET = 'introspection-secret-of-32-characters!!';
const USER = { username: 'ada', password: 'ada password 1' };
let service: TestService;
let baton: BatonNext;
let rotations = 0;
/** The Cookie header the render sees (what the proxy forwarded): `auth()` reads it through a server component's read-only store. */
let rendered: string | null = null;
const renderStore = async (): Promise<NextCookieStore> =>
  RequestCookiesAdapter.seal(new RequestCookies(new Headers(rendered === null ? {} : { cookie: rendered }))) as unknown as NextCookieStore;

/** What a proxy response forwards to the render: Next's override of the request's Cookie header. */
function forwardedCookie(response: Response): string | null | undefined {
  const overridden = (response.headers.get('x-middleware-override-headers') ?? '').split(',');
  if (!overridden.includes('cookie')) return undefined; // the request goes on as it came
  return response.headers.get('x-middleware-request-cookie');
}

const request = (cookie: string | null) => new NextRequest('http://localhost:3001/', { headers: cookie === null ? {} : { cookie } });

beforeAll(async () => {
  service = await startTestService({ BATON_INTROSPECTION_SECRET: SECRET }, USER);
  service.server.service.baton.on('refresh.rotated', () => rotations++);
  baton = createBatonNext({
    issuer: service.url,
    clientId: 'default',
    introspection: { clientId: 'resource-server', clientSecret: SECRET },
    cookieStore: renderStore,
  });
});
afterAll(async () => {
  baton?.core.close();
  await service?.stop();
});

async function signedIn(): Promise<Record<string, string>> {
  const { setCookies } = await baton.core.signIn(USER);
  return jar(setCookies);
}

describe('the proxy', () => {
  it('20 concurrent requests with the same refresh cookie and no access cookie: one rotation, each forwards the new cookies, each response no-store', async () => {
    const { '__Host-baton_rt': rt } = await signedIn();
    const before = rotations;
    const responses = await Promise.all(Array.from({ length: 20 }, () => baton.proxy(request(header({ '__Host-baton_rt': rt as string, theme: 'dark' })))));
    expect(rotations - before).toBe(1);
    const forwarded = new Set(responses.map(forwardedCookie));
    expect(forwarded.size).toBe(1);
    const cookie = [...forwarded][0] as string;
    expect(cookie).toMatch(/__Host-baton_at=ey/);
    expect(cookie).toContain('theme=dark');
    for (const r of responses) {
      expect(r.headers.get('cache-control')).toBe('private, no-store');
      expect(r.headers.getSetCookie().map((s) => s.slice(0, s.indexOf('=')))).toEqual(['__Host-baton_at', '__Host-baton_rt']);
      expect(jar(r.headers.getSetCookie())['__Host-baton_at']).toBe(
        jar([cookie.split('; ').find((c) => c.startsWith('__Host-baton_at=')) as string])['__Host-baton_at'],
      );
    }
    // Every server component of that render reads the new token, and auth() never refreshes.
    rendered = cookie;
    expect((await baton.auth()).status).toBe('signed-in');
    expect(await baton.session()).toMatchObject({ status: 'signed-in', sub: expect.any(String) });
    expect(rotations - before).toBe(1);
  });

  it('a valid access cookie: the request goes on untouched, no Set-Cookie, no Cache-Control of ours', async () => {
    const cookies = header(await signedIn());
    const response = await baton.proxy(request(cookies));
    expect([forwardedCookie(response), response.headers.getSetCookie(), response.headers.get('cache-control')]).toEqual([undefined, [], null]);
  });

  it('auth() never refreshes: a refresh cookie alone is not signed in, and nothing rotates', async () => {
    const { '__Host-baton_rt': rt } = await signedIn();
    const before = rotations;
    rendered = header({ '__Host-baton_rt': rt as string });
    expect((await baton.auth()).status).toBe('signed-out');
    expect(rotations).toBe(before);
  });

  it('a session revoked at the service: the next request is signed out with the reason, cookies cleared, the render told why', async () => {
    const cookies = await signedIn();
    rendered = header(cookies);
    const state = await baton.auth();
    const sid = state.status === 'signed-in' ? (state.claims.sid as string) : '';
    await service.server.service.baton.revokeSession(sid, 'admin');
    await eventually(async () => (await baton.auth()).status === 'signed-out', { what: 'the revocation to reach the app', timeoutMs: 1000 });
    const response = await baton.proxy(request(header(cookies)));
    expect(response.headers.get('cache-control')).toBe('private, no-store');
    expect(jar(response.headers.getSetCookie())).toEqual({ '__Host-baton_at': '', '__Host-baton_rt': '', '__Host-baton_end': 'admin' });
    rendered = forwardedCookie(response) ?? null;
    expect(await baton.auth()).toMatchObject({ status: 'signed-out', reason: 'admin', description: 'An administrator ended the session.' });
  });

  it('the service away: no cookie set or cleared, the render says unavailable, the user still signed in on the next request', async () => {
    const away = createBatonNext({ issuer: `http://127.0.0.1:${await freePort()}`, clientId: 'default', timeoutMs: 500, cookieStore: renderStore });
    const response = await away.proxy(request('__Host-baton_rt=rt_abc.2.mac'));
    expect(response.headers.getSetCookie()).toEqual([]);
    rendered = forwardedCookie(response) ?? null;
    expect(rendered).toBe('__Host-baton_rt=rt_abc.2.mac; __Host-baton_end=unavailable');
    expect(await away.auth()).toMatchObject({ status: 'unavailable', reason: 'unavailable' });
    away.core.close();
  });
});
