/**
 * The guard of an API's routes — `requireAuth`'s decision, written once for every framework: the
 * Bearer token of a request (RFC 6750 §2.1) or a DPoP-bound token with its proof (RFC 9449 §7,
 * asked of `dpop/scheme.ts`), verified for the audience this API serves (RFC 9068 §4, RFC 8707),
 * with the scopes a route needs; the refusal to send otherwise. Compiled once per route, so that a
 * Bearer request costs a header check, a verification (a cache hit for a token seen before) and no promise.
 */
import type { AccessTokenClaims } from '../core/access-token.ts';
import { BatonConfigError, isBatonError } from '../core/errors.ts';
import { bearerOnly } from '../core/verify.ts';
import type { VerifyOptions } from '../core/verify.ts';
import { DpopToken, guardDpop, isDpopScheme, malformedDpop, proofRefusal } from '../dpop/scheme.ts';
import type { DpopReader } from '../dpop/scheme.ts';
import { challenge, keepsCredentials, Refusal, refusalOf } from './refusal.ts';
import type { ChallengeParams } from './refusal.ts';
import { httpErrorOf } from './respond.ts';

/** What verifies a guard's tokens: a `Baton`, or anything with its `verify` (a verifier of another issuer's tokens). */
export interface TokenVerifier {
  verify(token: string, options?: VerifyOptions): Promise<Readonly<AccessTokenClaims>>;
  /** The same without a promise when nothing asynchronous is needed; `undefined` otherwise (see `Baton.verifySync`). */
  verifySync?(token: string, options?: VerifyOptions): Readonly<AccessTokenClaims> | undefined;
  /** True when `verify` checks DPoP proofs (`options.dpop`, RFC 9449 §7); otherwise the DPoP scheme is refused. */
  readonly verifiesDpop?: boolean;
}

