/**
 * A SvelteKit request, in process, as its server makes one: a real `Request`, a `cookies` object
 * with SvelteKit's semantics (its runtime's `get_cookies`, which cannot be imported outside a
 * build: new cookies over the request's, a cookie of `Max-Age=0` gone, `parse`, the cookie header
 * its `event.fetch` sends) on the `cookie` package SvelteKit itself parses and writes cookies with,
 * `locals`, and `resolve` writing the new cookies on the response as SvelteKit's does (after the
 * route, before the handle sees the response). `event.fetch` to this app goes through the same
 * handle with SvelteKit's cookie header, and the sub-request's `Set-Cookie` comes back into the
 * parent's cookies, as SvelteKit's server-side fetch does.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { Cookies, RequestEvent } from '@sveltejs/kit';
import type { Handle } from '@sveltejs/kit/hooks';
import { batonSignIn, createBatonHandle } from 'baton-auth/sveltekit';
import { makeBaton } from './baton.ts';

interface SetCookie {
  name: string;
  value: string | undefined;
  path?: string;
  domain?: string;
  maxAge?: number;
  [option: string]: unknown;
}
interface CookiePackage {
  parseCookie(header: string, options?: { decode?: (v: string) => string }): Record<string, string | undefined>;
  parseSetCookie(header: string, options?: { decode?: (v: string) => string }): SetCookie;
  stringifySetCookie(cookie: SetCookie, options?: { encode?: (v: string) => string }): string;
}

// The `cookie` package of SvelteKit's own dependencies, wherever npm put it.
const kitRequire = createRequire(createRequire(import.meta.url).resolve('@sveltejs/kit/package.json'));
const cookiePkg = (await import(pathToFileURL(kitRequire.resolve('cookie')).href)) as CookiePackage;

interface NewCookie {
  name: string;
  value: string;
  options: Omit<SetCookie, 'name' | 'value'> & { path: string; encode?: (v: string) => string };
}

const pathMatches = (path: string, constraint: string) => {
  const c = constraint.endsWith('/') ? constraint.slice(0, -1) : constraint;
  return path === c || path.startsWith(`${c}/`);
};

/** SvelteKit's `get_cookies` (runtime/server/cookie.js), for a production server, without its dev warnings. */
function kitCookies(request: Request, url: URL) {
  const header = request.headers.get('cookie') ?? '';
  const initial = cookiePkg.parseCookie(header, { decode: (v) => v });
  const fresh = new Map<string, NewCookie>();
  const defaults = { httpOnly: true, path: '/', sameSite: 'lax', secure: !(url.hostname === 'localhost' && url.protocol === 'http:') };
  const set = (name: string, value: string, options: Record<string, unknown> = {}) => {
    const opts = { ...defaults, ...options } as NewCookie['options'];
    fresh.set(`${opts.domain ?? ''}${opts.path}?${encodeURIComponent(name)}`, { name, value, options: opts });
  };
  const cookies = {
    get(name: string) {
      const match = [...fresh.values()].filter((c) => c.name === name && pathMatches(url.pathname, c.options.path)).at(-1);
      if (match !== undefined) return match.options.maxAge === 0 ? undefined : match.value;
      return cookiePkg.parseCookie(header)[name];
    },
    getAll() {
      const all = { ...cookiePkg.parseCookie(header) };
      for (const c of fresh.values()) if (pathMatches(url.pathname, c.options.path)) all[c.name] = c.options.maxAge === 0 ? undefined : c.value;
      return Object.entries(all)
        .filter((e): e is [string, string] => e[1] !== undefined)
        .map(([name, value]) => ({ name, value }));
    },
    set,
    delete: (name: string, options: Record<string, unknown> = {}) => set(name, '', { ...options, maxAge: 0 }),
    serialize: (name: string, value: string, options: Record<string, unknown> = {}) => cookiePkg.stringifySetCookie({ name, value, ...defaults, ...options }),
    parse: cookiePkg.parseSetCookie,
  } as unknown as Cookies;
  return {
    cookies,
    /** The cookie header SvelteKit's `event.fetch` sends to `destination`: the browser's, then this request's new cookies, then the call's own. */
    cookieHeader(destination: URL, own: string | null): string {
      const combined: Record<string, string | undefined> = { ...initial };
      for (const c of fresh.values())
        if (pathMatches(destination.pathname, c.options.path)) combined[c.name] = (c.options.encode ?? encodeURIComponent)(c.value);
      if (own) Object.assign(combined, cookiePkg.parseCookie(own, { decode: (v) => v }));
      return Object.entries(combined)
        .map(([name, value]) => `${name}=${value}`)
        .join('; ');
    },
    /** `add_cookies_to_headers`. */
    write(headers: Headers): void {
      for (const { name, value, options } of fresh.values()) {
        const { encode, ...rest } = options;
        headers.append('set-cookie', cookiePkg.stringifySetCookie({ name, value, ...rest }, encode === undefined ? {} : { encode }));
      }
    },
  };
}

