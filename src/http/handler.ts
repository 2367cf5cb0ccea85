/**
 * The token service over HTTP as one Web-standard function: `handler(request) → Response`.
 * Import from `baton/http`. Any framework can mount it; the adapters only translate.
 *
 * @example
 * ```ts
 * import { createAuthHandler } from 'baton/http';
 * const handler = createAuthHandler({ baton, authenticate: async (u, p) => (await checkPassword(u, p)) ? { userId: u } : null });
 * const response = await handler(new Request('https://auth.example.com/.well-known/oauth-authorization-server'));
 * ```
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { basicClientId, createLoginProtection, tooManyAttempts } from './login-protection.ts';
import type { LoginProtection } from './login-protection.ts';
import type { Baton } from '../core/service.ts';
import type { AccessTokenClaims } from '../core/access-token.ts';
import {
  fromBatonError, HttpError, json, oauthError, readCookie, readFields, setCookie,
} from './respond.ts';
import { checkBearer } from './guard.ts';

/** Who a username and password belong to, or null. */
export type Authenticate = (username: string, password: string) => Promise<{ userId: string; scope?: string } | null>;

/** A logger shaped like pino's; Baton never passes it a token or a password. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Options of `createAuthHandler`. */
export interface AuthHandlerOptions {
  baton: Baton;
  /** Checks a username and password (your user table); the standalone server brings its own. */
  authenticate: Authenticate;
  /** The service's public origin and path, e.g. `https://auth.example.com`; defaults to the engine's issuer. */
  issuer?: string;
  /** Origins allowed to make cookie-based requests (CSRF), besides the issuer's own. */
  allowedOrigins?: string[];
  /** The refresh-token cookie. Default `baton_rt`, `Secure`, path `/oauth/token`. */
  cookie?: { name?: string; secure?: boolean };
  /** Credentials of resource servers that may call `/oauth/introspect` (`client_secret_basic`). */
  introspectionClients?: Record<string, string>;
  /** Failed logins: default 10 in a row per username and address, 100 a day per address, in memory (`createLoginProtection`). */
  loginProtection?: LoginProtection;
  /** The same for the client authentication of `/oauth/introspect`. */
  introspectionProtection?: LoginProtection;
  /** Largest accepted body in bytes. Default 16 KiB. */
  maxBodyBytes?: number;
  logger?: Logger;
  /** Serves `GET /` (the web page). */
  page?: () => Response | Promise<Response>;
  /** Extra routes handled before the 404 (e.g. the web page's script). */
  assets?: Record<string, () => Response | Promise<Response>>;
}

/** Per-request facts the adapter knows and the Request does not. */
export interface RequestContext {
  /** The client's address, from the socket (never from a header unless you trust a proxy). */
  ip?: string;
}

/** The handler: every endpoint as `Request → Response`; `handles(path)` says whether a path is one of them. */
export type AuthHandler = ((request: Request, context?: RequestContext) => Promise<Response>) & {
  handles(pathname: string): boolean;
  /** The largest body it reads; 413 beyond. */
  readonly maxBodyBytes: number;
};

interface Route {
  methods: Record<string, (request: Request, ctx: RequestContext, params: string[]) => Promise<Response>>;
}

const DELIVERY_FIELD = 'refresh_token_delivery';

