/**
 * Fastify adapter. Import from `baton-auth/adapters/fastify`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { endpoints, requireAuth } from 'baton-auth/adapters/fastify';
 * await app.register(endpoints(handler));
 * app.get('/api/profile', { preHandler: requireAuth(baton) }, async (request) => ({ user: request.auth.sub }));
 * ```
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler, preHandlerHookHandler } from 'fastify';
import { Readable } from 'node:stream';
import type { AccessTokenClaims } from '../core/access-token.ts';
import type { Baton } from '../core/baton.ts';
import { createAutoRefresh } from '../http/auto-refresh.ts';
import type { AutoRefreshOptions } from '../http/auto-refresh.ts';
import { createGuard } from '../http/guard.ts';
import { requestUrls, validHost } from '../http/urls.ts';
import { resourceMetadataDocument } from '../http/resource-metadata.ts';
import type { ResourceMetadataOptions } from '../http/resource-metadata.ts';
import type { GuardOutcome, RequireAuthOptions, TokenVerifier } from '../http/guard.ts';
import { Refusal } from '../http/refusal.ts';
import type { AuthHandler } from '../http/handler.ts';
import { lazyWebRequest } from './node-request.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The verified access token's claims, set by `requireAuth` or `autoRefresh` before the
     * route runs: typed as present for the routes behind them. Elsewhere it is `undefined`.
     */
    auth: Readonly<AccessTokenClaims>;
  }
}

function send(reply: FastifyReply, refusal: Refusal): FastifyReply {
  return reply.code(refusal.status).headers(refusal.headers).send(refusal.body);
}

/** Declares `request.auth` (so that every request has the same shape) and serves the endpoints. */
async function mount(fastify: FastifyInstance, handler: AuthHandler): Promise<void> {
  if (!fastify.hasRequestDecorator('auth')) fastify.decorateRequest('auth');
  fastify.addHook('onRequest', async (request, reply) => {
    const pathname = request.url.split('?')[0] ?? '/';
    if (!handler.handles(pathname)) return;
    // The handler reads the raw body itself, before Fastify's parsers would.
    const origin = `${request.protocol}://${validHost(request.host) ?? 'localhost'}`;
    const response = await handler(await lazyWebRequest(request.raw, { origin, maxBodyBytes: handler.maxBodyBytes }), { ip: request.ip });
    reply.code(response.status);
    response.headers.forEach((value, name) => {
      if (name !== 'set-cookie') reply.header(name, value);
    });
    const cookies = response.headers.getSetCookie();
    if (cookies.length > 0) reply.header('set-cookie', cookies);
    // A stream (the revocation feed) is piped, paced by the client, not buffered whole (it never ends).
    if (response.body !== null && response.headers.get('content-type')?.startsWith('text/event-stream')) {
      return reply.send(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>, { highWaterMark: 16 * 1024 }));
    }
    return reply.send(response.body === null ? '' : Buffer.from(await response.arrayBuffer()));
  });
}

const META = { fastify: '5.x', name: 'baton-auth' };

/**
 * `plugin`, marked as fastify-plugin marks one, without depending on it (Fastify is an optional
 * peer): `Symbol.for('skip-override')` keeps it unencapsulated — what it declares (`request.auth`)
 * is seen by the whole app, the pattern Fastify's plugins guide documents — and the name and
 * version range Fastify reads from `Symbol.for('plugin-meta')` (it refuses a Fastify outside it).
 */
function unencapsulated<T extends (...args: never[]) => unknown>(plugin: T, meta: { fastify: string; name: string } = META): T {
  Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: meta.name, [Symbol.for('plugin-meta')]: meta });
  return plugin;
}

/**
 * The plugin that serves the token endpoints and declares `request.auth`: `app.register(endpoints(handler))`,
 * once, at the root (`unencapsulated`: not encapsulated). The handler sees the client at
 * `request.ip`, which follows Fastify's `trustProxy` option.
 */
export function endpoints(handler: AuthHandler): FastifyPluginAsync {
  return unencapsulated(async (fastify: FastifyInstance) => mount(fastify, handler));
}

/**
 * Requires an access token for the API's `audience` — Bearer (RFC 6750), or DPoP-bound with its
 * proof (RFC 9449 §7) — verified by `verifier` (a Baton, or a verifier of another issuer's
 * tokens): a `preHandler`; the claims land on
 * `request.auth`. A callback hook, not an async one: a token the verified-token cache (or the
 * in-process fast path) decides costs no promise at all.
 */
export function requireAuth(verifier: TokenVerifier, options: RequireAuthOptions): preHandlerHookHandler {
  const guard = createGuard<FastifyRequest>(verifier, options, (request) => ({
    proof: request.headers.dpop as string | undefined,
    method: request.method,
    url: requestUrls(options.origin, request.protocol, request.host, request.url),
  }));
  const pass = (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void, outcome: GuardOutcome): void => {
    if (outcome instanceof Refusal) return void send(reply, outcome);
    request.auth = outcome;
    done();
  };
  return function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) {
    const outcome = guard(request.headers.authorization, request.url, request);
    if (outcome instanceof Promise) outcome.then((result) => pass(request, reply, done, result), done);
    else pass(request, reply, done, outcome);
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

/** Serves this API's RFC 9728 metadata at its well-known path: `app.register(resourceMetadata({ resource, authorizationServers }))`. */
export function resourceMetadata(options: ResourceMetadataOptions): FastifyPluginAsync {
  const { path, body } = resourceMetadataDocument(options);
  return unencapsulated(
    async (fastify: FastifyInstance) => {
      fastify.get(path, async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send(body));
    },
    { ...META, name: 'baton-auth-resource-metadata' },
  );
}
