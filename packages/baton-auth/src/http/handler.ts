/**
 * The token service over HTTP as one Web-standard function: `handler(request) → Response`.
 * Import from `baton-auth/http`. Any framework can mount it; the adapters only translate.
 *
 * @example
 * ```ts
 * import { createAuthHandler, staticClients } from 'baton-auth/http';
 * const handler = createAuthHandler({
 *   baton,
 *   authenticate: async (u, p) => (await checkPassword(u, p)) ? { userId: u, scope: 'profile orders:read' } : null,
 *   clients: staticClients([{ id: 'web', scopes: ['profile', 'orders:read'] }]),
 *   defaultClientId: 'web',
 * });
 * const response = await handler(new Request('https://auth.example.com/.well-known/oauth-authorization-server'));
 * ```
 */
import type { Baton } from '../core/baton.ts';
import { BatonConfigError } from '../core/errors.ts';
import { checkScopes } from '../core/scope.ts';
import { checkResources, staticClients } from './clients.ts';
import type { ClientRegistry } from './clients.ts';
import { refuseCrossSite } from './context.ts';
import type { Authenticate, HandlerContext, Logger, RequestContext, Route } from './context.ts';
import { checkCookieSecure, cookieName } from './cookies.ts';
import { checkOrigins, CLIENT_ORIGIN_ROUTES, corsHeaders, preflight } from './cors.ts';
import { sameMachine } from '../protocol/loopback.ts';
import { recentClientAuths } from './client-auth.ts';
import { createLoginProtection, type LoginProtection } from './login-protection.ts';
import { answerFor } from './lazy-response.ts';
import { httpDate, httpErrorOf, HttpError, oauthError } from './respond.ts';
import { introspect } from './routes/introspect.ts';
import { revocations } from './routes/revocations.ts';
import { login } from './routes/login.ts';
import { history, logout, me, session, sessions } from './routes/account.ts';
import { jwks, metadata } from './routes/metadata.ts';
import { revoke } from './routes/revoke.ts';
import { token } from './routes/token.ts';
import { withDocuments } from '../authz/client-metadata.ts';
import { checkRegistration, registration } from '../authz/registration.ts';
import { openStreams } from './streams.ts';
import { RequestSpans } from './trace.ts';
import { activeWith } from '../core/tracing.ts';
import { match } from './match.ts';
import type { Found } from './match.ts';
import { context as otel } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import { authzContext, type AuthorizationOptions } from '../authz/context.ts';
import { authorizeRoute } from '../authz/authorize.ts';
import { consent, consentRoute, consents } from '../authz/consent.ts';
import { signInRoute } from '../authz/hosted.ts';
import { parRoute } from '../authz/par.ts';
import { openidConfiguration } from '../authz/oidc-metadata.ts';
import { userinfo } from '../authz/userinfo.ts';
import { endSessionConfirmRoute, endSessionRoute } from '../authz/end-session.ts';
import { serverMetadata } from './routes/metadata.ts';
import { passkeyContext, passkeyRoutes } from './routes/passkeys.ts';
import type { PasskeyHandlerOptions } from './routes/passkeys.ts';
import { PROVIDER_CALLBACK, providerRoutes } from '../upstream/routes.ts';

export type { Authenticate, Logger, RequestContext } from './context.ts';

/** Public documents any site may read (RFC 8414 metadata, the JWKS): the only routes without a cross-site check. */
const PUBLIC = (path: string): boolean => path.startsWith('/.well-known/');
/**
 * The authorization endpoint: a top-level navigation from the client's site, which changes nothing
 * by itself (its forms post same-origin with a CSRF cookie), so not refused as cross-site. The same
 * for RP-initiated logout (`authz/end-session.ts`): it signs out at once only with an ID token of
 * the browser's own user, and asks otherwise.
 */
const NAVIGATION = (path: string): boolean => path === '/oauth/authorize' || path === '/oauth/end-session' || path === PROVIDER_CALLBACK;

