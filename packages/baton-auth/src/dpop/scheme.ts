/**
 * The DPoP authorization scheme at a resource server (RFC 9449 §7): `Authorization: DPoP <token>`
 * with a `DPoP` proof, the `DPoP` challenge of `WWW-Authenticate` (§7.1) and the refusal of a
 * proof with the nonce to use (§9). The guard (`http/guard.ts`) asks here through `guardDpop`; the
 * challenge is written by `http/refusal.ts` from the parameters given here.
 */
import type { DpopPresentation } from '../core/verify.ts';
import { challenge } from '../http/refusal.ts';
import type { ChallengeParams, Refusal } from '../http/refusal.ts';
import type { HttpError } from '../http/respond.ts';
import { DPOP_ALGS } from './proof-key.ts';

/** The `algs` of the DPoP challenge (§7.1): the proof algorithms accepted. */
const ALGS = DPOP_ALGS.join(' ');

/** A token presented with the DPoP scheme (RFC 9449 §7.1). */
export class DpopToken {
  readonly token: string;
  constructor(token: string) {
    this.token = token;
  }
}

/** Whether an `Authorization` scheme is `DPoP` (schemes are case-insensitive, RFC 9110 §11.1). */
export function isDpopScheme(scheme: string): boolean {
  return scheme.length === 4 && scheme.toLowerCase() === 'dpop';
}

/** The 400 of a `DPoP` header without a space after the scheme (§7.1). */
export function malformedDpop(params: ChallengeParams): Refusal {
  return challenge(400, 'invalid_request', 'Malformed Authorization header: DPoP, a space, the token', { ...params, scheme: 'DPoP' });
}

/** RFC 9449 §7.1, §9: a refused proof is a 401 with the DPoP challenge's own error, and the nonce to use; undefined for another error. */
export function proofRefusal(http: HttpError, params: ChallengeParams): Refusal | undefined {
  if (http.error !== 'invalid_dpop_proof' && http.error !== 'use_dpop_nonce') return undefined;
  const refusal = challenge(401, http.error, http.description, { ...params, scheme: 'DPoP' });
  if (http.headers['dpop-nonce'] !== undefined) refusal.headers['dpop-nonce'] = http.headers['dpop-nonce'];
  return refusal;
}

/** How an adapter reads a request's DPoP proof, method and URL (as the client addressed it), only for a DPoP-scheme request. */
export type DpopReader<R> = (request: R) => DpopPresentation;

/** What a guard asks of DPoP, compiled once per route. */
export interface GuardDpop<R> {
  /** The parameters of the guard's challenges: with the DPoP challenge beside the Bearer one when DPoP is accepted (§7.1). */
  readonly params: ChallengeParams;
  /** Those of a refusal to a DPoP-scheme request: the DPoP challenge alone (§7.1). */
  readonly boundParams: ChallengeParams;
  /** Whether this guard takes DPoP-scheme requests, `request` among them. */
  accepts(request: R | undefined): request is R;
  /** The 401 of a DPoP-scheme request to a guard that takes none. */
  notAccepted(): Refusal;
  /** The proof, method and URL `request` presents its token with. */
  read(request: R): DpopPresentation;
}

/**
 * The DPoP side of a guard: DPoP-scheme requests are taken when the adapter reads presentations
 * (`reader`) and the verifier checks proofs (`verifiesDpop`); else the scheme is refused.
 */
export function guardDpop<R>(verifiesDpop: boolean, reader: DpopReader<R> | undefined, base: ChallengeParams): GuardDpop<R> {
  const readDpop = verifiesDpop ? reader : undefined;
  const params: ChallengeParams = readDpop === undefined ? base : { ...base, dpopAlgs: ALGS };
  const boundParams: ChallengeParams = { ...params, scheme: 'DPoP', dpopAlgs: ALGS };
  return {
    params,
    boundParams,
    accepts: (request): request is R => readDpop !== undefined && request !== undefined,
    notAccepted: () => challenge(401, 'invalid_token', 'This API does not accept DPoP-bound tokens', boundParams),
    read: (request) => (readDpop as DpopReader<R>)(request),
  };
}
