/**
 * What every endpoint of the handler shares, resolved once when the handler is created.
 */
import type { AccessTokenClaims } from '../core/access-token.ts';
import type { Baton, TokenPair } from '../core/baton.ts';
import type { AuthzContext } from '../authz/context.ts';
import { isThirdParty } from './clients.ts';
import type { ClientRegistry } from './clients.ts';
import type { Registration } from '../authz/registration.ts';
import { setCookie } from './cookies.ts';
import type { CookieOptions } from './cookies.ts';
import { createGuard } from './guard.ts';
import type { LRUCache } from 'lru-cache';
import type { LoginProtection } from './login-protection.ts';
import { Refusal } from './refusal.ts';
import { HttpError, json } from './respond.ts';
import { serviceUrls } from './urls.ts';
import type { RequestSpans } from './trace.ts';
import type { Passkeys } from '../passkeys/types.ts';

/** Who a username and password belong to and the scopes they may have (space-separated), or null. */
export type Authenticate = (username: string, password: string) => Promise<{ userId: string; scope?: string } | null>;

/** A logger shaped like pino's; Baton never passes it a token or a password. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Per-request facts the adapter knows and the Request does not. */
export interface RequestContext {
  /** The client's address, from the socket (or a trusted proxy's header). */
  ip?: string;
}

/** An endpoint: a function per method. */
export type Route = Record<string, (request: Request, ctx: RequestContext, params: string[]) => Promise<Response>>;

/** The handler's shared state, given to every endpoint. */
export interface HandlerContext {
  baton: Baton;
  issuer: string;
  authenticate: Authenticate;
  /** The name a user id signs in with (`GET /auth/me`), when the application says. */
  username: ((userId: string) => Promise<string | undefined>) | undefined;
  clients: ClientRegistry;
  defaultClientId: string;
  /** The resources (RFC 8707) the service issues tokens for. */
  resources: ReadonlySet<string>;
  /** Advertised as `scopes_supported` (RFC 8414 §2), when known. */
  scopes: readonly string[] | undefined;
  allowedOrigins: ReadonlySet<string>;
  /** The refresh-token cookie. */
  cookie: CookieOptions;
  maxBodyBytes: number;
  loginProtection: LoginProtection;
  /** Wrong client secrets, at every endpoint that authenticates clients. */
  clientProtection: LoginProtection;
  /** Recent successful client authentications (`client-auth.ts`). */
  recentClientAuths: LRUCache<string, string>;
  log: Logger | undefined;
  /** Whether the token endpoints take DPoP proofs now (`AuthHandlerOptions.dpop`). */
  dpop: () => boolean;
  /** Responses that stream (the revocation feed): registered so that the handler can end them. */
  /** The authorization endpoint's options, resolved (`authz/context.ts`). */
  authz: AuthzContext;
  streams: { readonly closed: boolean; count(owner: string): number; add(close: () => void, owner: string): () => void; closeAll(final?: boolean): void };
  /** The span of each request (`trace.ts`). */
  spans: RequestSpans;
  /** RFC 7591 registration, when on (`authorization.registration`). */
  registration?: Registration;
  /** Passkeys (`AuthHandlerOptions.passkeys`), when on. */
  passkeys?: Passkeys;
  /** The scopes a user may have when signing in without a password, undefined for no such user (`AuthHandlerOptions.userScope`). */
  userScope?: ((userId: string) => Promise<string | undefined>) | undefined;
}

const notAllowed = (what: string, origin: string): HttpError =>
  new HttpError(
    'ERR_ORIGIN_REFUSED',
    `${what} from ${origin.slice(0, 100)} are refused: it is not an allowed origin. Allow it with the handler's allowedOrigins (the service: BATON_ALLOWED_ORIGINS=${origin.slice(0, 100)})`,
  );

/**
 * CSRF guard of cookie-authenticated requests: the browser must say it comes from an allowed
 * origin (`Origin`, or `Sec-Fetch-Site: same-origin` where a browser sends no Origin).
 */
export function checkCsrf(c: HandlerContext, request: Request): void {
  const origin = request.headers.get('origin');
  const site = request.headers.get('sec-fetch-site');
  if (origin !== null ? c.allowedOrigins.has(origin) : site === 'same-origin') return;
  if (origin !== null) throw notAllowed('Cookie-based requests', origin);
  throw new HttpError('ERR_ORIGIN_REFUSED', 'Cookie-based requests must say where they come from (Origin or Sec-Fetch-Site)');
}