/** Options of `createAuthHandler`. */
export interface AuthHandlerOptions extends PasskeyHandlerOptions {
  baton: Baton;
  /** Checks a username and password (your user table) and says which scopes the user may have. */
  authenticate: Authenticate;
  /**
   * The name a user signs in with, for `GET /auth/me`'s `username`; undefined (or no function):
   * the answer has only `sub`, the user id.
   */
  username?: (userId: string) => Promise<string | undefined>;
  /** The service's public origin and path, e.g. `https://auth.example.com`; defaults to the engine's issuer. */
  issuer?: string;
  /**
   * The registered clients. Default: one public client, `defaultClientId`, that adds no scope
   * limit of its own. An unknown client gets `invalid_client`.
   */
  clients?: ClientRegistry;
  /** The client a request acts as when it names none. Default `'default'`. */
  defaultClientId?: string;
  /**
   * The resources (RFC 8707) this service issues tokens for: the identifiers of your APIs, e.g.
   * `https://api.example.com`. A login, refresh or `client_credentials` request may name some with
   * `resource`, and its access token's `aud` is then that API; another is `invalid_target`.
   * Default none: every token's `aud` is the Baton's `audience`.
   */
  resources?: string[];
  /** The scopes this service grants, advertised as `scopes_supported` (RFC 8414 §2). */
  scopes?: string[];
  /**
   * Origins besides the issuer's own whose pages may call the endpoints (the CSRF guard lets them
   * through) and read their answers (CORS), e.g. `https://app.example.com`: exact origins, no path.
   */
  allowedOrigins?: string[];
  /**
   * The refresh-token cookie: `__Host-baton_rt` with `Path=/`, HttpOnly, SameSite=Strict, Secure
   * (bound to this host: see `cookies.ts`); on a plain-http localhost issuer, `baton_rt` with path
   * `<issuer path>/oauth/token`. `secure: false` only for a plain-http loopback issuer (a BatonConfigError otherwise).
   */
  cookie?: { name?: string; secure?: boolean };
  /** Failed logins: default 10 in a row per username and address, 100 a day per address, in memory (`createLoginProtection`). */
  loginProtection?: LoginProtection;
  /** The same for wrong client secrets, wherever a client authenticates (token, revocation, introspection, login). */
  clientProtection?: LoginProtection;
  /** Largest accepted body in bytes. Default 16 KiB. */
  maxBodyBytes?: number;
  /**
   * Whether the token endpoints take DPoP proofs and the metadata advertises them (RFC 9449 §5.1),
   * asked at each request. Default true. While false, a proof is ignored, as by a server without
   * DPoP, and tokens are Bearer; a client that requires DPoP is refused. A bound session still
   * refreshes with its proof, and bound access tokens are verified. The standalone service holds
   * DPoP back until every instance on its store supports it.
   */
  dpop?: boolean | (() => boolean);
  logger?: Logger;
  /**
   * The authorization endpoint (`/oauth/authorize`, PAR, the hosted sign-in and consent pages):
   * always on; by default with the hosted sign-in page, checking passwords with `authenticate`.
   * With `currentUser` and `signInUrl`, your app signs users in instead (library-first).
   */
  authorization?: AuthorizationOptions;
}

/** The handler: every endpoint as `Request → Response`; `handles(path)` says whether a path is one of them. */
export type AuthHandler = ((request: Request, context?: RequestContext) => Promise<Response>) & {
  handles(pathname: string): boolean;
  /** The largest body it reads; 413 beyond. */
  readonly maxBodyBytes: number;
  /** The browser origins it takes state-changing and client-authenticated requests from (the issuer's and `allowedOrigins`). */
  readonly allowedOrigins: ReadonlySet<string>;
  /**
   * Ends the responses that stream (the revocation feed): their clients reconnect. `final` (the
   * server is stopping): streams opened later end at once, so that none holds the server open.
   */
  closeStreams?(final?: boolean): void;
};

const always = (on: boolean) => () => on;

