/**
 * What every framework's middleware decides, written once: `requireAuth` (a Bearer access token,
 * RFC 6750) and `autoRefresh` (a backend-for-frontend keeping both tokens in HttpOnly cookies,
 * refreshing an expired access token on the way through). Adapters only translate headers in and
 * responses out.
 */
import type { AccessTokenClaims } from '../core/access-token.ts';
import { isBatonError } from '../core/errors.ts';
import type { Baton, TokenPair } from '../core/baton.ts';
import { cookieName, cookieValue, setCookie } from './cookies.ts';
import { HttpError } from './respond.ts';

/** Options of `requireAuth`. */
export interface RequireAuthOptions {
  /** Scopes the token must all carry (RFC 6750 §3.1 `insufficient_scope` otherwise). */
  scope?: string | string[];
  /** Replay guard: the same access token is accepted once on this route. */
  oneTime?: boolean;
}

/** The request facts a guard reads. */
export interface GuardInput {
  authorization: string | null | undefined;
  /** The request URL's query string, to refuse a token there (RFC 6750 §2.3 is not offered). */
  search: string;
}

/** An HTTP refusal in framework-neutral form. */
export interface Refusal {
  status: number;
  headers: Record<string, string>;
  body: { error: string; error_description: string };
}

export type GuardResult = { ok: true; claims: Readonly<AccessTokenClaims> } | { ok: false; refusal: Refusal };