/**
 * A request a browser makes on another site's behalf is refused before it is decided or counted:
 * a cross-site form post is a simple request (no CORS preflight), and a navigation to
 * `https://client:guess@…/oauth/revocations` makes a browser answer a Basic challenge with the
 * URL's credentials, so without this any page could spend its visitors' login and client-secret
 * budgets and lock a whole network out. Fetch §3.1 sends `Origin` with every POST and every
 * cross-origin request; Fetch Metadata's `Sec-Fetch-Site` marks a cross-site navigation. A request
 * with neither (a server, a native app, curl) is not a browser's and passes.
 */
export function refuseCrossSite(c: HandlerContext, request: Request): void {
  const origin = request.headers.get('origin');
  if (origin !== null) {
    if (!c.allowedOrigins.has(origin)) throw notAllowed('Requests', origin);
  } else if (request.headers.get('sec-fetch-site') === 'cross-site') {
    throw new HttpError('ERR_ORIGIN_REFUSED', 'Cross-site requests are refused (Sec-Fetch-Site: cross-site)');
  }
}

/** The claims of a user's access token: one of a session. */
export type SessionClaims = Readonly<AccessTokenClaims> & { readonly sid: string };

/**
 * The claims of the request's access token (Bearer, or DPoP-bound with its proof), which must be one of a user's session, or the
 * RFC 6750 refusal to send (a `client_credentials` token belongs to no session: 403).
 */
export async function bearer(c: HandlerContext, request: Request): Promise<SessionClaims | Response> {
  const url = new URL(request.url);
  const guard = createGuard<Request>(c.baton, { audience: c.baton.audience }, (r) => ({
    proof: r.headers.get('dpop'),
    method: r.method,
    url: serviceUrls(c, r),
  }));
  const claims = await guard(request.headers.get('authorization'), url.search, request);
  if (claims instanceof Refusal) return json(claims.body, claims.status, claims.headers);
  if (claims.sid === undefined) {
    return json(
      { error: 'insufficient_scope', error_description: 'This endpoint serves signed-in users; a client_credentials token belongs to no session' },
      403,
      {
        'www-authenticate': 'Bearer realm="baton", error="insufficient_scope"',
      },
    );
  }
  return claims as SessionClaims;
}

/**
 * `bearer` for the account's own endpoints (`/auth/me`, sessions, history, logout, consents): a
 * third-party app's token is 403 `insufficient_scope` there. The user allowed that app the scopes
 * its consent page listed, not the management of the account — listing and ending the user's
 * sessions, reading their addresses, revoking other apps' consents. UserInfo stays open to it.
 */
export async function accountBearer(c: HandlerContext, request: Request): Promise<SessionClaims | Response> {
  const claims = await bearer(c, request);
  if (claims instanceof Response) return claims;
  const client = await c.clients.get(claims.client_id);
  if (client === null || !isThirdParty(client)) return claims;
  return json({ error: 'insufficient_scope', error_description: "This endpoint serves the account's own apps; a third-party app's token cannot use it" }, 403, {
    'www-authenticate': 'Bearer realm="baton", error="insufficient_scope"',
  });
}

/**
 * A token response (RFC 6749 §5.1: `no-store`, as every `json` answer); browsers that asked for it
 * get the refresh token only as a cookie. `extra` headers: the next DPoP nonce; `fields`: members beyond the pair's (`id_token`).
 */
export function tokenResponse(
  c: HandlerContext,
  pair: TokenPair,
  viaCookie: boolean,
  extra: Record<string, string> = {},
  fields: Record<string, unknown> = {},
): Response {
  const body: Record<string, unknown> = { access_token: pair.access_token, token_type: pair.token_type, expires_in: pair.expires_in, ...fields };
  if (pair.scope !== undefined) body.scope = pair.scope;
  body.session_id = pair.session_id;
  if (viaCookie) return json(body, 200, { ...extra, 'set-cookie': setCookie(pair.refresh_token, { ...c.cookie, maxAgeSec: pair.refresh_expires_in }) });
  body.refresh_token = pair.refresh_token;
  body.refresh_expires_in = pair.refresh_expires_in;
  return json(body, 200, extra);
}

/** `Set-Cookie` that clears the refresh cookie. */
export function clearCookie(c: HandlerContext): string {
  return setCookie('', { ...c.cookie, maxAgeSec: 0 });
}
