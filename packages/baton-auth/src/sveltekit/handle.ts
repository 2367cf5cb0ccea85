/**
 * The `handle` hook: one refresh per request at most, before anything renders, and the new cookies
 * where everything after it reads them.
 */
import type { RequestEvent } from '@sveltejs/kit';
import type { Handle } from '@sveltejs/kit/hooks';
import { createServerSession, noStore } from '../ssr/index.ts';
import type { ServerSession, ServerSessionOptions } from '../ssr/index.ts';
import { applyCookies, linkSession, setLocals } from './locals.ts';

/** `createBatonHandle`'s hook, with the session it runs on (for tests and for code outside a request). */
export type BatonHandle = Handle & { readonly session: ServerSession };

/**
 * Whether a response must stay out of shared caches: it sets a cookie (a token: RFC 9111 §5.2.2.7
 * `private` keeps it from a shared cache, §5.2.2.5 `no-store` from every cache), or it was made for a
 * request that carried the session's cookies and says nothing of caching itself (a page rendered
 * for one user must never be served to another).
 */
function mustBePrivate(event: RequestEvent, response: Response): boolean {
  if (response.headers.getSetCookie().length > 0) return true;
  return !response.headers.has('cache-control') && event.locals.baton.state.status !== 'signed-out';
}

/** `Cache-Control: private, no-store` on `response`, copied first when its headers are immutable (a `fetch` answer passed through). */
function privately(response: Response): Response {
  try {
    noStore(response.headers);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    noStore(copy.headers);
    return copy;
  }
}

/**
 * SvelteKit's `handle` for Baton sessions (`src/hooks.server.ts`). On every request, before any
 * `load`, action or endpoint runs: the access cookie is verified; when it is missing or near its end
 * and a refresh cookie is there, the session is refreshed — once, however many requests of the same
 * browser arrive with the same refresh cookie (single flight, and the result remembered for late
 * racers) — and the new cookies are set through `event.cookies`, so that the response carries them
 * and every `event.fetch` the render makes to the app's own endpoints sends them (those sub-requests
 * then only verify). `event.locals.baton` holds the state and its snapshot. Every response that sets
 * a cookie gets `Cache-Control: private, no-store`, whoever set it (this hook, a form action's
 * `batonSignIn`, the app). Read the session from `event.locals.baton` or `event.cookies`, not from
 * `event.request`'s `Cookie` header, which stays the one the browser sent.
 *
 * @example
 * ```ts
 * // src/hooks.server.ts
 * import { env } from '$env/dynamic/private';
 * import { createBatonHandle } from 'baton-auth/sveltekit';
 *
 * export const handle = createBatonHandle({ issuer: env.BATON_ISSUER, clientId: 'web' });
 * ```
 */
export function createBatonHandle(options: ServerSessionOptions): BatonHandle {
  const session = createServerSession(options);
  const now = options.now ?? Date.now;
  const handle: Handle = async ({ event, resolve }) => {
    const { state, setCookies, requestCookie } = await session.refresh(event.request.headers.get('cookie'));
    linkSession(event.locals, session, requestCookie, now);
    applyCookies(event.cookies, setCookies);
    setLocals(event, session, state);
    const response = await resolve(event);
    return mustBePrivate(event, response) ? privately(response) : response;
  };
  return Object.assign(handle, { session });
}
