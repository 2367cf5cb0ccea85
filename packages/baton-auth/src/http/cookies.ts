/**
 * Cookies that carry tokens: HttpOnly, SameSite=Strict, and a `__Host-` name whenever they are
 * Secure. A browser keeps a `__Host-` cookie only when it was set by this very host, Secure, with
 * `Path=/` and no `Domain` (RFC 6265bis §4.1.3.2): no sibling subdomain and no plain-http page can
 * plant one beside ours, which `__Secure-` alone does not prevent. Two cookies of one name in a
 * request are refused as ambiguous all the same.
 */
import { BatonConfigError } from '../core/errors.ts';
// The loopback names of http/urls.ts, until the protocol toolkit holds the one loopback rule.
import { LOOPBACK } from './urls.ts';
import { HttpError } from './respond.ts';

/**
 * Refuses cookies without `Secure` unless the issuer is plain http on loopback (development): off
 * this machine, anyone on the network path would read the refresh token. The one rule of the
 * library's `cookie.secure` and the service's `BATON_COOKIE_SECURE`; `setting` names the one given.
 */
export function checkCookieSecure(issuer: string, secure: unknown, setting: string): boolean {
  if (typeof secure !== 'boolean') throw new BatonConfigError(`${setting} must be true or false.`);
  if (secure) return true;
  const url = URL.canParse(issuer) ? new URL(issuer) : undefined;
  if (url?.protocol === 'http:' && LOOPBACK.has(url.hostname)) return false;
  throw new BatonConfigError(`${setting}=false is only allowed for a plain-http localhost issuer; serve over https and keep Secure cookies.`);
}

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
      if (found !== undefined) throw new HttpError('ERR_INVALID_REQUEST', `Two ${name} cookies in one request; clear the site's cookies and sign in again`);
      found = part.slice(eq + 1).trim();
    }
  }
  return found;
}