function refuse(status: number, error: string | undefined, description: string, scope?: string): GuardResult {
  const params = ['realm="baton"'];
  if (error) params.push(`error="${error}"`, `error_description="${description.replace(/["\\]/g, '')}"`);
  if (scope) params.push(`scope="${scope}"`);
  return {
    ok: false,
    refusal: {
      status,
      headers: { 'www-authenticate': `Bearer ${params.join(', ')}`, 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8' },
      body: { error: error ?? 'invalid_request', error_description: description },
    },
  };
}

const DESCRIPTIONS: Record<string, string> = { ERR_TOKEN_REPLAYED: 'token already used' };

/** Checks the Bearer token of a request against `options`. */
export async function checkBearer(baton: Baton, input: GuardInput, options: RequireAuthOptions = {}): Promise<GuardResult> {
  if (input.search !== '' && new URLSearchParams(input.search).has('access_token')) return refuse(400, 'invalid_request', 'Send the access token in the Authorization header');
  const header = input.authorization;
  if (!header) return refuse(401, undefined, 'An access token is required');
  // "Bearer" SP b64token (RFC 6750 §2.1); the token's own syntax is checked, strictly, by verify.
  if (header.length < 8 || header.charCodeAt(6) !== 32 || header.slice(0, 6).toLowerCase() !== 'bearer') {
    return refuse(401, 'invalid_request', 'Malformed Authorization header');
  }
  let claims: Readonly<AccessTokenClaims>;
  try {
    claims = await baton.verify(header.slice(7), options.oneTime ? { oneTime: true } : undefined);
  } catch (err) {
    if (isBatonError(err) && err.code === 'ERR_STORE_UNAVAILABLE') {
      return { ok: false, refusal: { status: 503, headers: { 'retry-after': '1', 'content-type': 'application/json; charset=utf-8' }, body: { error: 'temporarily_unavailable', error_description: err.message } } };
    }
    const code = isBatonError(err) ? err.code : '';
    return refuse(401, 'invalid_token', DESCRIPTIONS[code] ?? (isBatonError(err) ? err.message : 'The access token is invalid'));
  }
  return checkScope(claims, options);
}

function checkScope(claims: Readonly<AccessTokenClaims>, options: RequireAuthOptions): GuardResult {
  if (options.scope === undefined) return { ok: true, claims };
  const needed = typeof options.scope === 'string' ? options.scope.split(' ') : (options.scope ?? []);
  const held = new Set((claims.scope ?? '').split(' '));
  const missing = needed.filter((s) => s !== '' && !held.has(s));
  if (missing.length > 0) return refuse(403, 'insufficient_scope', `The token lacks the scope ${missing.join(' ')}`, needed.join(' '));
  return { ok: true, claims };
}

/** Options of `autoRefresh`. */
export interface AutoRefreshOptions extends RequireAuthOptions {
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

/**
 * Creates the transparent-refresh decision for one Baton: a valid access cookie passes; an
 * expired or missing one with a valid refresh cookie is refreshed (one refresh per session at a
 * time in this process; other instances converge through the grace window) and the request goes
 * on with the new claims and new cookies; a failed refresh is a 401 that clears both cookies.
 */
export function createAutoRefresh(baton: Baton, options: AutoRefreshOptions = {}): (input: CookieInput) => Promise<RefreshResult> {
  const { at, rt, ...cookie } = cookies(options);
  const allowed = new Set(options.allowedOrigins ?? []);
  const inflight = new Map<string, Promise<TokenPair>>();
  const clear = [setCookie('', { name: at, ...cookie, maxAgeSec: 0 }), setCookie('', { name: rt, ...cookie, maxAgeSec: 0 })];
  // A store outage or a rate limit: keep the cookies, nothing was lost.
  const transient = (status: number, err: unknown): RefreshResult => ({
    ok: false,
    refusal: { status, headers: { 'retry-after': '1', 'content-type': 'application/json; charset=utf-8' }, body: { error: status === 429 ? 'slow_down' : 'temporarily_unavailable', error_description: (err as Error).message } },
    setCookies: [],
  });
  const denied = (status: number, error: string, description: string): RefreshResult => {
    const r = refuse(status, error, description) as { ok: false; refusal: Refusal };
    return { ok: false, refusal: r.refusal, setCookies: clear };
  };

  return async (input) => {
    // Cookies travel by themselves: a state-changing request must prove it comes from our pages.
    if (!SAFE.has(input.method.toUpperCase()) && !(input.origin ? allowed.has(input.origin) : input.secFetchSite === 'same-origin')) {
      return { ok: false, refusal: { status: 403, headers: { 'content-type': 'application/json; charset=utf-8' }, body: { error: 'invalid_request', error_description: 'Cross-site request refused' } }, setCookies: [] };
    }
    let access: string | undefined;
    let refreshToken: string | undefined;
    try {
      access = cookieValue(input.cookie, at);
      refreshToken = cookieValue(input.cookie, rt);
    } catch (err) {
      const e = err as HttpError;
      return { ok: false, refusal: { status: e.status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: { error: e.error, error_description: e.description } }, setCookies: [] };
    }
    if (access !== undefined) {
      try {
        const claims = await baton.verify(access, options.oneTime ? { oneTime: true } : undefined);
        return { ...checkScope(claims, options), setCookies: [] };
      } catch (err) {
        const code = isBatonError(err) ? err.code : 'ERR_TOKEN_INVALID';
        if (code === 'ERR_STORE_UNAVAILABLE') return transient(503, err);
        if (code === 'ERR_TOKEN_REPLAYED') return { ...refuse(401, 'invalid_token', 'token already used'), setCookies: [] } as RefreshResult;
        // Expired or unreadable: the refresh cookie decides. Revoked: the session is over.
        if (code !== 'ERR_TOKEN_EXPIRED' && code !== 'ERR_TOKEN_INVALID') return denied(401, 'invalid_token', (err as Error).message);
      }
    }
    if (refreshToken === undefined) return denied(401, 'invalid_token', 'Not signed in');
    let pending = inflight.get(refreshToken);
    if (pending === undefined) {
      pending = baton.refresh(refreshToken, options.clientId ? { clientId: options.clientId } : {});
      inflight.set(refreshToken, pending);
      void pending.then(() => inflight.delete(refreshToken), () => inflight.delete(refreshToken));
    }
    let pair: TokenPair;
    try {
      pair = await pending;
    } catch (err) {
      if (isBatonError(err) && err.code === 'ERR_STORE_UNAVAILABLE') return transient(503, err);
      if (isBatonError(err) && err.code === 'ERR_RATE_LIMITED') return transient(429, err);
      return denied(401, 'invalid_token', 'The session ended; sign in again');
    }
    const setCookies = sessionCookies(pair, options);
    try {
      const claims = await baton.verify(pair.access_token, options.oneTime ? { oneTime: true } : undefined);
      return { ...checkScope(claims, options), setCookies };
    } catch (err) {
      return { ...(refuse(isBatonError(err) && err.code === 'ERR_STORE_UNAVAILABLE' ? 503 : 401, 'invalid_token', (err as Error).message) as { ok: false; refusal: Refusal }), setCookies };
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
