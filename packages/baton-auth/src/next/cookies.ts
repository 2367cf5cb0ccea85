/**
 * The session's `Set-Cookie` strings as `next/headers`' cookie store takes them (server actions
 * and route handlers write cookies only through it), and that store read back as a Cookie header.
 */

/** What `baton-auth/next` needs of `cookies()` from `next/headers` (Next 15 and 16). */
export interface NextCookieStore {
  getAll(): { name: string; value: string }[];
  set(name: string, value: string, options?: { path?: string; httpOnly?: boolean; secure?: boolean; sameSite?: 'strict'; maxAge?: number }): unknown;
}

/** One of our own `Set-Cookie` strings (`name=value; Path=…; HttpOnly; SameSite=Strict[; Secure][; Max-Age=n]`) as `set`'s arguments. */
export function parseSetCookie(header: string): { name: string; value: string; options: Parameters<NextCookieStore['set']>[2] & object } {
  const [pair = '', ...attributes] = header.split(';').map((p) => p.trim());
  const eq = pair.indexOf('=');
  const options: Parameters<NextCookieStore['set']>[2] & object = { httpOnly: false, secure: false };
  for (const a of attributes) {
    const [k = '', v = ''] = a.split('=');
    const key = k.toLowerCase();
    if (key === 'path') options.path = v;
    else if (key === 'httponly') options.httpOnly = true;
    else if (key === 'secure') options.secure = true;
    else if (key === 'samesite') options.sameSite = 'strict';
    else if (key === 'max-age') options.maxAge = Number(v);
  }
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), options };
}

/** Writes `setCookies` through the store (a server action's or route handler's). */
export function writeCookies(store: NextCookieStore, setCookies: string[]): void {
  for (const header of setCookies) {
    const { name, value, options } = parseSetCookie(header);
    store.set(name, value, options);
  }
}

/**
 * The store's cookies as a Cookie header (what the proxy forwarded, with this action's own writes).
 * Next's store holds values percent-decoded, so each is encoded again: a cookie planted by a sibling
 * subdomain with the value `x%3B%20__Host-baton_rt%3D…` must stay one cookie, never become a
 * `__Host-` token cookie the browser does not have. Our tokens and reason words encode to themselves.
 */
export function cookieHeaderOf(store: NextCookieStore): string | null {
  const all = store.getAll();
  return all.length === 0 ? null : all.map((c) => `${c.name}=${encodeURIComponent(c.value)}`).join('; ');
}
