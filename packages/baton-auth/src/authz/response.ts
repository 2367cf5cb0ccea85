/**
 * Authorization responses (RFC 6749 §4.1.2): a `303 See Other` to the verified redirect URI — so
 * that the browser follows a POST with a GET (RFC 9700 §4.11) — carrying `iss` (RFC 9207 §2,
 * against mix-up) on success and on error alike, and never cached.
 */
import type { HandlerContext } from '../http/context.ts';
import { AuthzPageError, AuthzRedirectError } from './request.ts';
import { errorPage } from './html.ts';

/** A 303 to `location` with `Cache-Control: no-store` and any `Set-Cookie` given. */
export function seeOther(location: string, cookies: readonly string[] = []): Response {
  const headers = new Headers({ location, 'cache-control': 'no-store', pragma: 'no-cache', 'referrer-policy': 'no-referrer' });
  for (const cookie of cookies) headers.append('set-cookie', cookie);
  return new Response(null, { status: 303, headers });
}

/**
 * The redirect URI with `params` and `iss` added to its query. The URI is used as registered and
 * matched, character for character (no URL normalisation): a query it has is kept (RFC 6749 §3.1.2).
 */
export function authorizationResponse(
  c: HandlerContext,
  redirectUri: string,
  params: Record<string, string | undefined>,
  cookies: readonly string[] = [],
): Response {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) query.append(k, v);
  query.append('iss', c.issuer);
  return seeOther(`${redirectUri}${redirectUri.includes('?') ? '&' : '?'}${query.toString()}`, cookies);
}

/** An error redirected to the client (RFC 6749 §4.1.2.1), with its state and `iss`. */
export function errorRedirect(c: HandlerContext, e: AuthzRedirectError, cookies: readonly string[] = []): Response {
  return authorizationResponse(c, e.redirectUri, { error: e.error, error_description: e.description.slice(0, 300), state: e.state }, cookies);
}

/** The answer of an authorization error: a redirect when the URI was verified, a page otherwise. */
export function authzErrorResponse(c: HandlerContext, err: unknown): Response {
  if (err instanceof AuthzRedirectError) return errorRedirect(c, err);
  if (err instanceof AuthzPageError) return errorPage(c, err.status, err.description);
  throw err;
}
