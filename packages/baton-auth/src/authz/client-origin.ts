/**
 * Browser-based apps on their own origin (OAuth 2.0 for Browser-Based Applications, the
 * "browser-based OAuth client" pattern; OAuth 2.1 §7.5 public clients): a public client's
 * single-page app calls `/oauth/token` and `/oauth/revoke` itself, from the origin of one of its
 * registered redirect URIs, which need not be among the handler's `allowedOrigins`.
 *
 * Such a request is let through the cross-site guard (`refuseCrossSite`) only when it names a
 * public client (`client_id`, no secret, no `Authorization`: nothing is counted for it) whose
 * redirect URIs include one of exactly that origin; the answer then carries CORS headers for that
 * origin, without credentials (the refresh cookie is for `allowedOrigins` alone: `checkCsrf`).
 * Every other request from an unlisted origin is refused as before, 403, before anything is
 * decided or counted — whatever fails on the way (a body too large or malformed) included.
 */
import type { ClientRecord } from '../http/clients.ts';
import { refuseCrossSite } from '../http/context.ts';
import type { HandlerContext } from '../http/context.ts';
import { allowClientOrigin, isClientOriginShape } from '../http/cors.ts';
import { HttpError, readFields } from '../http/respond.ts';

/** Refuses `request` as the cross-site guard does (403 naming its origin). */
function crossSite(c: HandlerContext, request: Request): never {
  refuseCrossSite(c, request);
  throw new HttpError('ERR_ORIGIN_REFUSED', 'Cross-site requests are refused');
}

/** The origin of a redirect URI, or undefined (a private-use scheme has none a page runs in). */
function originOf(uri: string): string | undefined {
  if (!URL.canParse(uri)) return undefined;
  const origin = new URL(uri).origin;
  return origin === 'null' ? undefined : origin;
}

/** Whether `client` is public and registered a redirect URI of exactly `origin`. */
export function isClientOrigin(client: ClientRecord | null, origin: string): boolean {
  return client?.type === 'public' && (client.redirectUris ?? []).some((uri) => originOf(uri) === origin);
}

/**
 * The request's form or JSON fields, once the cross-site guard passed it: a request without
 * `Origin` or from an allowed one as at every endpoint; one from another origin only when it is
 * the origin of a redirect URI of the public client it names (then its answer carries CORS
 * headers for it: `allowClientOrigin`). For `/oauth/token` and `/oauth/revoke`.
 */
export async function readClientFields(c: HandlerContext, request: Request): Promise<Record<string, string>> {
  const origin = request.headers.get('origin');
  if (origin === null || c.allowedOrigins.has(origin) || !isClientOriginShape(origin)) {
    refuseCrossSite(c, request);
    return readFields(request, c.maxBodyBytes);
  }
  let f: Record<string, string>;
  try {
    f = await readFields(request, c.maxBodyBytes);
  } catch {
    crossSite(c, request);
  }
  // A public client naming itself: its lookup is the one read, and no secret is tried or counted.
  if (request.headers.get('authorization') !== null || f.client_secret !== undefined || !f.client_id || f.client_id.length > 256) crossSite(c, request);
  if (!isClientOrigin(await c.clients.get(f.client_id), origin)) crossSite(c, request);
  allowClientOrigin(request, origin);
  return f;
}

/**
 * UserInfo from a public client's page (OIDC Core §5.3): once the access token verified, a request
 * from an origin the handler does not list passes only when it is the origin of a redirect URI of
 * the public client the token was issued to; its answer then carries CORS headers for it.
 */
export async function checkTokenClientOrigin(c: HandlerContext, request: Request, clientId: string): Promise<void> {
  const origin = request.headers.get('origin');
  if (origin === null || c.allowedOrigins.has(origin) || !isClientOriginShape(origin)) return refuseCrossSite(c, request);
  if (!isClientOrigin(await c.clients.get(clientId), origin)) crossSite(c, request);
  allowClientOrigin(request, origin);
}

/** Before the token is read: a request from an origin no client's page can have is refused as at every endpoint. */
export function refuseNonClientOrigin(c: HandlerContext, request: Request): void {
  const origin = request.headers.get('origin');
  if (origin !== null && !c.allowedOrigins.has(origin) && !isClientOriginShape(origin)) refuseCrossSite(c, request);
}