/** The options checked and resolved, as the context every route works with; `base` is the issuer's path. */
function handlerContext(options: AuthHandlerOptions): { c: HandlerContext; base: string } {
  const given = options.issuer ?? options.baton.issuer;
  if (typeof given !== 'string' || !URL.canParse(given))
    throw new BatonConfigError(`createAuthHandler: issuer must be the service's URL, e.g. https://auth.example.com, not ${JSON.stringify(given)}.`);
  const issuer = given.replace(/\/$/, '');
  const base = new URL(issuer).pathname.replace(/\/$/, '');
  const secure = checkCookieSecure(issuer, options.cookie?.secure ?? true, 'createAuthHandler: cookie.secure');
  const cookiePath = `${base}/oauth/token`;
  const defaultClientId = options.defaultClientId ?? 'default';
  // An origin is compared as the exact string a browser sends (Fetch §3.1): a path, a trailing
  // slash or `null` (every sandboxed page's) would never match, or match far too much.
  const allowedOrigins = checkOrigins(options.allowedOrigins ?? [], 'allowedOrigins');
  const c: HandlerContext = {
    baton: options.baton,
    issuer,
    authenticate: options.authenticate,
    username: options.username,
    clients: withDocuments(options.clients ?? staticClients([{ id: defaultClientId }]), options.authorization?.clientMetadataDocuments, options.logger),
    defaultClientId,
    resources: new Set(checkResources(options.resources ?? [], 'createAuthHandler: resources')),
    scopes: options.scopes === undefined ? undefined : checkScopes(options.scopes, 'createAuthHandler: scopes'),
    allowedOrigins: new Set([...sameMachine(new URL(issuer)), ...allowedOrigins]),
    cookie: { name: options.cookie?.name ?? cookieName('baton_rt', secure ? '/' : cookiePath, secure), path: secure ? '/' : cookiePath, secure },
    maxBodyBytes: options.maxBodyBytes ?? 16 * 1024,
    loginProtection: options.loginProtection ?? createLoginProtection(),
    clientProtection: options.clientProtection ?? createLoginProtection({ keyPrefix: 'client' }),
    recentClientAuths: recentClientAuths(),
    log: options.logger,
    streams: openStreams(),
    spans: new RequestSpans(),
    authz: authzContext(options.baton, options.authorization),
    dpop: typeof options.dpop === 'function' ? options.dpop : always(options.dpop ?? true),
    ...passkeyContext(options),
  };
  if (options.authorization?.registration) c.registration = checkRegistration(options.authorization.registration, c.clients);
  return { c, base };
}

/** The route table: one file per endpoint under `routes/`; `*` matches one path segment. */
function routeTable(c: HandlerContext, base: string): Record<string, Route> {
  return {
    '/.well-known/oauth-authorization-server': metadata(c),
    // RFC 8414 §3.1: an issuer with a path has its metadata at /.well-known/oauth-authorization-server/<path>.
    ...(base === '' ? {} : { [`/.well-known/oauth-authorization-server${base}`]: metadata(c) }),
    '/.well-known/jwks.json': jwks(c),
    '/auth/login': login(c),
    '/oauth/token': token(c),
    '/oauth/revoke': revoke(c),
    '/oauth/introspect': introspect(c),
    '/oauth/revocations': revocations(c),
    '/auth/logout': logout(c),
    '/auth/sessions': sessions(c),
    '/auth/sessions/history': history(c),
    '/auth/sessions/*': session(c),
    '/auth/me': me(c),
    '/oauth/authorize': authorizeRoute(c),
    '/oauth/authorize/sign-in': signInRoute(c),
    '/oauth/authorize/consent': consentRoute(c),
    '/oauth/par': parRoute(c),
    '/auth/consents': consents(c),
    '/auth/consents/*': consent(c),
    // OpenID Connect (authz/, H2): Discovery §4 (appended to an issuer's path), UserInfo (Core §5.3).
    '/.well-known/openid-configuration': openidConfiguration(c, () => serverMetadata(c)),
    '/oauth/userinfo': userinfo(c, c.authz.options.claims),
    // RP-Initiated Logout 1.0, and its confirmation form (same-origin only).
    '/oauth/end-session': endSessionRoute(c),
    '/oauth/end-session/confirm': endSessionConfirmRoute(c),
    ...(c.registration === undefined ? {} : { '/oauth/register': registration(c, c.registration) }),
    ...passkeyRoutes(c),
    ...(c.authz.providers === undefined ? {} : providerRoutes(c)),
  };
}

