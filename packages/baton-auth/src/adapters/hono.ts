/**
 * Hono adapter. Import from `baton-auth/adapters/hono`.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { endpoints, requireAuth } from 'baton-auth/adapters/hono';
 * app.use(endpoints(handler));
 * app.get('/api/profile', requireAuth(baton), (c) => c.json({ user: c.get('auth').sub }));
 * ```
 */
import type { Context, MiddlewareHandler, Next } from 'hono';
import type { AccessTokenClaims } from '../core/access-token.ts';
import type { Baton } from '../core/baton.ts';
import { createAutoRefresh } from '../http/auto-refresh.ts';
import type { AutoRefreshOptions } from '../http/auto-refresh.ts';
import { createGuard } from '../http/guard.ts';
import { requestUrls } from '../http/urls.ts';
import { resourceMetadataDocument } from '../http/resource-metadata.ts';
import type { ResourceMetadataOptions } from '../http/resource-metadata.ts';
import type { GuardOutcome, RequireAuthOptions, TokenVerifier } from '../http/guard.ts';
import { Refusal } from '../http/refusal.ts';
import type { AuthHandler } from '../http/handler.ts';

/**
 * The variables Baton's middleware sets: `c.get('auth')` (or `c.var.auth`), the verified access
 * token's claims, set by `requireAuth` or `autoRefresh` before the route runs: typed as present
 * for the routes behind them. Elsewhere it is `undefined`.
 */
export interface BatonVariables {
  auth: Readonly<AccessTokenClaims>;
}

function send(c: Context, refusal: Refusal): Response {
  return c.json(refusal.body, refusal.status as 401, refusal.headers);
}

/** The Node request @hono/node-server passes as `c.env.incoming` (its documented binding), as far as a guard reads it. */
interface NodeIncoming {
  readonly url: string;
  readonly rawHeaders: readonly string[];
}

/**
 * @hono/node-server's own keys on its lazy Request: the Node request it reads, and the `Headers`
 * it builds once they are read. Private to the server: learnt once, from the first lazy Request
 * (the Node request's key by its value) and a blank one made of its prototype, whose headers
 * getter shows the other (finding them costs about 0.5 µs, once; reading them 50 ns a request).
 */
let lazyKeys: { incoming: symbol; headers: symbol } | undefined;
/** Requests left to learn them from (one a middleware replaced teaches nothing); then, if never learnt, the Request is always read. */
let lessons = 16;

/** The Node request of `c`, if @hono/node-server passed one (`c.env.incoming`, its documented binding). */
function incomingOf(c: Context): NodeIncoming | undefined {
  const incoming = (c.env as { incoming?: Partial<NodeIncoming> } | undefined)?.incoming;
  return typeof incoming?.url === 'string' && Array.isArray(incoming.rawHeaders) ? (incoming as NodeIncoming) : undefined;
}

/** `lazyKeys`, learnt from `raw`, a lazy Request over `incoming`, without reading its headers; undefined when it is no such Request. */
function learnLazyKeys(raw: Record<symbol, unknown>, incoming: NodeIncoming): { incoming: symbol; headers: symbol } | undefined {
  const incomingKey = Object.getOwnPropertySymbols(raw).find((key) => raw[key] === incoming);
  const prototype = Object.getPrototypeOf(raw) as object | null;
  const getter = prototype === null ? undefined : Object.getOwnPropertyDescriptor(prototype, 'headers')?.get;
  if (incomingKey === undefined || getter === undefined) return undefined;
  const blank = Object.create(prototype) as Record<symbol, unknown>;
  blank[incomingKey] = { url: '/', headers: {}, rawHeaders: [] };
  let headers: unknown;
  try {
    headers = getter.call(blank);
  } catch {
    return undefined;
  }
  const headersKey = Object.getOwnPropertySymbols(blank).find((key) => key !== incomingKey && blank[key] === headers);
  return headersKey === undefined ? undefined : { incoming: incomingKey, headers: headersKey };
}

/**
 * The Authorization header and path of the Node request under @hono/node-server, read there for
 * nothing — from `c.req.raw` they would build the Web `Headers` its lazy Request defers, about
 * 4 µs of a request (`bench/frameworks.ts`) — but only when they are what the app reads through
 * the Request: `c.req.raw` is still the server's lazy Request over `c.env.incoming` (not one a
 * middleware replaced, nor one of another runtime whose env has an `incoming` binding), its
 * headers never read (so never changed by a middleware), and the header sent once, as one line
 * without surrounding whitespace (the server joins repeated lines, `Bearer A, Bearer B`, where
 * Node keeps the first). Else undefined: read through the Request (Bun, Deno, Workers, `app.request`).
 */
