/**
 * What the Next.js adapter's tests share: Next's own cookie store of a server action (its
 * `MutableRequestCookiesAdapter` over `RequestCookies`, the classes `cookies()` from `next/headers`
 * returns there), recording the `Set-Cookie` strings Next would send.
 */
import { MutableRequestCookiesAdapter } from 'next/dist/server/web/spec-extension/adapters/request-cookies.js';
import { RequestCookies } from 'next/dist/server/web/spec-extension/cookies.js';
import type { NextCookieStore } from 'baton-auth/next';

/** A server action's cookie store for a request with `cookie`, and what it set. */
export function actionCookies(cookie: string | null): { store: NextCookieStore; setCookies: () => string[] } {
  let written: string[] = [];
  const store = MutableRequestCookiesAdapter.wrap(new RequestCookies(new Headers(cookie === null ? {} : { cookie })), (serialized) => (written = serialized));
  return { store: store as unknown as NextCookieStore, setCookies: () => written };
}

/** The `name=value` pairs of Set-Cookie strings. */
export const jar = (setCookies: string[]): Record<string, string> =>
  Object.fromEntries(
    setCookies.map((s) => s.split(';')[0] as string).map((kv) => [kv.slice(0, kv.indexOf('=')), decodeURIComponent(kv.slice(kv.indexOf('=') + 1))]),
  );

export const header = (cookies: Record<string, string>): string =>
  Object.entries(cookies)
    .map(([k, v]) => `${k}=${v}`)
    .join('; ');
