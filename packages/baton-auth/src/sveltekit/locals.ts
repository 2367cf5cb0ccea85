/**
 * What the handle leaves on each request for the rest of the app: `event.locals.baton` (the
 * session's state and its snapshot), and — kept out of `locals`' type — the `ServerSession` that
 * made it, for the helpers (`batonLoad`, `batonSignIn`, `batonSignOut`, `batonEndpoints`) that
 * run later in the same request.
 */
import type { Cookies, RequestEvent } from '@sveltejs/kit';
import { BatonConfigError } from '../core/errors.ts';
import type { SessionSnapshot } from '../protocol/session-snapshot.ts';
import { fromOurPages } from '../ssr/index.ts';
import type { ServerSession, SessionState } from '../ssr/index.ts';

/** `event.locals.baton`: the session of this request, as the handle found it (refreshed if it had to be). */
export interface BatonLocals {
  /** The state: `signed-in` with the claims and the access token (for calls to other APIs), `signed-out` with why, or `unavailable`. */
  state: SessionState;
  /** The state without any token, for a `load` to send to the browser. */
  snapshot: SessionSnapshot;
}

declare global {
  // SvelteKit's app-wide types (src/app.d.ts): every `event.locals` has `baton`, set by `createBatonHandle`.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace App {
    interface Locals {
      baton: BatonLocals;
    }
  }
}

/** What the handle knows of a request: the session, and the `Cookie` header as it is after the handle's refresh. */
interface Link {
  session: ServerSession;
  cookie: string | null;
  /** The session's clock (its `now` option), ms. */
  now: () => number;
}

/** Each request's link, by its `locals` (a request's `locals` is its own object; sub-requests get theirs). */
const links = new WeakMap<object, Link>();

/** Links a request to its session and its current `Cookie` header (the handle does, first thing, and again after a refresh). */
export function linkSession(locals: object, session: ServerSession, cookie: string | null, now: () => number): void {
  links.set(locals, { session, cookie, now });
}

/**
 * The request's `Cookie` header with the handle's new tokens in it (the core's `requestCookie`):
 * what a helper that calls the session again presents, rather than the one the browser sent, whose
 * refresh token the handle has just rotated.
 */
export function currentCookie(event: Pick<RequestEvent, 'locals'>): string | null {
  return links.get(event.locals)?.cookie ?? null;
}

/** The session the handle linked to this request (with its clock); a sentence to fix the app when there is none. */
export function linkOf(event: Pick<RequestEvent, 'locals'>, helper: string): Link {
  const link = links.get(event.locals);
  if (link === undefined) {
    throw new BatonConfigError(
      `${helper} needs the Baton handle: export const handle = createBatonHandle(…) from src/hooks.server.ts (in sequence() if you have other handles).`,
    );
  }
  return link;
}

/** The session the handle linked to this request; a sentence to fix the app when there is none. */
export function sessionOf(event: Pick<RequestEvent, 'locals'>, helper: string): ServerSession {
  return linkOf(event, helper).session;
}

/**
 * Whether a browser sent this request from another site's page: its Fetch Metadata says so (a
 * `Sec-Fetch-Site` other than `same-origin`, which every current browser sends), or, from a browser
 * that sends none, its `Origin` is not this app's (`null` included). With neither header it is no
 * browser's form, so nothing a visitor's cookies could be forged with.
 */
export function crossSite(event: Pick<RequestEvent, 'request' | 'url'>): boolean {
  return !fromOurPages(event.request.headers, (origin) => origin === event.url.origin, true);
}

/** Sets the state on `locals`, with its snapshot. */
export function setLocals(event: Pick<RequestEvent, 'locals'>, session: ServerSession, state: SessionState): BatonLocals {
  const baton = { state, snapshot: session.snapshot(state) };
  event.locals.baton = baton;
  return baton;
}

/**
 * Applies the core's `Set-Cookie` strings through SvelteKit's `cookies` (its documented way for
 * cookies from elsewhere, `cookies.parse`): SvelteKit then writes them on the response, and sends
 * the new values with every `event.fetch` to this app during the same request, so a `load`'s
 * calls to the app's own endpoints read the refreshed token instead of refreshing again. Values
 * are written as they are (tokens are base64url: nothing to encode). Attributes the string leaves
 * out are left out, never taken from SvelteKit's defaults (which would add `Secure` on plain-http
 * loopback, where the browser then drops the cookie).
 */
export function applyCookies(cookies: Cookies, setCookies: readonly string[]): void {
  for (const header of setCookies) {
    const { name, value, ...options } = cookies.parse(header, { decode: (v) => v });
    cookies.set(name, value ?? '', {
      ...options,
      path: options.path ?? '/',
      httpOnly: options.httpOnly ?? false,
      secure: options.secure ?? false,
      sameSite: options.sameSite ?? false,
      encode: (v) => v,
    });
  }
}
