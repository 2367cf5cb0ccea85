/**
 * The session's cookies on the app's origin: the two token cookies of `autoRefresh` (`baton_at`,
 * `baton_rt`, `__Host-` prefixed when Secure with path `/`, HttpOnly, SameSite=Strict), and a
 * third, `baton_end`, that carries only why the last session ended (a reason word, no token) so
 * that the page rendered after the cookies were cleared can say "Signed out: revoked". The Cookie
 * header forwarded to the rest of the render is rewritten with the same values.
 */
import type { TokenPair } from '../core/baton.ts';
import { cookieName, cookieValue, setCookie } from '../http/cookies.ts';
import type { CookieSettings } from './types.ts';

/** A session-end reason as it may travel in a cookie: a lowercase word. */
export const REASON_WORD = /^[a-z][a-z0-9_]{0,39}$/;
/** How long the reason of an ended session is kept for the pages after it, seconds. */
const END_COOKIE_SEC = 300;

export interface SessionCookies {
  at: string;
  rt: string;
  end: string;
  path: string;
  secure: boolean;
}

export function sessionCookieNames(o: CookieSettings = {}): SessionCookies {
  const path = o.path ?? '/';
  const secure = o.secure ?? true;
  return {
    at: o.accessCookie ?? cookieName('baton_at', path, secure),
    rt: o.refreshCookie ?? cookieName('baton_rt', path, secure),
    end: cookieName('baton_end', path, secure),
    path,
    secure,
  };
}

/** The tokens in a Cookie header (two of one name is a 400 `BatonError`, never the first of them). */
export function readCookies(c: SessionCookies, header: string | null): { access: string | undefined; refresh: string | undefined; end: string | undefined } {
  // An empty value is a cookie being cleared (a store that shows its own writes): none.
  const read = (name: string) => cookieValue(header, name) || undefined;
  const end = read(c.end);
  return { access: read(c.at), refresh: read(c.rt), end: end !== undefined && REASON_WORD.test(end) ? end : undefined };
}

/** `Set-Cookie` of a new pair (and the end reason cleared). */
export function pairCookies(c: SessionCookies, pair: TokenPair): string[] {
  const { path, secure } = c;
  return [
    setCookie(pair.access_token, { name: c.at, path, secure, maxAgeSec: pair.expires_in }),
    setCookie(pair.refresh_token, { name: c.rt, path, secure, maxAgeSec: pair.refresh_expires_in }),
  ];
}

/** `Set-Cookie` that clears both tokens, and keeps why the session ended when it is known. */
export function endCookies(c: SessionCookies, reason: string | null): string[] {
  const { path, secure } = c;
  const out = [setCookie('', { name: c.at, path, secure, maxAgeSec: 0 }), setCookie('', { name: c.rt, path, secure, maxAgeSec: 0 })];
  if (reason !== null && REASON_WORD.test(reason)) out.push(setCookie(reason, { name: c.end, path, secure, maxAgeSec: END_COOKIE_SEC }));
  return out;
}

/** `Set-Cookie` that clears the end reason (a new sign-in). */
export function clearEndCookie(c: SessionCookies): string {
  return setCookie('', { name: c.end, path: c.path, secure: c.secure, maxAgeSec: 0 });
}

/**
 * The Cookie header with `changes` applied (a value replaces the cookie, undefined removes it),
 * every other cookie kept as it was: what the rest of the render reads. Null when none is left.
 */
export function rewriteCookieHeader(header: string | null, changes: Record<string, string | undefined>): string | null {
  const kept = (header ?? '')
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '' && !Object.hasOwn(changes, p.slice(0, Math.max(0, p.indexOf('='))).trim()));
  for (const [name, value] of Object.entries(changes)) if (value !== undefined) kept.push(`${name}=${value}`);
  return kept.length === 0 ? null : kept.join('; ');
}