/** Creates the handler of every endpoint of the token service. */
export function createAuthHandler(options: AuthHandlerOptions): AuthHandler {
  const { baton } = options;
  const issuer = (options.issuer ?? baton.issuer).replace(/\/$/, '');
  const base = new URL(issuer).pathname.replace(/\/$/, '');
  const issuerOrigin = new URL(issuer).origin;
  const allowedOrigins = new Set([issuerOrigin, ...(options.allowedOrigins ?? [])]);
  const cookie = { name: options.cookie?.name ?? 'baton_rt', path: `${base}/oauth/token`, secure: options.cookie?.secure ?? true };
  const limit = options.maxBodyBytes ?? 16 * 1024;
  const loginProtection = options.loginProtection ?? createLoginProtection();
  const introspectionProtection = options.introspectionProtection ?? createLoginProtection({ keyPrefix: 'introspect' });
  const log = options.logger;

  // ---- helpers -----------------------------------------------------------------------------

  /** CSRF guard of cookie-authenticated requests: the browser must say it comes from an allowed origin. */
  function checkCsrf(request: Request): void {
    const origin = request.headers.get('origin');
    const site = request.headers.get('sec-fetch-site');
    if (origin !== null ? allowedOrigins.has(origin) : site === 'same-origin') return;
    throw new HttpError(403, 'invalid_request', 'Cookie-based requests must come from an allowed origin (Origin or Sec-Fetch-Site)');
  }

  /** The claims of the request's Bearer token, or the RFC 6750 refusal to send. */
  async function bearer(request: Request): Promise<Readonly<AccessTokenClaims> | Response> {
    const result = await checkBearer(baton, { authorization: request.headers.get('authorization'), search: new URL(request.url).search });
    return result.ok ? result.claims : json(result.refusal.body, result.refusal.status, result.refusal.headers);
  }

  function tokenResponse(pair: Awaited<ReturnType<Baton['login']>>, viaCookie: boolean, extraHeaders: Headers = new Headers()): Response {
    const body: Record<string, unknown> = {
      access_token: pair.access_token,
      token_type: pair.token_type,
      expires_in: pair.expires_in,
      scope: pair.scope,
      session_id: pair.session_id,
    };
    const headers = new Headers({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', pragma: 'no-cache' });
    extraHeaders.forEach((v, k) => headers.append(k, v));
    if (viaCookie) {
      headers.append('set-cookie', setCookie(pair.refresh_token, { ...cookie, maxAgeSec: pair.refresh_expires_in }));
    } else {
      body.refresh_token = pair.refresh_token;
      body.refresh_expires_in = pair.refresh_expires_in;
    }
    return new Response(JSON.stringify(body), { status: 200, headers });
  }

  const clearCookie = (): string => setCookie('', { ...cookie, maxAgeSec: 0 });

  function introspectionClient(request: Request): boolean {
    const clients = options.introspectionClients ?? {};
    const match = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(request.headers.get('authorization') ?? '');
    if (match === null) return false;
    const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    // RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding.
    let id: string;
    let secret: string;
    try {
      id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    } catch {
      return false;
    }
    const expected = Object.hasOwn(clients, id) ? clients[id] : undefined;
    const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
    // Timing-safe, and the same work whether or not the client exists.
    const ok = timingSafeEqual(digest(secret), digest(expected ?? `no-such-client:${secret}x`));
    return ok && expected !== undefined;
  }

  // ---- endpoints ---------------------------------------------------------------------------

  const routes: Record<string, Route> = {
    '/.well-known/oauth-authorization-server': {
      methods: {
        // RFC 8414 §2.
        GET: async () =>
          json({
            issuer,
            token_endpoint: `${issuer}/oauth/token`,
            revocation_endpoint: `${issuer}/oauth/revoke`,
            introspection_endpoint: `${issuer}/oauth/introspect`,
            jwks_uri: `${issuer}/.well-known/jwks.json`,
            grant_types_supported: ['refresh_token'],
            response_types_supported: [],
            token_endpoint_auth_methods_supported: ['none'],
            revocation_endpoint_auth_methods_supported: ['none'],
            introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
            code_challenge_methods_supported: [],
          }, 200, { 'cache-control': 'public, max-age=300' }),
      },
    },
    '/.well-known/jwks.json': {
      methods: { GET: async () => json(baton.jwks(), 200, { 'cache-control': 'public, max-age=300' }) },
    },
    '/auth/login': {
      methods: {
        POST: async (request, ctx) => {
          const f = await readFields(request, limit);
          if (!f.username || !f.password) throw new HttpError(400, 'invalid_request', 'username and password are required');
          const ip = ctx.ip ?? 'unknown';
          const attempt = await loginProtection.check(f.username.toLowerCase(), ip);
          if (attempt.retryAfterMs > 0) {
            log?.warn({ event: 'login.rate_limited', ip }, 'login rate limit');
            throw tooManyAttempts(attempt.retryAfterMs);
          }
          const who = await options.authenticate(f.username, f.password);
          if (who === null) {
            log?.info({ event: 'login.failed', ip }, 'login failed');
            const blocked = await attempt.failed();
            if (blocked > 0) throw tooManyAttempts(blocked);
            throw new HttpError(401, 'invalid_grant', 'Wrong username or password');
          }
          await attempt.succeeded();
          const viaCookie = f[DELIVERY_FIELD] === 'cookie';
          if (viaCookie) checkCsrf(request);
          const pair = await baton.login(who.userId, {
            clientId: f.client_id || 'default',
            scope: f.scope ?? who.scope ?? '',
            device: { userAgent: (request.headers.get('user-agent') ?? '').slice(0, 256), ip },
          });
          log?.info({ event: 'login', sid: pair.session_id }, 'login');
          return tokenResponse(pair, viaCookie);
        },
      },
    },
    '/oauth/token': {
      methods: {
        POST: async (request) => {
          const f = await readFields(request, limit);
          if (f.grant_type === undefined) throw new HttpError(400, 'invalid_request', 'grant_type is required');
          if (f.grant_type !== 'refresh_token') throw new HttpError(400, 'unsupported_grant_type', 'Only the refresh_token grant is supported');
          const fromCookie = f.refresh_token === undefined ? readCookie(request, cookie.name) : undefined;
          const token = f.refresh_token ?? fromCookie;
          if (!token) throw new HttpError(400, 'invalid_request', 'refresh_token is required (in the body or the cookie)');
          if (fromCookie !== undefined) checkCsrf(request);
          try {
            const pair = await baton.refresh(token, f.client_id ? { clientId: f.client_id } : {});
            return tokenResponse(pair, fromCookie !== undefined);
          } catch (err) {
            const http = fromBatonError(err);
            // A dead refresh cookie is cleared; a store outage keeps it (nothing was lost).
            if (fromCookie !== undefined && http.error === 'invalid_grant') http.headers['set-cookie'] = clearCookie();
            throw http;
          }
        },
      },
    },
    '/oauth/revoke': {
      methods: {
        POST: async (request) => {
          const f = await readFields(request, limit);
          if (!f.token) throw new HttpError(400, 'invalid_request', 'token is required');
          await baton.revoke(f.token);
          return new Response(null, { status: 200, headers: { 'cache-control': 'no-store' } });
        },
      },
    },
    '/oauth/introspect': {
      methods: {
        POST: async (request, ctx) => {
          const attempt = await introspectionProtection.check(basicClientId(request.headers.get('authorization')), ctx.ip ?? 'unknown');
          if (attempt.retryAfterMs > 0) throw tooManyAttempts(attempt.retryAfterMs);
          if (!introspectionClient(request)) {
            const blocked = await attempt.failed();
            if (blocked > 0) throw tooManyAttempts(blocked);
            throw new HttpError(401, 'invalid_client', 'Resource servers authenticate with client_secret_basic', { 'www-authenticate': 'Basic realm="baton"' });
          }
          await attempt.succeeded();
          const f = await readFields(request, limit);
          if (!f.token) throw new HttpError(400, 'invalid_request', 'token is required');
          return json(await baton.introspect(f.token));
        },
      },
    },
    '/auth/logout': {
      methods: {
        POST: async (request) => {
          const claims = await bearer(request);
          if (claims instanceof Response) return claims;
          const url = new URL(request.url);
          const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim();
          const f = type ? await readFields(request, limit) : {};
          const scope = f.scope ?? url.searchParams.get('scope') ?? 'local';
          let revoked: string[];
          if (scope === 'local') revoked = (await baton.revokeSession(claims.sid, 'logout')) ? [claims.sid] : [];
          else if (scope === 'others') revoked = await baton.revokeUserSessions(claims.sub, { except: claims.sid, reason: 'logout' });
          else if (scope === 'global') revoked = await baton.revokeUserSessions(claims.sub, { reason: 'logout' });
          else throw new HttpError(400, 'invalid_request', 'scope must be local, others or global');
          return json({ revoked }, 200, scope === 'others' ? {} : { 'set-cookie': clearCookie() });
        },
      },
    },
    '/auth/sessions': {
      methods: {
        GET: async (request) => {
          const claims = await bearer(request);
          if (claims instanceof Response) return claims;
          const sessions = await baton.listSessions(claims.sub);
          return json({ sessions: sessions.map((s) => ({ ...s, current: s.id === claims.sid })) });
        },
      },
    },
    '/auth/sessions/*': {
      methods: {
        DELETE: async (request, _ctx, [id]) => {
          const claims = await bearer(request);
          if (claims instanceof Response) return claims;
          const own = await baton.listSessions(claims.sub);
          if (!own.some((s) => s.id === id)) throw new HttpError(404, 'not_found', 'No such session of yours');
          await baton.revokeSession(id as string, 'kicked');
          return new Response(null, { status: 204 });
        },
      },
    },
    '/auth/me': {
      methods: {
        GET: async (request) => {
          const claims = await bearer(request);
          if (claims instanceof Response) return claims;
          return json({ sub: claims.sub, sid: claims.sid, client_id: claims.client_id, scope: claims.scope ?? '', exp: claims.exp });
        },
      },
    },
  };
  if (options.page) routes['/'] = { methods: { GET: async () => (options.page as () => Response)() } };
  for (const [path, serve] of Object.entries(options.assets ?? {})) routes[path] = { methods: { GET: async () => serve() } };

  function match(path: string): { route: Route; params: string[] } | undefined {
    const exact = routes[path];
    if (exact) return { route: exact, params: [] };
    const slash = path.lastIndexOf('/');
    const wildcard = routes[`${path.slice(0, slash)}/*`];
    let param: string;
    try {
      param = decodeURIComponent(path.slice(slash + 1));
    } catch {
      return undefined;
    }
    return wildcard && param ? { route: wildcard, params: [param] } : undefined;
  }

  const local = (pathname: string): string => (pathname.startsWith(base) ? pathname.slice(base.length) || '/' : pathname);
  const handler = async function handler(request: Request, context: RequestContext = {}): Promise<Response> {
    const url = new URL(request.url);
    const path = local(url.pathname);
    const found = match(path);
    let response: Response;
    try {
      if (found === undefined) throw new HttpError(404, 'not_found', 'No such endpoint');
      const method = request.method === 'HEAD' && found.route.methods.GET ? 'GET' : request.method;
      const serve = found.route.methods[method];
      if (serve === undefined) {
        throw new HttpError(405, 'invalid_request', `Use ${Object.keys(found.route.methods).join(', ')}`, { allow: Object.keys(found.route.methods).join(', ') });
      }
      response = await serve(request, context, found.params);
    } catch (err) {
      const http = err instanceof HttpError ? err : fromBatonError(err);
      // The error's name and where it was thrown, never its message: a library's message may quote its input.
      if (http.status >= 500 && http.status !== 503) log?.error({ event: 'error', path, err: err instanceof Error ? `${err.name} ${err.stack?.split('\n')[1]?.trim() ?? ''}` : typeof err }, 'request failed');
      response = oauthError(http);
    }
    log?.info({ method: request.method, path, status: response.status }, 'request');
    return response;
  };
  return Object.assign(handler, { handles: (pathname: string) => match(local(pathname)) !== undefined, maxBodyBytes: limit });
}
