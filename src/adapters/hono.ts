/**
 * Hono adapter. Import from `baton/adapters/hono`.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { batonRoutes, requireAuth } from 'baton/adapters/hono';
 * app.use(batonRoutes(handler));
 * app.get('/api/profile', requireAuth(baton), (c) => c.json({ user: c.get('auth').sub }));
 * ```
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { AccessTokenClaims } from '../core/access-token.ts';
import type { Baton } from '../core/service.ts';
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

/** The client address as @hono/node-server exposes it, when there is one. */
function ip(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? 'unknown';
}

/** Serves the token endpoints; other paths go on. */
export function batonRoutes(handler: AuthHandler): MiddlewareHandler {
  return async (c, next) => {
    if (!handler.handles(new URL(c.req.url).pathname)) return next();
    return handler(c.req.raw, { ip: ip(c) });
  };
}

/** Requires a Bearer access token (RFC 6750); the claims are `c.get('auth')`. */
export function requireAuth(baton: Baton, options: RequireAuthOptions = {}): MiddlewareHandler<{ Variables: BatonVariables }> {
  return async (c, next) => {
    const url = c.req.url;
    const q = url.indexOf('?');
    const result = await checkBearer(baton, { authorization: c.req.header('authorization'), search: q < 0 ? '' : url.slice(q) }, options);
    if (!result.ok) return send(c, result.refusal);
    c.set('auth', result.claims);
    await next();
  };
}

/** Transparent refresh from HttpOnly cookies; the claims are `c.get('auth')`. */
export function autoRefresh(baton: Baton, options: AutoRefreshOptions = {}): MiddlewareHandler<{ Variables: BatonVariables }> {
  const decide = createAutoRefresh(baton, options);
  return async (c, next) => {
    const result = await decide({ method: c.req.method, cookie: c.req.header('cookie'), origin: c.req.header('origin'), secFetchSite: c.req.header('sec-fetch-site') });
    for (const cookie of result.setCookies) c.header('set-cookie', cookie, { append: true });
    if (!result.ok) return send(c, result.refusal);
    c.set('auth', result.claims);
    await next();
  };
}
