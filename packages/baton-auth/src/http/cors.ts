/**
 * CORS (the Fetch standard's "CORS protocol", https://fetch.spec.whatwg.org/#http-cors-protocol):
 * which pages of other origins may READ the handler's answers. It gives no page the right to make
 * a request: the cross-site guard (`refuseCrossSite`, `checkCsrf`) still refuses an unlisted
 * origin's request, preflighted or not, before anything is decided or counted.
 *
 * - The public documents (RFC 8414 metadata, the JWKS) carry no credential and are the same for
 *   everyone: `Access-Control-Allow-Origin: *`, never with credentials (Fetch §3.2.5: `*` is not
 *   honoured for a credentialed request), as oidc-provider does for them.
 * - Every other endpoint: only an allowed origin (the issuer's, its loopback aliases, the
 *   handler's `allowedOrigins`), echoed exactly as it came, with `Vary: Origin`; credentials
 *   (`Access-Control-Allow-Credentials: true`) only where the refresh cookie travels. An origin
 *   is compared as the exact string the browser serialised (Fetch §3.1: scheme, host and port),
 *   never by prefix or suffix, and `null` (a sandboxed or opaque origin) is never echoed.
 */
import type { HandlerContext } from './context.ts';
import { isSecureUrl } from '../protocol/origin.ts';
export { checkOrigins } from '../protocol/origin.ts';

/**
 * The endpoints a public client's single-page app calls from the origin of one of its redirect
 * URIs (`authz/client-origin.ts`): their cross-site check is made by the route, which knows the
 * client — by the `client_id` of the body, or at UserInfo by the access token's.
 */
export const CLIENT_ORIGIN_ROUTES: ReadonlySet<string> = new Set(['/oauth/token', '/oauth/revoke', '/oauth/userinfo']);

/**
 * What a page of a client's origin may send in a preflighted request: no `Authorization` where a
 * client authenticates (a public client has no secret), the access token where it is the credential.
 */
const clientAllowHeaders = (route: string): string => (route === '/oauth/userinfo' ? 'Authorization, DPoP' : 'Content-Type, DPoP');

/** Requests let through as their public client's origin (`allowClientOrigin`): their answers carry CORS headers for it. */
const clientOrigins = new WeakMap<Request, string>();

/** Marks `request` as coming from its public client's origin `origin` (checked by the caller): its answer may be read there. */
export function allowClientOrigin(request: Request, origin: string): void {
  clientOrigins.set(request, origin);
}

/** Whether `origin` is one a client's page may have: a serialised https origin, or http on loopback (never `null`, a path or a list). */
export function isClientOriginShape(origin: string): boolean {
  if (!URL.canParse(origin)) return false;
  const url = new URL(origin);
  return url.origin === origin && isSecureUrl(url);
}

/** The endpoints where the refresh cookie is set, read or cleared: credentialed requests. */
const COOKIE_ROUTES = new Set(['/oauth/token', '/auth/login', '/auth/logout']);

/**
 * The request headers a page may send (`Access-Control-Allow-Headers`): what the client SDK and
 * the OAuth libraries send — `Authorization` (a token, or a confidential client's Basic
 * credentials), `Content-Type` (a JSON body is not CORS-safelisted), `DPoP` (RFC 9449 §4.1).
 * `Accept` is safelisted already (Fetch §2.2.2).
 */
const ALLOW_HEADERS = 'Authorization, Content-Type, DPoP';

/**
 * The response headers a page may read besides the safelisted ones (Fetch §2.2.6): the next DPoP
 * nonce (RFC 9449 §8), the challenge of a refusal (RFC 6750 §3), how long to wait (RFC 9110
 * §10.2.3), and `Date`, by which the client SDK times its proofs.
 */
const EXPOSE_HEADERS = 'DPoP-Nonce, WWW-Authenticate, Retry-After, Date';

/** How long a browser may reuse a preflight's answer: an origin removed from the list stops working within it. */
const MAX_AGE_SECONDS = '600';