/** Where `event.fetch` to another origin goes (a server of its own; `fetch` by default). */
export type Upstream = (request: Request) => Promise<Response>;

/**
 * SvelteKit's `event.fetch` to another origin (runtime/server/fetch.js): unless `credentials: 'omit'`,
 * a destination on this host or one of its subdomains gets the cookie header of this request
 * (the browser's cookies, this request's new ones, the call's own), whatever origin it is.
 */
function otherOrigin(request: Request, self: URL, cookieHeader: (destination: URL, own: string | null) => string, upstream: Upstream): Promise<Response> {
  const target = new URL(request.url);
  if (!request.headers.has('origin')) request.headers.set('origin', self.origin);
  if (`.${target.hostname}`.endsWith(`.${self.hostname}`) && request.credentials !== 'omit') {
    const cookie = cookieHeader(target, request.headers.get('cookie'));
    if (cookie) request.headers.set('cookie', cookie);
  }
  return upstream(request);
}

/** A route: what runs after the handle (a page's `load`, an action, a `+server.ts`). */
export type Route = (event: RequestEvent) => Response | Promise<Response>;

/** One request through `handle` to `route`, with SvelteKit's cookies; the response and the event the route saw. */
export async function serveKit(
  handle: Handle,
  request: Request,
  route: Route,
  isSubRequest = false,
  upstream: Upstream = fetch,
): Promise<{ response: Response; event: RequestEvent }> {
  const url = new URL(request.url);
  const { cookies, cookieHeader, write } = kitCookies(request, url);
  let seen: RequestEvent | undefined;
  const event = {
    request,
    url,
    cookies,
    locals: {},
    params: {},
    route: { id: url.pathname },
    platform: undefined,
    isDataRequest: false,
    isSubRequest,
    isRemoteRequest: false,
    getClientAddress: () => '127.0.0.1',
    setHeaders: () => undefined,
    // SvelteKit's server-side fetch to its own origin: the cookie header it builds, the sub-request's cookies taken back.
    fetch: async (input: string | URL | Request, init?: RequestInit) => {
      const target = new URL(input instanceof Request ? input.url : input, url);
      if (target.origin !== url.origin) return otherOrigin(new Request(input instanceof Request ? input : target, init), url, cookieHeader, upstream);
      const headers = new Headers(init?.headers);
      headers.set('cookie', cookieHeader(target, headers.get('cookie')));
      const { response } = await serveKit(handle, new Request(target, { ...init, headers }), route, true, upstream);
      for (const header of response.headers.getSetCookie()) {
        const { name, value, ...options } = cookies.parse(header, { decode: (v) => v });
        cookies.set(name, value ?? '', { ...options, path: options.path ?? '/', encode: (v: string) => v });
      }
      return response;
    },
  } as unknown as RequestEvent;
  const response = await handle({
    event,
    resolve: async (ev) => {
      seen = ev;
      const res = await route(ev);
      write(res.headers);
      return res;
    },
  });
  return { response, event: seen ?? event };
}

/** The cookies a response sets, by name: their value and attributes as the browser would read them. */
export function setCookies(response: Response): Map<string, string> {
  return new Map(response.headers.getSetCookie().map((h) => [h.slice(0, h.indexOf('=')), h] as const));
}

/** A `Cookie` header carrying what `response` set (name=value), over `previous`. */
export function cookieJar(previous: string | null, response: Response): string {
  const jar = new Map<string, string>();
  for (const part of (previous ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) jar.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  for (const header of response.headers.getSetCookie()) {
    const pair = header.split(';')[0] as string;
    const eq = pair.indexOf('=');
    const maxAge = /;\s*Max-Age=(\d+)/i.exec(header)?.[1];
    if (maxAge === '0') jar.delete(pair.slice(0, eq));
    else jar.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

/** The password every user of `signedInKit` has. */
export const KIT_PASSWORD = 'correct horse battery';

/**
 * A handle over an in-process Baton (60-second tokens, the given users with `KIT_PASSWORD`) and
 * the cookie of `alice` signed in through `batonSignIn` from a page of `app`: the set-up the
 * red-team tests of the SvelteKit handle share. Plain-http apps get cookies without `Secure`.
 */
export async function signedInKit(app: string, users: string[] = ['alice']) {
  const { baton, clock } = makeBaton({ accessTokenTtl: 60 });
  const handle = createBatonHandle({
    baton,
    now: clock.now,
    ...(app.startsWith('http:') ? { cookies: { secure: false } } : {}),
    authenticate: async (username, password) => (users.includes(username) && password === KIT_PASSWORD ? { userId: `usr_${username}` } : null),
  });
  const body = new URLSearchParams({ username: 'alice', password: KIT_PASSWORD });
  const { response } = await serveKit(handle, new Request(`${app}/login`, { method: 'POST', body, headers: { origin: app } }), async (event) => {
    await batonSignIn(event);
    return new Response(null, { status: 303, headers: { location: '/' } });
  });
  return { baton, handle, clock, cookie: cookieJar(null, response) };
}
