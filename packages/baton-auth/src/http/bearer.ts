/**
 * `requireAuth`'s decision, written once for every framework: the Bearer token of a request
 * (RFC 6750 §2.1) or a DPoP-bound token with its proof (RFC 9449 §7), verified for the audience
 * this API serves (RFC 9068 §4, RFC 8707), with the scopes a route needs; the refusal to send
 * otherwise. Compiled once per route, so that a Bearer request costs a header check, a
 * verification (a cache hit for a token seen before) and no promise.
 */
import type { AccessTokenClaims } from '../core/access-token.ts';
import { DPOP_ALGS } from '../dpop/proof-key.ts';
import { BatonConfigError, BatonError, isBatonError } from '../core/errors.ts';
import type { DpopPresentation, VerifyOptions } from '../core/verify.ts';
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

/** The request facts a guard reads. */
export interface GuardInput {
  authorization: string | null | undefined;
  /** The request's path and query (or its URL, or only its query): a token there is refused. */
  search: string;
  /** The request's DPoP proof, method and URL, for a token presented with the DPoP scheme. */
  dpop?: DpopPresentation;
}

export type GuardResult = { ok: true; claims: Readonly<AccessTokenClaims> } | { ok: false; refusal: Refusal };

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

/** A token presented with the DPoP scheme (RFC 9449 §7.1). */
class DpopScheme {
  readonly token: string;
  constructor(token: string) {
    this.token = token;
  }
}

/**
 * The token of an `Authorization` header: a string for `Bearer`, a `DpopScheme` for `DPoP` (schemes
 * are case-insensitive, RFC 9110 §11.1), or the refusal to send (RFC 6750 §3.1): no header, or
 * another scheme, is a challenge without an error code; a malformed header is 400
 * `invalid_request`. `target` is the request's path and query, or its URL. The token's characters
 * are the guard's to check (`malformed`), after the verifier when that is cheaper.
 */
function presentedToken(authorization: string | null | undefined, target: string, params: ChallengeParams): string | DpopScheme | Refusal {
  if (tokenInQuery(target)) return challenge(400, 'invalid_request', 'Send the access token in the Authorization header', params);
  if (!authorization) return challenge(401, undefined, 'An access token is required', params);
  const space = authorization.indexOf(' ');
  const scheme = space < 0 ? authorization : authorization.slice(0, space);
  if (scheme.length === 6 && scheme.toLowerCase() === 'bearer') return space === 6 ? credentials(authorization, 7) : challenge(400, 'invalid_request', MALFORMED, params);
  if (scheme.length === 4 && scheme.toLowerCase() === 'dpop') {
    return space === 4 ? new DpopScheme(credentials(authorization, 5)) : challenge(400, 'invalid_request', 'Malformed Authorization header: DPoP, a space, the token', { ...params, scheme: 'DPoP' });
  }
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
  // RFC 9449 §7.1, §9: a refused proof is a 401 with the DPoP challenge's own error, and the nonce to use.
  if (http.error === 'invalid_dpop_proof' || http.error === 'use_dpop_nonce') {
    const refusal = challenge(401, http.error, http.description, { ...params, scheme: 'DPoP' });
    if (http.headers['dpop-nonce'] !== undefined) refusal.headers['dpop-nonce'] = http.headers['dpop-nonce'];
    return refusal;
  }
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
  return missing.length === 0 ? undefined : challenge(403, 'insufficient_scope', `The token lacks the scope ${missing.join(' ')}`, { ...params, scope: needed.join(' ') });
}

/** What a guard decides: the claims, or the refusal to send. */
export type GuardOutcome = Readonly<AccessTokenClaims> | Refusal;

/**
 * A compiled `requireAuth`: the claims of a request's token, or the refusal to send — at once
 * when nothing asynchronous is needed (a header to refuse, a JWT verified in process), else a
 * promise that never rejects. `target` is the request's path and query, or its URL; `request`
 * is what the adapter reads a DPoP presentation from, when the token comes with that scheme.
 */
export type BearerGuard<R = undefined> = (authorization: string | null | undefined, target: string, request?: R) => GuardOutcome | Promise<GuardOutcome>;

/** How an adapter reads a request's DPoP proof, method and URL (as the client addressed it), only for a DPoP-scheme request. */
export type DpopReader<R> = (request: R) => DpopPresentation;

const ALGS = DPOP_ALGS.join(' ');

/**
 * Compiles `requireAuth`'s options once; a missing audience fails here, at start-up, with a
 * sentence. `dpop` reads a request's DPoP presentation: without it (or with a verifier that
 * checks no proofs) the DPoP scheme is refused.
 */
export function createBearerGuard<R = undefined>(verifier: TokenVerifier, options: RequireAuthOptions, dpop?: DpopReader<R>): BearerGuard<R> {
  if (typeof options?.audience !== 'string' || options.audience === '') {
    throw new BatonConfigError("requireAuth needs the audience this API serves, e.g. requireAuth(baton, { audience: 'https://api.example.com' }): the resource URI clients ask tokens for (RFC 8707). For the token service's own tokens, pass { audience: baton.audience }.");
  }
  const needed = neededScopes(options.scope);
  const readDpop = verifier.verifiesDpop === true ? dpop : undefined;
  const params: ChallengeParams = {
    ...(options.resourceMetadata === undefined ? {} : { resourceMetadata: options.resourceMetadata }),
    ...(readDpop === undefined ? {} : { dpopAlgs: ALGS }),
  };
  const dpopParams: ChallengeParams = { ...params, scheme: 'DPoP', dpopAlgs: ALGS };
  const verifyOptions: VerifyOptions = options.oneTime ? { audience: options.audience, oneTime: true } : { audience: options.audience };
  const accept = (claims: Readonly<AccessTokenClaims>): Readonly<AccessTokenClaims> | Refusal => {
    // RFC 9449 §7.1: a bound token is never a bearer token, whichever verifier let it through.
    if (claims.cnf !== undefined) return refuse(new BatonError('ERR_TOKEN_SCHEME', 'the token is bound to a DPoP key: send it with the DPoP scheme and a proof by that key (RFC 9449 §7.1)'));
    return scopeRefusal(claims, needed, params) ?? claims;
  };
  const acceptBound = (claims: Readonly<AccessTokenClaims>): Readonly<AccessTokenClaims> | Refusal => scopeRefusal(claims, needed, dpopParams) ?? claims;
  const refuse = (err: unknown): Refusal => verifyRefusal(err, params);
  const refuseBound = (err: unknown): Refusal => verifyRefusal(err, dpopParams);
  const sync = verifier.verifySync?.bind(verifier);
  return (authorization, target, request) => {
    const token = presentedToken(authorization, target, params);
    if (token instanceof Refusal) return token;
    if (token instanceof DpopScheme) {
      if (readDpop === undefined || request === undefined) return challenge(401, 'invalid_token', 'This API does not accept DPoP-bound tokens', dpopParams);
      return malformed(token.token, dpopParams) ?? verifier.verify(token.token, { ...verifyOptions, dpop: readDpop(request) }).then(acceptBound, refuseBound);
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

/** Checks the Bearer token of a request against `options` (one-off: adapters compile a guard once). */
export async function checkBearer(verifier: TokenVerifier, input: GuardInput, options: RequireAuthOptions): Promise<GuardResult> {
  const presentation = input.dpop;
  const guard = createBearerGuard<DpopPresentation>(verifier, options, (p) => p);
  const outcome = await guard(input.authorization, input.search, presentation);
  return outcome instanceof Refusal ? { ok: false, refusal: outcome } : { ok: true, claims: outcome };
}
