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
  /** The request's path and query (or its URL, or only its query): a token there is refused. */
  search: string;
}

/** An HTTP refusal in framework-neutral form. */
export class Refusal {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: { error: string; error_description: string };

  constructor(status: number, headers: Record<string, string>, error: string, description: string) {
    this.status = status;
    this.headers = headers;
    this.body = { error, error_description: description };
  }
}

export type GuardResult = { ok: true; claims: Readonly<AccessTokenClaims> } | { ok: false; refusal: Refusal };

const JSON_TYPE = 'application/json; charset=utf-8';

/** A refusal with a Bearer challenge (RFC 6750 §3). */
function challenge(status: number, error: string | undefined, description: string, scope?: string): Refusal {
  const params = ['realm="baton"'];
  if (error) params.push(`error="${error}"`, `error_description="${description.replace(/["\\]/g, '')}"`);
  if (scope) params.push(`scope="${scope}"`);
  const headers = { 'www-authenticate': `Bearer ${params.join(', ')}`, 'cache-control': 'no-store', 'content-type': JSON_TYPE };
  return new Refusal(status, headers, error ?? 'invalid_request', description);
}

/** A refusal that keeps the client's credentials, nothing being lost: a store outage (503) or a rate limit (429). */
function transient(status: 429 | 503, err: unknown): Refusal {
  return new Refusal(status, { 'retry-after': '1', 'content-type': JSON_TYPE }, status === 429 ? 'slow_down' : 'temporarily_unavailable', (err as Error).message);
}

/**
 * Whether a request target's query names `access_token`: RFC 6750 §2.3 (the URI query parameter)
 * is not offered, and such a request is refused. The query is parsed only when it could name the
 * parameter (literally or percent-encoded), so that most requests parse nothing.
 */
function tokenInQuery(target: string): boolean {
  const q = target.indexOf('?');
  if (q < 0 || (!target.includes('access_token', q) && !target.includes('%', q))) return false;
  return new URLSearchParams(target.slice(q)).has('access_token');
}

/**
 * The token of an `Authorization: Bearer` header, or the refusal to send. `target` is the
 * request's path and query, or its URL.
 */
export function bearerToken(authorization: string | null | undefined, target: string): string | Refusal {
  if (tokenInQuery(target)) return challenge(400, 'invalid_request', 'Send the access token in the Authorization header');
  if (!authorization) return challenge(401, undefined, 'An access token is required');
  // "Bearer" SP b64token (RFC 6750 §2.1); the token's own syntax is checked, strictly, by verify.
  if (authorization.length < 8 || authorization.charCodeAt(6) !== 32 || authorization.slice(0, 6).toLowerCase() !== 'bearer') {
    return challenge(401, 'invalid_request', 'Malformed Authorization header');
  }
  return authorization.slice(7);
}

const DESCRIPTIONS: Record<string, string> = { ERR_TOKEN_REPLAYED: 'token already used' };

/** The refusal of a token `verify` rejected: 503 when the store is unreachable, else 401 `invalid_token`. */
export function verifyRefusal(err: unknown): Refusal {
  if (isBatonError(err) && err.code === 'ERR_STORE_UNAVAILABLE') return transient(503, err);
  const code = isBatonError(err) ? err.code : '';
  return challenge(401, 'invalid_token', DESCRIPTIONS[code] ?? (isBatonError(err) ? err.message : 'The access token is invalid'));
}

/** The scopes a `scope` option asks for. */
function neededScopes(scope: string | string[] | undefined): string[] {
  return (typeof scope === 'string' ? scope.split(' ') : (scope ?? [])).filter((s) => s !== '');
}

/** Whether a space-separated scope list (RFC 6749 §3.3) holds `scope`, without splitting it. */
function holds(granted: string, scope: string): boolean {
  if (scope.includes(' ')) return false; // not a scope token: never held
  for (let at = granted.indexOf(scope); at >= 0; at = granted.indexOf(scope, at + 1)) {
    const end = at + scope.length;
    if ((at === 0 || granted.charCodeAt(at - 1) === 32) && (end === granted.length || granted.charCodeAt(end) === 32)) return true;
  }
  return false;
}

/** The RFC 6750 §3.1 `insufficient_scope` refusal of claims that lack one of `needed`, if they do. */
function scopeRefusal(claims: Readonly<AccessTokenClaims>, needed: string[]): Refusal | undefined {
  if (needed.length === 0) return undefined;
  const missing = needed.filter((s) => !holds(claims.scope ?? '', s));
  return missing.length === 0 ? undefined : challenge(403, 'insufficient_scope', `The token lacks the scope ${missing.join(' ')}`, needed.join(' '));
}

