/**
 * Cookies that carry tokens: HttpOnly, SameSite=Strict, and a `__Host-` name whenever they are
 * Secure. A browser keeps a `__Host-` cookie only when it was set by this very host, Secure, with
 * `Path=/` and no `Domain` (RFC 6265bis §4.1.3.2): no sibling subdomain and no plain-http page can
 * plant one beside ours, which `__Secure-` alone does not prevent. Two cookies of one name in a
 * request are refused as ambiguous all the same.
 */
import { HttpError } from './respond.ts';

/** Options of a token cookie. */
export interface CookieOptions {
  name: string;
  path: string;
  secure: boolean;
  maxAgeSec?: number;
}

/**
 * The name a cookie goes by: `__Host-<base>` when Secure with `Path=/` (bound to this host),
 * `__Secure-<base>` when Secure with a narrower path (which a sibling subdomain could plant: keep
 * `/` where you can), `<base>` on a plain-http localhost.
 */
export function cookieName(base: string, path: string, secure: boolean): string {
  if (!secure) return base;
  return path === '/' ? `__Host-${base}` : `__Secure-${base}`;
}

/** `Set-Cookie` for a token: HttpOnly, SameSite=Strict, its path. */
export function setCookie(value: string, o: CookieOptions): string {
  const parts = [`${o.name}=${value}`, `Path=${o.path}`, 'HttpOnly', 'SameSite=Strict'];
  if (o.secure) parts.push('Secure');
  if (o.maxAgeSec !== undefined) parts.push(`Max-Age=${o.maxAgeSec}`);
  return parts.join('; ');
}

/**
 * A cookie's value from a `Cookie` header, or undefined. Two cookies of that name (one planted
 * for another path or by a sibling domain beside ours) are ambiguous: 400, never the first.
 */
export function cookieValue(header: string | null | undefined, name: string): string | undefined {
  let found: string | undefined;
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      if (found !== undefined) throw new HttpError(400, 'invalid_request', `Two ${name} cookies in one request; clear the site's cookies and sign in again`);
      found = part.slice(eq + 1).trim();
    }
  }
  return found;
}
