/**
 * The route handlers of `baton-auth/next` (`app/api/auth/[...baton]/route.ts`): `GET session` (the
 * snapshot), `GET token` (the access token for the page's calls to other APIs, same-origin only),
 * `POST signout` (CSRF-checked). Each may refresh — a route handler can write cookies — and every
 * answer is `Cache-Control: private, no-store`.
 */
import type { RefreshOutcome, ServerSession } from '../ssr/session.ts';
import { fromOurPages } from '../ssr/our-pages.ts';
import { noStore } from '../ssr/state.ts';

export interface HandlerSettings {
  basePath: string;
  allowedOrigins: ReadonlySet<string>;
  now: () => number;
}

function answer(body: unknown, status: number, setCookies: string[] = [], extra: Record<string, string> = {}): Response {
  const headers = noStore(new Headers({ 'content-type': 'application/json; charset=utf-8', ...extra }));
  for (const c of setCookies) headers.append('set-cookie', c);
  return new Response(JSON.stringify(body), { status, headers });
}

/**
 * Whether the browser says the request comes from our own pages: `Sec-Fetch-Site: same-origin`
 * (which no other site's page can make it send), or else an `Origin` that is ours — the host the
 * browser addressed (its `Host` header; Next may rebuild `request.url` with another name for the
 * same server) — or allowed. A request marked `cross-site` or `same-site`, or with neither header, is refused.
 */
export function ourPage(request: Request, allowed: ReadonlySet<string>): boolean {
  const host = request.headers.get('host');
  const ours = (origin: string) =>
    URL.canParse(origin) && (origin === new URL(request.url).origin || (host !== null && new URL(origin).host === host) || allowed.has(origin));
  return fromOurPages(request.headers, ours, false);
}

const crossSite = () => answer({ error: 'invalid_request', error_description: 'Cross-site request refused' }, 403);

/** The state as the token route answers it when there is no token to give. */
function noToken(outcome: RefreshOutcome): Response {
  const { state } = outcome;
  if (state.status === 'unavailable')
    return answer({ error: 'temporarily_unavailable', error_description: state.description }, 503, [], { 'retry-after': String(state.retryAfterSec) });
  const reason = state.status === 'signed-out' ? state.reason : null;
  return answer({ error: 'invalid_token', error_description: state.status === 'signed-out' ? state.description : '', reason }, 401, outcome.setCookies, {
    'www-authenticate': 'Bearer error="invalid_token"',
  });
}

/** `GET`/`POST` of the catch-all route. */
export function routeHandlers(
  session: ServerSession,
  s: HandlerSettings,
): { GET(request: Request): Promise<Response>; POST(request: Request): Promise<Response> } {
  const endpoint = (request: Request): string | undefined => {
    const path = new URL(request.url).pathname;
    return path.startsWith(`${s.basePath}/`) ? path.slice(s.basePath.length + 1) : undefined;
  };
  const notFound = () => answer({ error: 'not_found', error_description: 'No such endpoint' }, 404);
  return {
    async GET(request) {
      const name = endpoint(request);
      if (name !== 'session' && name !== 'token') return notFound();
      if (name === 'token' && !ourPage(request, s.allowedOrigins)) return crossSite();
      const outcome = await session.refresh(request.headers.get('cookie'));
      if (name === 'session') return answer(session.snapshot(outcome.state), 200, outcome.setCookies);
      const { state } = outcome;
      if (state.status !== 'signed-in') return noToken(outcome);
      if (state.claims.cnf !== undefined) {
        return answer(
          { error: 'invalid_request', error_description: "The tokens are bound to this server's DPoP key: call your APIs through the server" },
          400,
          outcome.setCookies,
        );
      }
      const expiresIn = Math.max(0, Math.floor((state.expiresAt - s.now()) / 1000));
      return answer({ access_token: state.accessToken, token_type: 'Bearer', expires_in: expiresIn }, 200, outcome.setCookies);
    },
    async POST(request) {
      if (endpoint(request) !== 'signout') return notFound();
      if (!ourPage(request, s.allowedOrigins)) return crossSite();
      const { setCookies } = await session.signOut(request.headers.get('cookie'));
      return answer({ status: 'signed-out', reason: 'logout', description: 'You signed out.' }, 200, setCookies);
    },
  };
}
