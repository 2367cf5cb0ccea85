/**
 * The `handle` hook: one refresh per request at most, before anything renders, and the new cookies
 * where everything after it reads them.
 */
import type { RequestEvent } from '@sveltejs/kit';
import type { Handle } from '@sveltejs/kit/hooks';
import { sessionCookieNames } from '../ssr/cookies.ts';
import { createServerSession, noStore } from '../ssr/index.ts';
import type { ServerSession, ServerSessionOptions } from '../ssr/index.ts';
import { applyCookies, linkSession, setLocals } from './locals.ts';

/** `createBatonHandle`'s hook, with the session it runs on (for tests and for code outside a request). */
export type BatonHandle = Handle & { readonly session: ServerSession };

/**
 * Whether a `Cache-Control` keeps the response out of every shared cache: `no-store` (RFC 9111
 * §5.2.2.5), or `private` unqualified (§5.2.2.7: `private="field"` leaves the rest shareable).
 */
function keptFromSharedCaches(cacheControl: string): boolean {
  return cacheControl.split(',').some((d) => ['private', 'no-store'].includes(d.trim().toLowerCase()));
}

/**
 * How a response may be cached, for shared caches (a CDN, a caching proxy) in front of the app:
 * - `private`: it sets a cookie (a token: RFC 9111 §5.2.2.7 `private` keeps it out of a shared
 *   cache, §5.2.2.5 `no-store` out of every cache), or it was made for someone — signed in, or
 *   signed out with the reason their session ended, or the token service away — and says nothing
 *   of caching itself, or says what would let a shared cache keep it (`public`, `max-age`,
 *   `s-maxage`: the layout's session is in every page): a page rendered for one user is never
 *   served to another;
 * - `vary`: made for no one (no session, no reason), it may be shared, but only with requests that
 *   carry the same cookies (`Vary: Cookie`, §4.1): never in place of a signed-in user's page;
 * - `as-is`: the app's own `Cache-Control`, made for no one or kept from shared caches already.
 */
function cachingOf(event: RequestEvent, response: Response): 'private' | 'vary' | 'as-is' {
  if (response.headers.getSetCookie().length > 0) return 'private';
  const { state } = event.locals.baton;
  const forSomeone = !(state.status === 'signed-out' && state.reason === null);
  const own = response.headers.get('cache-control');
  if (own === null) return forSomeone ? 'private' : 'vary';
  return forSomeone && !keptFromSharedCaches(own) ? 'private' : 'as-is';
}

/** `response` with its headers changed by `change`, copied first when they are immutable (a `fetch` answer passed through). */
function withHeaders(response: Response, change: (headers: Headers) => void): Response {
  try {
    change(response.headers);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    change(copy.headers);
    return copy;
  }
}

/** `Vary: Cookie` added to what the response varies by already. */
function varyByCookie(headers: Headers): void {
  const vary = headers.get('vary');
  if (vary === null) headers.set('vary', 'Cookie');
  else if (!vary.split(',').some((v) => ['cookie', '*'].includes(v.trim().toLowerCase()))) headers.set('vary', `${vary}, Cookie`);
}

/**
 * `event.fetch` that never carries Baton's cookies off the app's origin. SvelteKit's own sends the
 * request's cookies to every subdomain of the app's host (`api.app.example` of `app.example`), though
 * a browser sends a host-only cookie — and a `__Host-` one — to that host alone (RFC 6265 §5.4):
 * the tokens would reach another service, the refresh token a long-lived credential. Such a call
 * goes with the app's other cookies, as SvelteKit would send them, without Baton's.
 */
function keepCookiesHome(event: RequestEvent, names: ReadonlySet<string>): void {
  const kitFetch = event.fetch;
  // `fetch` is read-only in SvelteKit's types; its runtime event is a plain object (it assigns `fetch` itself) that `resolve` copies.
  (event as { fetch: typeof fetch }).fetch = (input: string | URL | Request, init?: RequestInit) => {
    const request = input instanceof Request ? input : undefined;
    const url = new URL(request?.url ?? (input as string | URL), event.url);
    const credentials = init?.credentials ?? request?.credentials ?? 'same-origin';
    if (url.origin === event.url.origin || credentials === 'omit' || !`.${url.hostname}`.endsWith(`.${event.url.hostname}`)) return kitFetch(input, init);
    const headers = new Headers(init?.headers ?? request?.headers);
    const cookies = event.cookies
      .getAll({ decode: (v) => v })
      .filter((c) => !names.has(c.name))
      .map((c) => `${c.name}=${c.value}`);
    const own = headers.get('cookie');
    if (own !== null) cookies.push(own);
    if (cookies.length > 0) headers.set('cookie', cookies.join('; '));
    return kitFetch(new Request(request ?? url, { ...init, headers, credentials: 'omit' }));
  };
}

/**
 * SvelteKit's `handle` for Baton sessions (`src/hooks.server.ts`). On every request, before any
 * `load`, action or endpoint runs: the access cookie is verified; when it is missing or near its end
 * and a refresh cookie is there, the session is refreshed — once, however many requests of the same
 * browser arrive with the same refresh cookie (single flight, and the result remembered for late
 * racers) — and the new cookies are set through `event.cookies`, so that the response carries them
 * and every `event.fetch` the render makes to the app's own endpoints sends them (those sub-requests
 * then only verify). `event.locals.baton` holds the state and its snapshot. Every response that sets
 * a cookie, whoever set it (this hook, a form action's `batonSignIn`, the app), gets
 * `Cache-Control: private, no-store`, and so does one made for someone that says nothing of caching
 * itself or lets a shared cache keep it; one made for no one gets `Vary: Cookie`. `event.fetch` to
 * another origin never carries Baton's cookies. Read the session from `event.locals.baton` or
 * `event.cookies`, not from `event.request`'s `Cookie` header, which stays the one the browser sent.
 *
 * @example
 * ```ts
 * // src/hooks.server.ts
 * import { createBatonHandle } from 'baton-auth/sveltekit';
 *
 * export const handle = createBatonHandle({ issuer: 'https://auth.example.com', clientId: 'web' });
 * ```
 */
export function createBatonHandle(options: ServerSessionOptions): BatonHandle {
  const session = createServerSession(options);
  const now = options.now ?? Date.now;
  const { at, rt, end } = sessionCookieNames(options.cookies);
  const names = new Set([at, rt, end]);
  const handle: Handle = async ({ event, resolve }) => {
    keepCookiesHome(event, names);
    const { state, setCookies, requestCookie } = await session.refresh(event.request.headers.get('cookie'));
    linkSession(event.locals, session, requestCookie, now);
    applyCookies(event.cookies, setCookies);
    setLocals(event, session, state);
    const response = await resolve(event);
    const caching = cachingOf(event, response);
    return caching === 'private' ? withHeaders(response, noStore) : caching === 'vary' ? withHeaders(response, varyByCookie) : response;
  };
  return Object.assign(handle, { session });
}