/**
 * A compiled `requireAuth`: the claims of a request's Bearer token, or the refusal to send. A
 * missing or malformed header is refused at once; a token is verified and the promise never
 * rejects. `target` is the request's path and query, or its URL.
 */
export type BearerGuard = (authorization: string | null | undefined, target: string) => Refusal | Promise<Readonly<AccessTokenClaims> | Refusal>;

/**
 * Compiles `requireAuth`'s options once. A request then costs a header check, a verification (a
 * cache hit for a JWT seen before) and one promise reaction: adapters call it on every request.
 */
export function createBearerGuard(baton: Baton, options: RequireAuthOptions = {}): BearerGuard {
  const needed = neededScopes(options.scope);
  const verifyOptions = options.oneTime ? { oneTime: true } : undefined;
  const accept = (claims: Readonly<AccessTokenClaims>): Readonly<AccessTokenClaims> | Refusal => scopeRefusal(claims, needed) ?? claims;
  return (authorization, target) => {
    const token = bearerToken(authorization, target);
    return typeof token === 'string' ? baton.verify(token, verifyOptions).then(accept, verifyRefusal) : token;
  };
}

/** Checks the Bearer token of a request against `options`. */
export async function checkBearer(baton: Baton, input: GuardInput, options: RequireAuthOptions = {}): Promise<GuardResult> {
  const outcome = await createBearerGuard(baton, options)(input.authorization, input.search);
  return outcome instanceof Refusal ? { ok: false, refusal: outcome } : { ok: true, claims: outcome };
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
  const needed = neededScopes(options.scope);
  const verifyOptions = options.oneTime ? { oneTime: true } : undefined;
  const passed = (claims: Readonly<AccessTokenClaims>, setCookies: string[]): RefreshResult => {
    const refusal = scopeRefusal(claims, needed);
    return refusal === undefined ? { ok: true, claims, setCookies } : { ok: false, refusal, setCookies };
  };
  const kept = (refusal: Refusal): RefreshResult => ({ ok: false, refusal, setCookies: [] });
  // The session is over: clear both cookies.
  const denied = (description: string): RefreshResult => ({ ok: false, refusal: challenge(401, 'invalid_token', description), setCookies: clear });

  return async (input) => {
    // Cookies travel by themselves: a state-changing request must prove it comes from our pages.
    if (!SAFE.has(input.method.toUpperCase()) && !(input.origin ? allowed.has(input.origin) : input.secFetchSite === 'same-origin')) {
      return kept(new Refusal(403, { 'content-type': JSON_TYPE }, 'invalid_request', 'Cross-site request refused'));
    }
    let access: string | undefined;
    let refreshToken: string | undefined;
    try {
      access = cookieValue(input.cookie, at);
      refreshToken = cookieValue(input.cookie, rt);
    } catch (err) {
      const e = err as HttpError;
      return kept(new Refusal(e.status, { 'content-type': JSON_TYPE }, e.error, e.description));
    }
    if (access !== undefined) {
      try {
        return passed(await baton.verify(access, verifyOptions), []);
      } catch (err) {
        const code = isBatonError(err) ? err.code : 'ERR_TOKEN_INVALID';
        if (code === 'ERR_STORE_UNAVAILABLE' || code === 'ERR_TOKEN_REPLAYED') return kept(verifyRefusal(err));
        // Expired or unreadable: the refresh cookie decides. Revoked: the session is over.
        if (code !== 'ERR_TOKEN_EXPIRED' && code !== 'ERR_TOKEN_INVALID') return denied((err as Error).message);
      }
    }
    if (refreshToken === undefined) return denied('Not signed in');
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
      if (isBatonError(err) && err.code === 'ERR_STORE_UNAVAILABLE') return kept(transient(503, err));
      if (isBatonError(err) && err.code === 'ERR_RATE_LIMITED') return kept(transient(429, err));
      return denied('The session ended; sign in again');
    }
    const setCookies = sessionCookies(pair, options);
    try {
      return passed(await baton.verify(pair.access_token, verifyOptions), setCookies);
    } catch (err) {
      return { ok: false, refusal: challenge(isBatonError(err) && err.code === 'ERR_STORE_UNAVAILABLE' ? 503 : 401, 'invalid_token', (err as Error).message), setCookies };
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
