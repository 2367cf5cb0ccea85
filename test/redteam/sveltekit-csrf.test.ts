/**
 * Red team, `baton-auth/sveltekit`: requests from places that should not be able to make them.
 * The token endpoint read from another site (spoofed or missing Fetch Metadata, a `null` Origin),
 * sign-out forged from another site, and the form actions when SvelteKit's own origin check is not
 * there (it is off under `vite dev`, and an app may trust other origins or turn it off): the
 * helpers must refuse a cross-site form themselves.
 */
import { describe, expect, it } from 'vitest';
import { batonEndpoints, batonSignIn, batonSignOut } from 'baton-auth/sveltekit';
import { KIT_PASSWORD, serveKit, signedInKit } from '../support/sveltekit.ts';
import type { Route } from '../support/sveltekit.ts';

const APP = 'http://127.0.0.1:5173';
const PASSWORD = KIT_PASSWORD;

const setup = () => signedInKit(APP, ['alice', 'mallory']);

const { GET, POST } = batonEndpoints();
const endpointGet: Route = (event) => GET(event as never);
const endpointPost: Route = (event) => POST(event as never);

describe('GET /api/auth/token from elsewhere', () => {
  const forged: Array<Record<string, string>> = [
    { origin: 'null' },
    { origin: 'null', 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'none' }, // typed in the address bar, or opened from a bookmark: not one of our pages' fetches
    { 'sec-fetch-site': 'same-site' }, // a sibling subdomain
    { 'sec-fetch-site': 'cross-site', origin: APP }, // Origin agrees but the browser says cross-site: the browser wins
    { 'sec-fetch-site': 'SAME-ORIGIN' }, // no browser sends it so
    { origin: `${APP}.evil.example` },
    { origin: 'http://127.0.0.1:5174' }, // another port of the same host
    { referer: `${APP}/` }, // a Referer proves nothing
  ];
  for (const headers of forged) {
    it(`${JSON.stringify(headers)}: 403, no token`, async () => {
      const { handle, cookie } = await setup();
      const { response } = await serveKit(handle, new Request(`${APP}/api/auth/token`, { headers: { cookie, ...headers } }), endpointGet);
      expect(response.status).toBe(403);
      expect(await response.text()).not.toMatch(/ey[A-Za-z0-9_-]{20,}/);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    });
  }
});

describe('POST /api/auth/signout from elsewhere', () => {
  for (const headers of [
    { origin: 'null' },
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site' },
    {},
    { origin: 'https://evil.example', 'sec-fetch-site': 'same-origin' },
  ]) {
    it(`${JSON.stringify(headers)}: 403, the session kept, no cookie cleared`, async () => {
      const { baton, handle, cookie } = await setup();
      const request = new Request(`${APP}/api/auth/signout`, { method: 'POST', headers: { cookie, accept: 'text/html', ...headers } });
      const { response } = await serveKit(handle, request, endpointPost);
      expect(response.status).toBe(403);
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(await baton.listSessions('usr_alice')).toHaveLength(1);
    });
  }
});

describe("form actions without SvelteKit's origin check (vite dev, trustedOrigins, checkOrigin off)", () => {
  const crossSite = [
    { origin: 'https://evil.example' },
    { origin: 'null' },
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site', origin: 'http://sibling.127.0.0.1:5173' },
  ];
  for (const headers of crossSite) {
    it(`login CSRF ${JSON.stringify(headers)}: the visitor is not signed in as the attacker's account`, async () => {
      const { baton, handle } = await setup();
      const body = new URLSearchParams({ username: 'mallory', password: PASSWORD });
      const request = new Request(`${APP}/login`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
      const { response, event } = await serveKit(handle, request, async (ev) => Response.json(await batonSignIn(ev)));
      expect(event.locals.baton.state.status).not.toBe('signed-in');
      expect(response.headers.getSetCookie().join('\n')).not.toMatch(/baton_rt=rt_/);
      expect(await baton.listSessions('usr_mallory')).toHaveLength(0);
    });

    it(`logout CSRF ${JSON.stringify(headers)}: the session is kept, no cookie cleared`, async () => {
      const { baton, handle, cookie } = await setup();
      const request = new Request(`${APP}/?/signout`, {
        method: 'POST',
        body: '',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      });
      let refusal: unknown;
      const { response } = await serveKit(handle, request, async (ev) => {
        await batonSignOut(ev).catch((err: unknown) => (refusal = err));
        return new Response(null, { status: 303, headers: { location: '/' } });
      });
      expect(refusal).toMatchObject({ code: 'ERR_ORIGIN_REFUSED' });
      expect(response.headers.getSetCookie().join('\n')).not.toMatch(/Max-Age=0/);
      expect(await baton.listSessions('usr_alice')).toHaveLength(1);
    });
  }

  it('from our own pages (Sec-Fetch-Site same-origin, or Origin ours, or neither: not a browser) the actions work (held)', async () => {
    for (const headers of [{ 'sec-fetch-site': 'same-origin' }, { origin: APP }, {}]) {
      const { baton, handle, cookie } = await setup();
      const body = new URLSearchParams({ username: 'mallory', password: PASSWORD });
      const signIn = await serveKit(handle, new Request(`${APP}/login`, { method: 'POST', body, headers }), async (ev) => Response.json(await batonSignIn(ev)));
      expect(signIn.event.locals.baton.state.status, JSON.stringify(headers)).toBe('signed-in');
      await serveKit(handle, new Request(`${APP}/?/signout`, { method: 'POST', headers: { cookie, ...headers } }), async (ev) => {
        await batonSignOut(ev);
        return new Response(null);
      });
      expect(await baton.listSessions('usr_alice')).toHaveLength(0);
    }
  });
});
