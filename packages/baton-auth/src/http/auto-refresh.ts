/**
 * `autoRefresh`'s decision, written once for every framework: a backend-for-frontend keeps both
 * tokens in HttpOnly cookies, and an expired access token is refreshed on the way through (one
 * refresh per session at a time in this process; other instances converge through the grace
 * window), the request going on with the new claims and new cookies.
 */
import type { AccessTokenClaims } from '../core/access-token.ts';
import { isBatonError } from '../core/errors.ts';
import type { Baton, TokenPair } from '../core/baton.ts';
import type { VerifyOptions } from '../core/verify.ts';
import { neededScopes, scopeRefusal, verifyRefusal } from './guard.ts';
import { cookieName, cookieValue, setCookie } from './cookies.ts';
import { checkOrigins } from './cors.ts';
import { challenge, keepsCredentials, plain, refusalOf } from './refusal.ts';
import type { Refusal } from './refusal.ts';
import { httpErrorOf, sessionEndMember } from './respond.ts';

/** Options of `autoRefresh`. */
export interface AutoRefreshOptions {
  /** Scopes the token must all carry (RFC 6750 §3.1 `insufficient_scope` otherwise). */
  scope?: string | string[];
  /** Replay guard: the same access token is accepted once on this route. */
  oneTime?: boolean;
  /** The audience the cookies' tokens are for. Default the Baton's own (`baton.audience`): sessions its `login` opened without a resource. */
  audience?: string;
  /**
   * Cookie names. Default `baton_at` and `baton_rt`, prefixed `__Host-` when Secure with path `/`
   * (`__Secure-` with another path), so that no sibling subdomain or plain-http page can plant them.
   */
  accessCookie?: string;
  refreshCookie?: string;
  /** Path of both cookies. Default `/`. */
  path?: string;
  /** `Secure` cookies. Default true. */
  secure?: boolean;
  /** The client id the session was opened with, if refreshes must present it. */
  clientId?: string;
  /** Origins allowed to send cookie-authenticated state-changing requests (CSRF). */
  allowedOrigins?: string[];
}

/** The request facts `autoRefresh` reads. */
export interface CookieInput {
  method: string;
  cookie: string | null | undefined;
  origin: string | null | undefined;
  secFetchSite: string | null | undefined;
}

export type RefreshResult = { ok: true; claims: Readonly<AccessTokenClaims>; setCookies: string[] } | { ok: false; refusal: Refusal; setCookies: string[] };

type CookieNaming = Pick<AutoRefreshOptions, 'accessCookie' | 'refreshCookie' | 'path' | 'secure'>;

