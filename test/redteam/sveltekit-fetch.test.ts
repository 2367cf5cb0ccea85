/**
 * Red team, `baton-auth/sveltekit`: what the render's `event.fetch` carries off this origin.
 * SvelteKit's server-side fetch sends the request's whole cookie header (the browser's, the
 * handle's new cookies) to this host's subdomains — an API at `api.app.example` — though a browser
 * would never send a host-only cookie there, let alone a `__Host-` one. Baton's token cookies must
 * stay on the app's own origin: the refresh token is a long-lived credential.
 */
import { describe, expect, it } from 'vitest';
import { serveKit, signedInKit } from '../support/sveltekit.ts';
import type { Route } from '../support/sveltekit.ts';

const APP = 'https://app.example';

const setup = () => signedInKit(APP);

/** A page whose load calls `url` with `init`, recording the cookie header each other origin received. */
function pageCalling(url: string, init: RequestInit = {}): { route: Route; seen: string[] } {
  const seen: string[] = [];
  const route: Route = async (event) => {
    await event.fetch(url, init);
    return new Response('page');
  };
  return { route, seen };
}

const upstreamRecording = (seen: string[]) => async (request: Request) => {
  seen.push(request.headers.get('cookie') ?? '');
  return new Response('{}');
};

describe('event.fetch to another origin', () => {
  for (const [label, url, init] of [
    ['a subdomain API, default credentials', 'https://api.app.example/data', {}],
    ['a subdomain API, credentials include', 'https://api.app.example/data', { credentials: 'include' }],
    ['a subdomain, as a Request', 'https://cdn.app.example/x', {}],
  ] as const) {
    it(`${label}: the Baton cookies do not go with it (the app's other cookies still do)`, async () => {
      const { handle, cookie } = await setup();
      const { route, seen } = pageCalling(url, init as RequestInit);
      const request = new Request(`${APP}/`, { headers: { cookie: `${cookie}; theme=dark` } });
      await serveKit(handle, request, route, false, upstreamRecording(seen));
      expect(seen).toHaveLength(1);
      expect(seen[0]).not.toMatch(/baton_(at|rt)/);
      expect(seen[0]).toContain('theme=dark');
    });
  }

  it("after the handle refreshed: the new pair does not go to the subdomain either (SvelteKit adds this request's new cookies)", async () => {
    const { handle, clock, cookie } = await setup();
    clock.advance(61_000);
    const seen: string[] = [];
    const route: Route = async (event) => {
      await event.fetch(new Request('https://api.app.example/data'));
      return new Response('page');
    };
    const { response } = await serveKit(handle, new Request(`${APP}/`, { headers: { cookie } }), route, false, upstreamRecording(seen));
    expect(response.headers.getSetCookie().join('\n')).toMatch(/__Host-baton_rt=rt_/);
    expect(seen[0]).not.toMatch(/baton_(at|rt)/);
  });

  it("to the app's own origin the cookies still go (the handle's sub-requests read them)", async () => {
    const { handle, cookie } = await setup();
    let sub: string | null = null;
    const route: Route = async (event) => {
      if (event.isSubRequest) {
        sub = event.request.headers.get('cookie');
        return new Response('{}');
      }
      await event.fetch('/api/items');
      return new Response('page');
    };
    await serveKit(handle, new Request(`${APP}/`, { headers: { cookie } }), route);
    expect(sub).toMatch(/__Host-baton_at=ey/);
  });

  it('an unrelated origin gets no cookie at all (SvelteKit sends none; held)', async () => {
    const { handle, cookie } = await setup();
    const { route, seen } = pageCalling('https://evil.example/x', { credentials: 'include' });
    await serveKit(handle, new Request(`${APP}/`, { headers: { cookie } }), route, false, upstreamRecording(seen));
    expect(seen).toEqual(['']);
  });
});
