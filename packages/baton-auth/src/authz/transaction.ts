/**
 * The authorization transaction: the checked request, sealed (purpose `txn`, 10 minutes) into the
 * pages' forms and the library-first `returnTo` URL — no row is written for a browser that has not
 * signed in. And the two cookies of the pages: the CSRF double-submit cookie, whose SHA-256 the
 * sealed transaction of a form carries, and the authorization-server session cookie.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { HandlerContext } from '../http/context.ts';
import { cookieValue } from '../http/cookies.ts';
import type { AuthzRequest } from './request.ts';

/** A transaction: the request, when it started (s), and what a form's step adds. */
export interface Txn {
  r: AuthzRequest;
  /** When the request arrived, seconds since the epoch: `prompt=login` wants a sign-in after it. */
  t: number;
  /** SHA-256 (base64url) of the CSRF cookie of the browser the form was shown to. */
  csrf?: string;
  /** The consent form: the user it was shown to. */
  u?: string;
}

/** What the authorization-server session cookie holds (sealed, purpose `as`). */
export interface AsSession {
  userId: string;
  /** The Baton session opened at the hosted sign-in: the cookie counts only while it is active. */
  sid: string;
  /** Seconds since the epoch. */
  authTime: number;
  /** What the user may have. */
  scope: string;
}

const TXN_TTL_MS = 10 * 60_000;
const CSRF = /^[A-Za-z0-9_-]{43}$/;

export const nowSec = (c: HandlerContext): number => Math.floor(c.baton.now() / 1000);

export function sealTxn(c: HandlerContext, txn: Txn): Promise<string> {
  return c.authz.sealer.seal('txn', txn, TXN_TTL_MS);
}

export async function openTxn(c: HandlerContext, sealed: string | undefined): Promise<Txn | undefined> {
  if (sealed === undefined) return undefined;
  return c.authz.sealer.open<Txn>('txn', sealed);
}

/** A page cookie's name: `__Host-<base>` when Secure (bound to this host, Path=/), `<base>` on a plain-http loopback issuer. */
export const pageCookieName = (c: HandlerContext, base: string): string => (c.cookie.secure ? `__Host-${base}` : base);

/** `Set-Cookie` of a page cookie: HttpOnly, Path=/, Secure whenever the issuer is https. */
export function pageCookie(c: HandlerContext, base: string, value: string, o: { sameSite: 'Lax' | 'Strict'; maxAgeSec?: number }): string {
  const parts = [`${pageCookieName(c, base)}=${value}`, 'Path=/', 'HttpOnly', `SameSite=${o.sameSite}`];
  if (c.cookie.secure) parts.push('Secure');
  if (o.maxAgeSec !== undefined) parts.push(`Max-Age=${o.maxAgeSec}`);
  return parts.join('; ');
}

const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');

/**
 * The browser's CSRF value (its cookie, or a new one) and the `Set-Cookie` that keeps it. A second
 * tab reuses the value, so that opening it does not break the first tab's form.
 */
export function csrfFor(c: HandlerContext, request: Request): { hash: string; setCookie: string } {
  const present = cookieValue(request.headers.get('cookie'), pageCookieName(c, 'baton_csrf'));
  const value = present !== undefined && CSRF.test(present) ? present : randomBytes(32).toString('base64url');
  // SameSite=Strict: the forms post to this very site; no other site's request carries it.
  return { hash: sha256(value), setCookie: pageCookie(c, 'baton_csrf', value, { sameSite: 'Strict' }) };
}

/** Whether the request carries the CSRF cookie whose hash the form's transaction holds (compared in constant time). */
export function csrfMatches(c: HandlerContext, request: Request, txn: Pick<Txn, 'csrf'>): boolean {
  const present = cookieValue(request.headers.get('cookie'), pageCookieName(c, 'baton_csrf'));
  if (present === undefined || txn.csrf === undefined || !CSRF.test(present)) return false;
  const [a, b] = [Buffer.from(sha256(present)), Buffer.from(txn.csrf)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The authorization-server session of the request's cookie, if it is ours and its Baton session is still active. */
export async function asSession(c: HandlerContext, request: Request): Promise<AsSession | undefined> {
  const sealed = cookieValue(request.headers.get('cookie'), pageCookieName(c, 'baton_as'));
  if (sealed === undefined) return undefined;
  const s = await c.authz.sealer.open<AsSession>('as', sealed);
  if (s === undefined) return undefined;
  // Signing out everywhere, revoking that session, or its expiry ends the cookie too.
  const live = await c.baton.listSessions(s.userId);
  return live.some((x) => x.id === s.sid) ? s : undefined;
}

/** `Set-Cookie` of a new authorization-server session. */
export async function asCookie(c: HandlerContext, s: AsSession, ttlSec: number): Promise<string> {
  const sealed = await c.authz.sealer.seal('as', s, ttlSec * 1000);
  // SameSite=Lax: sent on the client's top-level navigation to /oauth/authorize, never on a cross-site POST.
  return pageCookie(c, 'baton_as', sealed, { sameSite: 'Lax', maxAgeSec: ttlSec });
}