/** Options of `requireAuth`. */
export interface RequireAuthOptions {
  /**
   * The audience this API serves: its resource URI, as clients name it with `resource`
   * (RFC 8707) and as tokens for it carry in `aud`. A token for another API is refused. Required:
   * pass the token service's own audience (`baton.audience`, its issuer) only for routes that
   * accept the tokens it issues without a resource.
   */
  audience: string;
  /** Scopes the token must all carry (RFC 6750 §3.1 `insufficient_scope` otherwise). */
  scope?: string | string[];
  /** Replay guard: the same access token is accepted once on this route. */
  oneTime?: boolean;
  /** The URL of this API's protected resource metadata (RFC 9728), named in every challenge (`resource_metadata`). */
  resourceMetadata?: string;
  /**
   * This API's public origin(s) as clients address it (`https://api.example.com`), which DPoP
   * proofs name in `htu` (RFC 9449 §4.3). Set it in production: without it the origin is the
   * request's protocol and Host header as the framework trusts them, and a client chooses its
   * Host header — a proof captured on another origin whose tokens this API also accepts could
   * then be spent here once.
   */
  origin?: string | readonly string[];
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

/** b64token (RFC 6750 §2.1). */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

const MALFORMED = 'Malformed Authorization header: Bearer, one space, the token';

/**
 * The token of an `Authorization` header: a string for `Bearer`, a `DpopToken` for `DPoP` (schemes
 * are case-insensitive, RFC 9110 §11.1), or the refusal to send (RFC 6750 §3.1): no header, or
 * another scheme, is a challenge without an error code; a malformed header is 400
 * `invalid_request`. `target` is the request's path and query, or its URL. The token's characters
 * are the guard's to check (`malformed`), after the verifier when that is cheaper.
 */
function presentedToken(authorization: string | null | undefined, target: string, params: ChallengeParams): string | DpopToken | Refusal {
  if (tokenInQuery(target)) return challenge(400, 'invalid_request', 'Send the access token in the Authorization header', params);
  if (!authorization) return challenge(401, undefined, 'An access token is required', params);
  const space = authorization.indexOf(' ');
  const scheme = space < 0 ? authorization : authorization.slice(0, space);
  if (scheme.length === 6 && scheme.toLowerCase() === 'bearer')
    return space === 6 ? credentials(authorization, 7) : challenge(400, 'invalid_request', MALFORMED, params);
  if (isDpopScheme(scheme)) return space === 4 ? new DpopToken(credentials(authorization, 5)) : malformedDpop(params);
  return challenge(401, undefined, `An access token is required, with the Bearer${params.dpopAlgs === undefined ? '' : ' or DPoP'} scheme`, params);
}

/**
 * What follows the scheme and its space: RFC 6750 §2.1 and RFC 9110 §11.4 allow `1*SP` between
 * them (the usual single space costs no scan).
 */
function credentials(authorization: string, from: number): string {
  let at = from;
  while (authorization.charCodeAt(at) === 32) at++;
  return authorization.slice(at);
}

/** The 400 of a token that is not an RFC 6750 §2.1 b64token, if it is not one. */
function malformed(token: string, params: ChallengeParams): Refusal | undefined {
  return B64TOKEN.test(token) ? undefined : challenge(400, 'invalid_request', MALFORMED, params);
}

/**
 * The refusal of a token `verify` rejected, as `httpErrorOf` maps it: 503 or 429 when nothing was
 * lost, 500 for the server's own misconfiguration, else 401 `invalid_token` — with `session_end` (why the session ended) when the token
 * proved it was one of that session's.
 */
export function verifyRefusal(err: unknown, params: ChallengeParams = {}): Refusal {
  const http = httpErrorOf(err);
  // Nothing is wrong with the token; but an unknown error from another verifier is its refusal.
  if (keepsCredentials(http) && isBatonError(err)) return refusalOf(http);
  const refusedProof = proofRefusal(http, params);
  if (refusedProof !== undefined) return refusedProof;
  const description = http.status === 401 ? http.description : 'The access token is invalid';
  return challenge(401, 'invalid_token', description, Object.keys(http.members).length === 0 ? params : { ...params, members: http.members });
}

/** The scopes a `scope` option asks for. */
export function neededScopes(scope: string | string[] | undefined): string[] {
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
export function scopeRefusal(claims: Readonly<AccessTokenClaims>, needed: string[], params: ChallengeParams = {}): Refusal | undefined {
  if (needed.length === 0) return undefined;
  const missing = needed.filter((s) => !holds(claims.scope ?? '', s));
  return missing.length === 0
    ? undefined
    : challenge(403, 'insufficient_scope', `The token lacks the scope ${missing.join(' ')}`, { ...params, scope: needed.join(' ') });
}

/** What a guard decides: the claims, or the refusal to send. */
export type GuardOutcome = Readonly<AccessTokenClaims> | Refusal;

/**
 * A compiled guard — `requireAuth`'s decision: the claims of a request's token, or the refusal to
 * send — at once when nothing asynchronous is needed (a header to refuse, a JWT verified in
 * process), else a promise that never rejects. `target` is the request's path and query, or its
 * URL; `request` is what the adapter reads a DPoP presentation from, when the token comes with that scheme.
 */
export type Guard<R = undefined> = (authorization: string | null | undefined, target: string, request?: R) => GuardOutcome | Promise<GuardOutcome>;

/**
 * Compiles `requireAuth`'s options once into a guard; a missing audience fails here, at
 * start-up, with a sentence. `dpop` reads a request's DPoP presentation: without it (or with a
 * verifier that checks no proofs) the DPoP scheme is refused (`dpop/scheme.ts`).
 */
export function createGuard<R = undefined>(verifier: TokenVerifier, options: RequireAuthOptions, dpop?: DpopReader<R>): Guard<R> {
  if (typeof options?.audience !== 'string' || options.audience === '') {
    throw new BatonConfigError(
      "requireAuth needs the audience this API serves, e.g. requireAuth(baton, { audience: 'https://api.example.com' }): the resource URI clients ask tokens for (RFC 8707). For the token service's own tokens, pass { audience: baton.audience }.",
    );
  }
  const needed = neededScopes(options.scope);
  const bound = guardDpop(verifier.verifiesDpop === true, dpop, options.resourceMetadata === undefined ? {} : { resourceMetadata: options.resourceMetadata });
  const { params, boundParams } = bound;
  const verifyOptions: VerifyOptions = options.oneTime ? { audience: options.audience, oneTime: true } : { audience: options.audience };
  const accept = (claims: Readonly<AccessTokenClaims>): Readonly<AccessTokenClaims> | Refusal => {
    try {
      bearerOnly(claims); // RFC 9449 §7.1: a bound token is never a bearer token, whichever verifier let it through.
    } catch (err) {
      return refuse(err);
    }
    return scopeRefusal(claims, needed, params) ?? claims;
  };
  const acceptBound = (claims: Readonly<AccessTokenClaims>): Readonly<AccessTokenClaims> | Refusal => scopeRefusal(claims, needed, boundParams) ?? claims;
  const refuse = (err: unknown): Refusal => verifyRefusal(err, params);
  const refuseBound = (err: unknown): Refusal => verifyRefusal(err, boundParams);
  const sync = verifier.verifySync?.bind(verifier);
  return (authorization, target, request) => {
    const token = presentedToken(authorization, target, params);
    if (token instanceof Refusal) return token;
    if (token instanceof DpopToken) {
      if (!bound.accepts(request)) return bound.notAccepted();
      return (
        malformed(token.token, boundParams) ?? verifier.verify(token.token, { ...verifyOptions, dpop: bound.read(request) }).then(acceptBound, refuseBound)
      );
    }
    if (sync !== undefined) {
      // A token the engine verifies is one it issued, a b64token: its characters are checked
      // only when it is refused (the check costs as much as a cached verification).
      let claims: Readonly<AccessTokenClaims> | undefined;
      try {
        claims = sync(token, verifyOptions);
      } catch (err) {
        return malformed(token, params) ?? refuse(err);
      }
      if (claims !== undefined) return accept(claims);
    }
    return malformed(token, params) ?? verifier.verify(token, verifyOptions).then(accept, refuse);
  };
}