/** The answer of the route found (a preflight, the method's, or the OAuth error of what it threw, told to `spans`). */
async function serveRoute(c: HandlerContext, request: Request, context: RequestContext, found: Found | undefined, span: Span): Promise<Response> {
  const route = found?.name ?? 'unknown route';
  const isPublic = found !== undefined && PUBLIC(found.name);
  try {
    if (found === undefined) throw new HttpError('ERR_NOT_FOUND', 'No such endpoint');
    const method = request.method === 'HEAD' && found.route.GET ? 'GET' : request.method;
    const serve = found.route[method];
    const allow = [...Object.keys(found.route), 'OPTIONS'];
    // A CORS preflight is answered from the route table alone: no store, no counter (cors.ts).
    if (method === 'OPTIONS') return preflight(c, request, found.name, isPublic, allow);
    if (serve === undefined) throw new HttpError('ERR_METHOD_NOT_ALLOWED', `Use ${allow.join(', ')}`, { headers: { allow: allow.join(', ') } });
    // Token and revocation: checked by the route with the client it names (authz/client-origin.ts).
    if (!isPublic && !NAVIGATION(found.name) && !CLIENT_ORIGIN_ROUTES.has(found.name)) refuseCrossSite(c, request);
    return await serve(request, context, found.params);
  } catch (err) {
    const http = httpErrorOf(err);
    c.spans.refused(span, http.code);
    // The error's name and where it was thrown, never its message: a library's message may quote its input.
    if (http.status >= 500 && http.status !== 503)
      c.log?.error(
        { event: 'error', route, err: err instanceof Error ? `${err.name} ${err.stack?.split('\n')[1]?.trim() ?? ''}` : typeof err },
        'request failed',
      );
    return oauthError(http);
  }
}

/** The headers every answer carries: CORS for the route found, and the engine's date. */
function finish(c: HandlerContext, request: Request, response: Response, found: Found | undefined): void {
  // Which pages of other origins may read the answer (its errors too: a page must see invalid_grant).
  if (found !== undefined) {
    try {
      for (const [name, value] of Object.entries(corsHeaders(c, request, found.name, PUBLIC(found.name)))) response.headers.set(name, value);
    } catch {
      // Immutable headers (a redirect): no page reads a redirect's answer anyway.
    }
  }
  // Every answer is dated on the engine's clock, which a step of the wall clock does not move
  // (core/clock.ts): clients that time their DPoP proofs by it (RFC 9449 §4.3, iat) keep agreeing with it.
  if (!response.headers.has('date')) {
    try {
      response.headers.set('date', httpDate(c.baton.now()));
    } catch {
      // Immutable headers (a redirect): the server's own Date stands.
    }
  }
}

/** Creates the handler of every endpoint of the token service. */
export function createAuthHandler(options: AuthHandlerOptions): AuthHandler {
  const { c, base } = handlerContext(options);
  const routes = routeTable(c, base);
  const local = (pathname: string): string => (pathname.startsWith(base) ? pathname.slice(base.length) || '/' : pathname);
  const handler = async function handler(request: Request, context: RequestContext = {}): Promise<Response> {
    const found = match(routes, local(new URL(request.url).pathname));
    const parent = c.spans.parent(request);
    const span = c.spans.start(request, found?.name, parent);
    const active = activeWith(span, parent);
    // Made the active span only when it records or carries a trace (core/tracing.ts): the no-op API's costs nothing more.
    const response = await (active === undefined
      ? serveRoute(c, request, context, found, span)
      : otel.with(active, serveRoute, undefined, c, request, context, found, span));
    finish(c, request, response, found);
    c.spans.end(span, request, found?.name, response.status, context.ip);
    // Logs carry the route (its table entry), never the path: a path is the caller's to fill,
    // with a token pasted into it as easily as anything else.
    c.log?.info({ method: request.method, route: found?.name ?? 'unknown route', status: response.status }, 'request');
    return answerFor(request, response);
  };
  return Object.assign(handler, {
    handles: (pathname: string) => match(routes, local(pathname)) !== undefined,
    maxBodyBytes: c.maxBodyBytes,
    allowedOrigins: c.allowedOrigins,
    closeStreams: (final?: boolean) => c.streams.closeAll(final),
  });
}
