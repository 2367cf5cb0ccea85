/**
 * Red team, `baton-auth/sveltekit`: responses that carry a user's data or a cookie, and what a
 * shared cache in front of the app may do with them. The root layout's `batonLoad` puts the user's
 * name in every page's data, so a page the app marks cacheable (`setHeaders({ 'cache-control': … })`,
 * a `+server.ts` that passes an upstream answer through) is still one user's page when someone is
 * signed in.
 */
import { describe, expect, it } from 'vitest';
import { batonEndpoints, batonLoad, batonSignOut } from 'baton-auth/sveltekit';
import { serveKit, signedInKit } from '../support/sveltekit.ts';
import type { Route } from '../support/sveltekit.ts';

const APP = 'http://127.0.0.1:5173';

const setup = () => signedInKit(APP);

const get = (path: string, cookie: string | null) => new Request(`${APP}${path}`, cookie === null ? {} : { headers: { cookie } });

/** Whether a shared cache (RFC 9111 §3) may store the response for anyone: no `private`, no `no-store`, and nothing that keys it by cookie. */
function shareable(response: Response): boolean {
  const directives = (response.headers.get('cache-control') ?? '').split(',').map((d) => d.trim().toLowerCase());
  const vary = (response.headers.get('vary') ?? '').toLowerCase();
  // `private="field"` (§5.2.2.7, qualified) keeps only that field out: the rest may be shared.
  if (directives.includes('private') || directives.includes('no-store') || /\b(cookie|\*)/.test(vary)) return false;
  return directives.some((d) => /^(public|s-maxage=|max-age=)/.test(d));
}

/** A page rendered with the layout's session in it, marked cacheable by the app. */
const cacheablePage =
  (cacheControl: string): Route =>
  (event) =>
    new Response(`<p>${JSON.stringify(batonLoad(event))}</p>`, { headers: { 'cache-control': cacheControl } });

describe("a signed-in user's page the app marks cacheable", () => {
  for (const cc of ['public, max-age=600', 'max-age=60', 's-maxage=300', 'public, immutable, max-age=31536000', 'private="set-cookie", max-age=60']) {
    it(`Cache-Control: ${cc} on a page with alice's session in it: no shared cache may keep it`, async () => {
      const { handle, cookie } = await setup();
      const { response } = await serveKit(handle, get('/blog', cookie), cacheablePage(cc));
      expect(await response.clone().text()).toContain('usr_alice');
      expect(shareable(response), response.headers.get('cache-control') ?? '').toBe(false);
    });
  }

  it("a +server.ts passing through an upstream answer (immutable headers, the upstream's Cache-Control) for alice: not shareable", async () => {
    const { handle, cookie } = await setup();
    const route: Route = async () => {
      const upstream = Response.json({ secret: 'alice-data' }, { headers: { 'cache-control': 'public, max-age=60' } });
      return new Response(upstream.body, { headers: upstream.headers }); // as a `fetch` answer passed on
    };
    const { response } = await serveKit(handle, get('/api/proxy', cookie), route);
    expect(shareable(response)).toBe(false);
  });

  it("the app's private or no-store stays as it is (held: already not shareable)", async () => {
    const { handle, cookie } = await setup();
    const { response } = await serveKit(handle, get('/', cookie), cacheablePage('private, max-age=60'));
    expect(response.headers.get('cache-control')).toBe('private, max-age=60');
  });

  it("an anonymous visitor's page the app marks public stays public (made for no one)", async () => {
    const { handle } = await setup();
    const { response } = await serveKit(handle, get('/blog', null), cacheablePage('public, max-age=600'));
    expect(response.headers.get('cache-control')).toBe('public, max-age=600');
  });
});

describe('responses that set a cookie or end a session (held)', () => {
  it('a redirect from a sign-out action: cookies cleared, private, no-store, even with the route saying public', async () => {
    const { handle, cookie } = await setup();
    const { response } = await serveKit(handle, new Request(`${APP}/?/signout`, { method: 'POST', headers: { cookie, origin: APP } }), async (event) => {
      await batonSignOut(event);
      return new Response(null, { status: 303, headers: { location: '/', 'cache-control': 'public, max-age=600' } });
    });
    expect(response.headers.get('cache-control')).toBe('private, no-store');
    expect(response.headers.getSetCookie().join('\n')).toMatch(/baton_rt=; .*Max-Age=0/);
  });

  it('an error page rendered after a load threw, for a signed-in user: private, no-store', async () => {
    const { handle, cookie } = await setup();
    const { response } = await serveKit(handle, get('/broken', cookie), () => new Response('500: alice, something broke', { status: 500 }));
    expect(response.headers.get('cache-control')).toBe('private, no-store');
  });

  it('the token endpoint with a refreshed pair: private, no-store, never shareable', async () => {
    const { handle, clock, cookie } = await setup();
    clock.advance(61_000);
    const { GET } = batonEndpoints();
    const request = new Request(`${APP}/api/auth/token`, { headers: { cookie, 'sec-fetch-site': 'same-origin' } });
    const { response } = await serveKit(handle, request, (event) => GET(event as never));
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('private, no-store');
  });
});
