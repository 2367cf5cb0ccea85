/**
 * `baton-auth/next`: Baton for the Next.js App Router (15.5 and 16), on `baton-auth/ssr`.
 *
 * - `proxy` for `proxy.ts` (16) or `middleware.ts` (15): refreshes once when the access token is
 *   missing or near its end, writes the new cookies on the response AND on the request it forwards,
 *   so every server component of that render reads the new token; `Cache-Control: private,
 *   no-store` on every response that sets a cookie.
 * - `auth()` for server components, route handlers and actions: verifies, never refreshes.
 * - `handlers` for `app/api/auth/[...baton]/route.ts`; `signIn`/`signOut`/`withRefresh` for server actions.
 *
 * @example
 * ```ts
 * // lib/baton.ts
 * import { createBatonNext } from 'baton-auth/next';
 * export const baton = createBatonNext({ issuer: process.env.BATON_ISSUER ?? 'http://127.0.0.1:3000', clientId: 'default' });
 * // proxy.ts
 * export const proxy = (request: NextRequest) => baton.proxy(request);
 * ```
 */
import { NextResponse } from 'next/server.js';
import type { NextRequest } from 'next/server.js';
import { BatonConfigError } from '../core/errors.ts';
import { checkOrigins } from '../protocol/origin.ts';
import type { SessionSnapshot } from '../protocol/session-snapshot.ts';
import { createServerSession } from '../ssr/session.ts';
import type { ServerSession } from '../ssr/session.ts';
import { noStore } from '../ssr/state.ts';
import type { ServerSessionOptions, SessionState } from '../ssr/types.ts';
import { cookieHeaderOf, writeCookies } from './cookies.ts';
import type { NextCookieStore } from './cookies.ts';
import { routeHandlers } from './handlers.ts';

/** Options of `createBatonNext`: the session's (`baton-auth/ssr`), and where the route handlers are mounted. */
export type BatonNextOptions = ServerSessionOptions & {
  /** Where `handlers` is mounted. Default `/api/auth` (`app/api/auth/[...baton]/route.ts`). */
  basePath?: string;
  /** Other origins whose pages may call `signout` and `token` (behind a proxy that rewrites the URL Next sees). */
  allowedOrigins?: string[];
  /** The cookie store of the current request. Default `cookies()` from `next/headers`; give another only in tests or a custom server. */
  cookieStore?: () => Promise<NextCookieStore>;
};

/** Baton in a Next.js app. */
export interface BatonNext {
  /** For `proxy.ts` (16) / `middleware.ts` (15): refresh once, cookies on the response and on the forwarded request. */
  proxy(request: NextRequest): Promise<NextResponse>;
  /** The session of this request, verified, never refreshed (server components, route handlers, actions). */
  auth(): Promise<SessionState>;
  /** `auth()` as a snapshot, for `<BatonSessionProvider session={…}>`. */
  session(): Promise<SessionSnapshot>;
  /** Mount at `app/api/auth/[...baton]/route.ts`: `export const { GET, POST } = baton.handlers;`. */
  handlers: { GET(request: Request): Promise<Response>; POST(request: Request): Promise<Response> };
  /**
   * Server action: signs in with the form's `username` and `password`, writing the cookies. `ip`: the
   * user's address as your platform tells it (never a header a browser can set), for the service's
   * login protection — without it every sign-in counts against this server's own address.
   */
  signIn(formData: FormData, options?: { ip?: string }): Promise<SessionState>;
  /** Server action: revokes the session at the service and clears the cookies. */
  signOut(): Promise<void>;
  /** Route handlers and actions without the proxy: refreshes through the same single flight, writes the cookies, then runs `fn`. */
  withRefresh<T>(fn: (state: SessionState) => Promise<T>): Promise<T>;
  /** A route handler that refreshes first and answers `fn`'s response with the cookies and `Cache-Control: private, no-store` when it set one. */
  route(fn: (request: Request, state: SessionState) => Promise<Response>): (request: Request) => Promise<Response>;
  /** The session core underneath (`baton-auth/ssr`). */
  readonly core: ServerSession;
}

async function nextCookies(): Promise<NextCookieStore> {
  const { cookies } = await import('next/headers.js');
  return (await cookies()) as unknown as NextCookieStore;
}

/** The proxy's response: the request forwarded with its Cookie header rewritten, the cookies set on the response. */
function forward(request: NextRequest, requestCookie: string | null, setCookies: string[]): NextResponse {
  if (setCookies.length === 0 && requestCookie === request.headers.get('cookie')) return NextResponse.next();
  const headers = new Headers(request.headers);
  if (requestCookie === null) headers.delete('cookie');
  else headers.set('cookie', requestCookie);
  const response = NextResponse.next({ request: { headers } });
  for (const c of setCookies) response.headers.append('set-cookie', c);
  if (setCookies.length > 0) noStore(response.headers);
  return response;
}

/**
 * Creates Baton for a Next.js app, against the standalone service (`issuer`) or a `Baton` in this process.
 */
export function createBatonNext(options: BatonNextOptions): BatonNext {
  const basePath = (options.basePath ?? '/api/auth').replace(/\/+$/, '');
  if (!basePath.startsWith('/')) throw new BatonConfigError('basePath must be a path that starts with "/" (default /api/auth).');
  const allowedOrigins = new Set(checkOrigins(options.allowedOrigins ?? [], 'createBatonNext allowedOrigins'));
  const store = options.cookieStore ?? nextCookies;
  const core = createServerSession(options);
  const now = options.now ?? Date.now;
  const auth = async () => core.read(cookieHeaderOf(await store()));
  const withRefresh = async <T>(fn: (state: SessionState) => Promise<T>): Promise<T> => {
    const cookies = await store();
    const { state, setCookies } = await core.refresh(cookieHeaderOf(cookies));
    writeCookies(cookies, setCookies);
    return fn(state);
  };
  return {
    core,
    async proxy(request) {
      const { requestCookie, setCookies } = await core.refresh(request.headers.get('cookie'));
      return forward(request, requestCookie, setCookies);
    },
    auth,
    session: async () => core.snapshot(await auth()),
    handlers: routeHandlers(core, { basePath, allowedOrigins, now }),
    async signIn(formData, signInOptions = {}) {
      const field = (name: string) => {
        const v = formData.get(name);
        return typeof v === 'string' ? v : '';
      };
      const ip = signInOptions.ip;
      const { state, setCookies } = await core.signIn({ username: field('username'), password: field('password'), ...(ip === undefined ? {} : { ip }) });
      writeCookies(await store(), setCookies);
      return state;
    },
    async signOut() {
      const cookies = await store();
      writeCookies(cookies, (await core.signOut(cookieHeaderOf(cookies))).setCookies);
    },
    withRefresh,
    route: (fn) => async (request) => {
      const { state, setCookies } = await core.refresh(request.headers.get('cookie'));
      const response = await fn(request, state);
      if (setCookies.length === 0) return response;
      const headers = noStore(new Headers(response.headers));
      for (const c of setCookies) headers.append('set-cookie', c);
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    },
  };
}

export { noStore };
export type { NextCookieStore, ServerSessionOptions, SessionSnapshot, SessionState };