function nodeIncoming(c: Context): { authorization: string | undefined; url: string } | undefined {
  const incoming = incomingOf(c);
  if (incoming === undefined) return undefined;
  const raw = c.req.raw as unknown as Record<symbol, unknown>;
  if (lazyKeys === undefined && lessons > 0) {
    lessons--;
    lazyKeys = learnLazyKeys(raw, incoming);
  }
  if (lazyKeys === undefined || raw[lazyKeys.incoming] !== incoming || raw[lazyKeys.headers] !== undefined) return undefined;
  const lines = incoming.rawHeaders;
  let authorization: string | undefined;
  for (let i = 0; i < lines.length; i += 2) {
    const name = lines[i] as string;
    if (name.length !== 13 || name.toLowerCase() !== 'authorization') continue;
    if (authorization !== undefined) return undefined; // sent twice: the Request joins them
    authorization = lines[i + 1] as string;
    const first = authorization.charCodeAt(0);
    const last = authorization.charCodeAt(authorization.length - 1);
    if (first === 32 || first === 9 || last === 32 || last === 9) return undefined; // the Request trims it
  }
  return { authorization, url: incoming.url };
}

/** A runtime's `getConnInfo` (`hono/conninfo`'s `GetConnInfo`), of which Baton reads the remote address. */
export type GetConnInfo = (c: Context) => { remote: { address?: string } };

/** Options of `endpoints`. */
export interface EndpointsOptions {
  /**
   * Where the client's address comes from, for login protection and device info: the runtime's
   * `getConnInfo` (`hono/bun`, `hono/deno`, `hono/cloudflare-workers`…), or one that reads a
   * trusted proxy's header. Default: @hono/node-server's (`@hono/node-server/conninfo`) when it
   * is installed; an address it cannot tell is `unknown`.
   */
  getConnInfo?: GetConnInfo;
}

let nodeServerConnInfo: Promise<GetConnInfo | undefined> | undefined;

/** @hono/node-server's `getConnInfo`, loaded on first use (an optional peer: absent on Bun or Workers). */
function nodeConnInfo(): Promise<GetConnInfo | undefined> {
  nodeServerConnInfo ??= import('@hono/node-server/conninfo').then(
    (m) => m.getConnInfo,
    () => undefined,
  );
  return nodeServerConnInfo;
}

/** The client's address by `getConnInfo`, or `unknown` when it cannot tell (say, `app.request` in a test). */
function address(c: Context, getConnInfo: GetConnInfo | undefined): string {
  try {
    return getConnInfo?.(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Serves the token endpoints; other paths go on. */
export function endpoints(handler: AuthHandler, options: EndpointsOptions = {}): MiddlewareHandler {
  return async (c, next) => {
    if (!handler.handles(c.req.path)) return next();
    return handler(c.req.raw, { ip: address(c, options.getConnInfo ?? (await nodeConnInfo())) });
  };
}

/**
 * Requires an access token for the API's `audience` — Bearer (RFC 6750), or DPoP-bound with its
 * proof (RFC 9449 §7) — verified by `verifier` (a Baton, or a verifier of another issuer's
 * tokens); the claims are `c.get('auth')`. The header is
 * read through the Web `Request` (`c.req.raw.headers`), which @hono/node-server answers from the
 * Node request without building a `Headers` object.
 */
export function requireAuth(verifier: TokenVerifier, options: RequireAuthOptions): MiddlewareHandler<{ Variables: BatonVariables }> {
  const guard = createGuard<Context<{ Variables: BatonVariables }>>(verifier, options, (c) => {
    const url = new URL(c.req.url); // built by the server from the Host header, which it has parsed
    return { proof: c.req.raw.headers.get('dpop'), method: c.req.method, url: requestUrls(options.origin, url.protocol.slice(0, -1), url.host, c.req.url) };
  });
  const pass = (c: Context<{ Variables: BatonVariables }>, next: Next, outcome: GuardOutcome): Response | Promise<void> => {
    if (outcome instanceof Refusal) return send(c, outcome);
    c.set('auth', outcome);
    return next();
  };
  return async (c, next) => {
    const node = nodeIncoming(c);
    const outcome = node === undefined ? guard(c.req.raw.headers.get('authorization'), c.req.url, c) : guard(node.authorization, node.url, c);
    return pass(c, next, outcome instanceof Promise ? await outcome : outcome);
  };
}

/** Transparent refresh from HttpOnly cookies; the claims are `c.get('auth')`. */
export function autoRefresh(baton: Baton, options: AutoRefreshOptions = {}): MiddlewareHandler<{ Variables: BatonVariables }> {
  const decide = createAutoRefresh(baton, options);
  return async (c, next) => {
    const h = c.req.raw.headers;
    const result = await decide({ method: c.req.method, cookie: h.get('cookie'), origin: h.get('origin'), secFetchSite: h.get('sec-fetch-site') });
    for (const cookie of result.setCookies) c.header('set-cookie', cookie, { append: true });
    if (!result.ok) return send(c, result.refusal);
    c.set('auth', result.claims);
    await next();
  };
}

/** Serves this API's RFC 9728 metadata at its well-known path (`app.use(resourceMetadata({ resource, authorizationServers }))`). */
export function resourceMetadata(options: ResourceMetadataOptions): MiddlewareHandler {
  const { path, body } = resourceMetadataDocument(options);
  return async (c, next) => (c.req.method === 'GET' && c.req.path === path ? c.json(body, 200, { 'cache-control': 'public, max-age=300' }) : next());
}
