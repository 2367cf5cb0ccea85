/**
 * Fastify adapter. Import from `baton-auth/adapters/fastify`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { batonPlugin, requireAuth } from 'baton-auth/adapters/fastify';
 * await app.register(batonPlugin, { handler });
 * app.get('/api/profile', { preHandler: requireAuth(baton) }, async (request) => ({ user: request.auth?.sub }));
 * ```
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { AccessTokenClaims } from '../core/access-token.ts';
import type { Baton } from '../core/baton.ts';
import { checkBearer, createAutoRefresh } from '../http/guard.ts';
import type { AutoRefreshOptions, Refusal, RequireAuthOptions } from '../http/guard.ts';
import type { AuthHandler } from '../http/handler.ts';
import { toWebRequest } from './node.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified access token's claims, set by `requireAuth` or `autoRefresh`. */
    auth: Readonly<AccessTokenClaims> | null;
  }
}

function send(reply: FastifyReply, refusal: Refusal): FastifyReply {
  return reply.code(refusal.status).headers(refusal.headers).send(refusal.body);
}

/** Serves the token endpoints and declares `request.auth`. Register it once, at the root. */
export async function batonPlugin(fastify: FastifyInstance, options: { handler: AuthHandler }): Promise<void> {
  const { handler } = options;
  if (!fastify.hasRequestDecorator('auth')) fastify.decorateRequest('auth', null);
  fastify.addHook('onRequest', async (request, reply) => {
    const pathname = request.url.split('?')[0] ?? '/';
    if (!handler.handles(pathname)) return;
    // The handler reads the raw body itself, before Fastify's parsers would.
    const origin = `${request.protocol}://${request.host}`;
    const response = await handler(await toWebRequest(request.raw, { origin, maxBodyBytes: handler.maxBodyBytes }), { ip: request.ip });
    reply.code(response.status);
    response.headers.forEach((value, name) => {
      if (name !== 'set-cookie') reply.header(name, value);
    });
    const cookies = response.headers.getSetCookie();
    if (cookies.length > 0) reply.header('set-cookie', cookies);
    return reply.send(response.body === null ? '' : Buffer.from(await response.arrayBuffer()));
  });
}
// Apply at the root, not encapsulated (what fastify-plugin's skip-override marker does).
(batonPlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;

/** Requires a Bearer access token (RFC 6750): a `preHandler`; the claims land on `request.auth`. */
export function requireAuth(baton: Baton, options: RequireAuthOptions = {}): preHandlerAsyncHookHandler {
  return async function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    const search = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
    const result = await checkBearer(baton, { authorization: request.headers.authorization, search }, options);
    if (!result.ok) return send(reply, result.refusal);
    request.auth = result.claims;
  };
}

/** Transparent refresh from HttpOnly cookies: a `preHandler`; the claims land on `request.auth`. */
export function autoRefresh(baton: Baton, options: AutoRefreshOptions = {}): preHandlerAsyncHookHandler {
  const decide = createAutoRefresh(baton, options);
  return async function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    const h = request.headers;
    const result = await decide({ method: request.method, cookie: h.cookie, origin: h.origin, secFetchSite: h['sec-fetch-site'] as string | undefined });
    if (result.setCookies.length > 0) reply.header('set-cookie', result.setCookies);
    if (!result.ok) return send(reply, result.refusal);
    request.auth = result.claims;
  };
}