/** The request's `Origin` if the handler serves its pages (never `null`), else undefined. */
function listed(c: HandlerContext, request: Request): string | undefined {
  const origin = request.headers.get('origin');
  return origin !== null && origin !== 'null' && c.allowedOrigins.has(origin) ? origin : undefined;
}

/** The CORS headers of an answer of `route` (a route table entry) to `request`. */
export function corsHeaders(c: HandlerContext, request: Request, route: string, isPublic: boolean): Record<string, string> {
  if (isPublic) return { 'access-control-allow-origin': '*' };
  const origin = listed(c, request);
  const client = origin === undefined ? clientOrigins.get(request) : undefined;
  // A public client's page: its origin, no credentials (the refresh cookie is not for it).
  if (client !== undefined) return { vary: 'Origin', 'access-control-allow-origin': client, 'access-control-expose-headers': EXPOSE_HEADERS };
  // Vary: Origin on every answer of these routes: one for a listed origin must not be reused for another.
  if (origin === undefined) return { vary: 'Origin' };
  return {
    vary: 'Origin',
    'access-control-allow-origin': origin,
    ...(COOKIE_ROUTES.has(route) ? { 'access-control-allow-credentials': 'true' } : {}),
    'access-control-expose-headers': EXPOSE_HEADERS,
  };
}

/**
 * The answer to `OPTIONS` on a route (`allow`: its methods, OPTIONS included). A CORS preflight
 * (Fetch §4.8: `Origin` and `Access-Control-Request-Method`) from an allowed origin, or to a
 * public document, gets 204 with what may be sent; one from any other origin 403 without a CORS
 * header, which the browser takes as a failed preflight (Fetch §4.8 step 7) and sends nothing.
 * Fixed answers: nothing is read from the store or counted. A plain `OPTIONS` gets 204 and `Allow`.
 */
export function preflight(c: HandlerContext, request: Request, route: string, isPublic: boolean, methods: string[]): Response {
  const allow = methods.join(', ');
  const headers: Record<string, string> = { allow, 'cache-control': 'no-store' };
  if (request.headers.get('origin') === null || request.headers.get('access-control-request-method') === null)
    return new Response(null, { status: 204, headers });
  if (isPublic) {
    return new Response(null, {
      status: 204,
      headers: { ...headers, 'access-control-allow-origin': '*', 'access-control-allow-methods': allow, 'access-control-max-age': MAX_AGE_SECONDS },
    });
  }
  const cors = corsHeaders(c, request, route, false);
  const origin = request.headers.get('origin') as string;
  if (cors['access-control-allow-origin'] === undefined && CLIENT_ORIGIN_ROUTES.has(route) && isClientOriginShape(origin)) {
    // Which client a preflight is for is in the body it does not carry: it may send, and the
    // request itself is refused (403, nothing counted) unless its client is a public one with a
    // redirect URI of this origin. No credentials, no Authorization.
    return new Response(null, {
      status: 204,
      headers: {
        ...headers,
        vary: 'Origin',
        'access-control-allow-origin': origin,
        'access-control-allow-methods': allow,
        'access-control-allow-headers': clientAllowHeaders(route),
        'access-control-max-age': MAX_AGE_SECONDS,
      },
    });
  }
  if (cors['access-control-allow-origin'] === undefined) {
    return new Response(
      JSON.stringify({
        error: 'invalid_request',
        error_description: 'Preflight refused: this origin is not an allowed origin (the service: BATON_ALLOWED_ORIGINS)',
      }),
      {
        status: 403,
        headers: { ...headers, ...cors, 'content-type': 'application/json; charset=utf-8' },
      },
    );
  }
  return new Response(null, {
    status: 204,
    headers: {
      ...headers,
      ...cors,
      'access-control-allow-methods': allow,
      'access-control-allow-headers': ALLOW_HEADERS,
      'access-control-max-age': MAX_AGE_SECONDS,
    },
  });
}
