/**
 * Hono adapter. Import from `baton-auth/adapters/hono`.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { batonRoutes, requireAuth } from 'baton-auth/adapters/hono';
 * app.use(batonRoutes(handler));
 * app.get('/api/profile', requireAuth(baton), (c) => c.json({ user: c.get('auth').sub }));
 * ```
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { AccessTokenClaims } from '../core/access-token.ts';
import type { Baton } from '../core/baton.ts';
import { checkBearer, createAutoRefresh } from '../http/guard.ts';
import type { AutoRefreshOptions, Refusal, RequireAuthOptions } from '../http/guard.ts';
import type { AuthHandler } from '../http/handler.ts';

/** The variables Baton's middleware sets: `c.get('auth')`. */
export interface BatonVariables {
  auth: Readonly<AccessTokenClaims>;
}

function send(c: Context, refusal: Refusal): Response {
  return c.json(refusal.body, refusal.status as 401, refusal.headers);
}

/** The Node request under @hono/node-server (its `c.env.incoming`), when Hono runs there. */
interface Incoming {
  url?: string;
  headers: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string };
}

function incoming(c: Context): Incoming | undefined {
  return (c.env as { incoming?: Incoming } | undefined)?.incoming;
}

/**
 * One request header. Under @hono/node-server it is read from the Node request: `c.req.header()`
 * makes node-server build a full `Request` (about 10 µs), which measurably slowed `requireAuth`.
 */
function header(c: Context, name: string): string | undefined {
  const node = incoming(c);
  if (node === undefined) return c.req.header(name);
  const value = node.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The query string with its `?`, or `''`. */
function search(c: Context): string {
  const url = incoming(c)?.url ?? c.req.url;
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q);
}

/** The client address as @hono/node-server exposes it, when there is one. */
function ip(c: Context): string {
  return incoming(c)?.socket?.remoteAddress ?? 'unknown';
}

/** Serves the token endpoints; other paths go on. */
export function batonRoutes(handler: AuthHandler): MiddlewareHandler {
  return async (c, next) => {
    if (!handler.handles(c.req.path)) return next();
    return handler(c.req.raw, { ip: ip(c) });
  };
}

/** Requires a Bearer access token (RFC 6750); the claims are `c.get('auth')`. */
export function requireAuth(baton: Baton, options: RequireAuthOptions = {}): MiddlewareHandler<{ Variables: BatonVariables }> {
  return async (c, next) => {
    const result = await checkBearer(baton, { authorization: header(c, 'authorization'), search: search(c) }, options);
    if (!result.ok) return send(c, result.refusal);
    c.set('auth', result.claims);
    await next();
  };
}

/** Transparent refresh from HttpOnly cookies; the claims are `c.get('auth')`. */
export function autoRefresh(baton: Baton, options: AutoRefreshOptions = {}): MiddlewareHandler<{ Variables: BatonVariables }> {
  const decide = createAutoRefresh(baton, options);
  return async (c, next) => {
    const result = await decide({ method: c.req.method, cookie: header(c, 'cookie'), origin: header(c, 'origin'), secFetchSite: header(c, 'sec-fetch-site') });
    for (const cookie of result.setCookies) c.header('set-cookie', cookie, { append: true });
    if (!result.ok) return send(c, result.refusal);
    c.set('auth', result.claims);
    await next();
  };
}