/** The names, path and `Secure` flag of the two cookies. */
function cookies(options: CookieNaming): { at: string; rt: string; path: string; secure: boolean } {
  const path = options.path ?? '/';
  const secure = options.secure ?? true;
  return { at: options.accessCookie ?? cookieName('baton_at', path, secure), rt: options.refreshCookie ?? cookieName('baton_rt', path, secure), path, secure };
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Refreshes once per refresh token, however many requests present it at the same time: they all get its pair. */
function singleFlight(baton: Baton, clientId: string | undefined): (refreshToken: string) => Promise<TokenPair> {
  const inflight = new Map<string, Promise<TokenPair>>();
  return (refreshToken) => {
    let pending = inflight.get(refreshToken);
    if (pending === undefined) {
      pending = baton.refresh(refreshToken, clientId ? { clientId } : {});
      inflight.set(refreshToken, pending);
      void pending.then(
        () => inflight.delete(refreshToken),
        () => inflight.delete(refreshToken),
      );
    }
    return pending;
  };
}

/**
 * Creates the transparent-refresh decision for one Baton: a valid access cookie passes; an
 * expired or missing one with a valid refresh cookie is refreshed and the request goes on; a
 * failed refresh is a 401 that clears both cookies (and says why the session ended, when it did).
 */
export function createAutoRefresh(baton: Baton, options: AutoRefreshOptions = {}): (input: CookieInput) => Promise<RefreshResult> {
  const { at, rt, ...cookie } = cookies(options);
  const allowed = new Set(checkOrigins(options.allowedOrigins ?? [], 'autoRefresh allowedOrigins'));
  const refreshOnce = singleFlight(baton, options.clientId);
  const clear = [setCookie('', { name: at, ...cookie, maxAgeSec: 0 }), setCookie('', { name: rt, ...cookie, maxAgeSec: 0 })];
  const needed = neededScopes(options.scope);
  const verifyOptions: VerifyOptions = { audience: options.audience ?? baton.audience, ...(options.oneTime ? { oneTime: true } : {}) };
  const passed = (claims: Readonly<AccessTokenClaims>, setCookies: string[]): RefreshResult => {
    const refusal = scopeRefusal(claims, needed);
    return refusal === undefined ? { ok: true, claims, setCookies } : { ok: false, refusal, setCookies };
  };
  const kept = (refusal: Refusal): RefreshResult => ({ ok: false, refusal, setCookies: [] });
  // The session is over: clear both cookies, and say why when the engine could.
  const denied = (description: string, err?: unknown): RefreshResult => {
    const ended = isBatonError(err) && err.sessionEnd !== undefined ? { members: { session_end: sessionEndMember(err.sessionEnd) } } : {};
    return { ok: false, refusal: challenge(401, 'invalid_token', description, ended), setCookies: clear };
  };

  return async (input) => {
    // Cookies travel by themselves: a state-changing request must prove it comes from our pages.
    if (!SAFE.has(input.method.toUpperCase()) && !(input.origin ? allowed.has(input.origin) : input.secFetchSite === 'same-origin')) {
      return kept(plain(403, 'invalid_request', 'Cross-site request refused'));
    }
    let access: string | undefined;
    let refreshToken: string | undefined;
    try {
      access = cookieValue(input.cookie, at);
      refreshToken = cookieValue(input.cookie, rt);
    } catch (err) {
      return kept(refusalOf(httpErrorOf(err)));
    }
    if (access !== undefined) {
      try {
        return passed(await baton.verify(access, verifyOptions), []);
      } catch (err) {
        const code = isBatonError(err) ? err.code : 'ERR_TOKEN_INVALID';
        // The server's trouble (503, 429, 500) or a replay keeps the cookies; expired or unreadable:
        // the refresh cookie decides; revoked: the session is over.
        if (code === 'ERR_TOKEN_REPLAYED' || keepsCredentials(httpErrorOf(err))) return kept(verifyRefusal(err));
        if (code !== 'ERR_TOKEN_EXPIRED' && code !== 'ERR_TOKEN_INVALID') return denied((err as Error).message, err);
      }
    }
    if (refreshToken === undefined) return denied('Not signed in');
    let pair: TokenPair;
    try {
      pair = await refreshOnce(refreshToken);
    } catch (err) {
      const http = httpErrorOf(err);
      if (keepsCredentials(http)) return kept(refusalOf(http));
      return denied('The session ended; sign in again', err);
    }
    const setCookies = sessionCookies(pair, options);
    try {
      return passed(await baton.verify(pair.access_token, verifyOptions), setCookies);
    } catch (err) {
      return { ok: false, refusal: verifyRefusal(err), setCookies };
    }
  };
}

/** The cookies a login response sets in backend-for-frontend mode (the names `autoRefresh` reads). */
export function sessionCookies(pair: TokenPair, options: CookieNaming = {}): string[] {
  const { at, rt, ...cookie } = cookies(options);
  return [
    setCookie(pair.access_token, { name: at, ...cookie, maxAgeSec: pair.expires_in }),
    setCookie(pair.refresh_token, { name: rt, ...cookie, maxAgeSec: pair.refresh_expires_in }),
  ];
}
