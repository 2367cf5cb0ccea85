/**
 * The session's endpoints for the browser, as one `+server.ts` (`src/routes/api/auth/[...baton]/+server.ts`):
 * - `GET {basePath}/session`: the snapshot (the handle refreshed first when it had to), `Cache-Control: private, no-store`;
 * - `GET {basePath}/token`: `{ access_token, expires_in }` for the page's calls to other APIs, to this origin's pages only;
 * - `POST {basePath}/signout`: revokes and clears, to this origin's pages only (CSRF).
 */
import type { RequestEvent, RequestHandler } from '@sveltejs/kit';
import { BatonConfigError } from '../core/errors.ts';
import { fromOurPages, noStore } from '../ssr/index.ts';
import { batonSignOut } from './actions.ts';
import { linkOf, sessionOf } from './locals.ts';

/** Options of `batonEndpoints`. */
export interface EndpointsOptions {
  /** Where the `+server.ts` is mounted. Default `/api/auth` (`src/routes/api/auth/[...baton]/+server.ts`). */
  basePath?: string;
}

function json(body: unknown, status: number, headers: Record<string, string> = {}): Response {
  const h = new Headers({ 'content-type': 'application/json', ...headers });
  noStore(h);
  return new Response(JSON.stringify(body), { status, headers: h });
}

const refused = (status: number, error: string, description: string, headers: Record<string, string> = {}) =>
  json({ error, error_description: description }, status, headers);

/**
 * Whether the request comes from this app's own pages: `Sec-Fetch-Site: same-origin` (Fetch Metadata,
 * which every current browser sends), or, from a browser that sends none, an `Origin` equal to this
 * app's. A request with neither is refused: whatever sent it is not one of our pages.
 */
function sameOrigin(event: RequestEvent): boolean {
  return fromOurPages(event.request.headers, (origin) => origin === event.url.origin, false);
}

/** `GET …/token`: the access token for the page's calls to other APIs, never to another site's page. */
function token(event: RequestEvent): Response {
  if (!sameOrigin(event)) return refused(403, 'invalid_request', 'Cross-site request refused');
  const { state } = event.locals.baton;
  if (state.status === 'unavailable') return refused(503, 'temporarily_unavailable', state.description, { 'retry-after': String(state.retryAfterSec) });
  if (state.status !== 'signed-in') return refused(401, 'invalid_token', state.description);
  const expiresIn = Math.max(0, Math.floor((state.expiresAt - linkOf(event, 'batonEndpoints').now()) / 1000));
  return json({ access_token: state.accessToken, token_type: 'Bearer', expires_in: expiresIn }, 200);
}

/** `POST …/signout`: JSON for a script; a plain HTML form is sent back to `/` (303). */
async function signout(event: RequestEvent): Promise<Response> {
  const origin = event.request.headers.get('origin');
  if (origin === null ? !sameOrigin(event) : origin !== event.url.origin) return refused(403, 'invalid_request', 'Cross-site request refused');
  await batonSignOut(event);
  if ((event.request.headers.get('accept') ?? '').includes('text/html')) return new Response(null, { status: 303, headers: { location: '/' } });
  return json(event.locals.baton.snapshot, 200);
}

/**
 * The endpoints' `GET` and `POST`, for `export const { GET, POST } = batonEndpoints();` in
 * `src/routes/api/auth/[...baton]/+server.ts`. They run behind the handle (which refreshed when the
 * access token was near its end and set the cookies): they read `event.locals.baton`.
 *
 * @example
 * ```ts
 * // src/routes/api/auth/[...baton]/+server.ts
 * import { batonEndpoints } from 'baton-auth/sveltekit';
 * export const { GET, POST } = batonEndpoints();
 * ```
 */
export function batonEndpoints(options: EndpointsOptions = {}): { GET: RequestHandler; POST: RequestHandler } {
  const base = (options.basePath ?? '/api/auth').replace(/\/+$/, '');
  if (!base.startsWith('/'))
    throw new BatonConfigError(`batonEndpoints basePath must be a path from the site's root, like '/api/auth' (got '${options.basePath}').`);
  const notFound = () => refused(404, 'invalid_request', `Not one of Baton's endpoints: ${base}/session, ${base}/token (GET), ${base}/signout (POST)`);
  return {
    GET: async (event) => {
      sessionOf(event, 'batonEndpoints');
      const path = event.url.pathname;
      if (path === `${base}/session`) return json(event.locals.baton.snapshot, 200);
      if (path === `${base}/token`) return token(event);
      return notFound();
    },
    POST: async (event) => {
      sessionOf(event, 'batonEndpoints');
      return event.url.pathname === `${base}/signout` ? signout(event) : notFound();
    },
  };
}
