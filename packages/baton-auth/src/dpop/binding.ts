/**
 * DPoP binding at issue (RFC 9449 §5, §6): which key a request binds to, what a session's refresh
 * tokens and its access tokens are bound to, and how a bound token says so — `cnf.jkt` in its
 * claims (§6.1) and `token_type: DPoP` in the token response (§5). The issuing code (`core/issue.ts`,
 * `core/refresh.ts`) asks here instead of carrying the rules.
 */
import type { AccessTokenClaims } from '../core/access-token.ts';
import { BatonError } from '../core/errors.ts';
import type { DpopProof, DpopVerifier } from './proof.ts';

/** What a login or a refresh is asked to bind to: a key's thumbprint, or a proof checked and not yet spent. */
export interface BindingRequest {
  jkt?: string | undefined;
  proof?: DpopProof | undefined;
}

/** The DPoP keys a pair is bound to: the session's (its refresh token), the request proof's (its access token). */
export interface PairBinding {
  session?: string | undefined;
  access?: string | undefined;
}

/** A DPoP key thumbprint given as an option: absent, or 43 base64url characters (RFC 7638 with SHA-256). */
export function thumbprint(jkt: string | undefined): string | undefined {
  if (jkt === undefined || (typeof jkt === 'string' && /^[A-Za-z0-9_-]{43}$/.test(jkt))) return jkt;
  throw new BatonError(
    'ERR_INVALID_ARGUMENT',
    'jkt must be the RFC 7638 SHA-256 thumbprint of a DPoP key (43 base64url characters), as checkProof returns it.',
  );
}

/** The key a request binds to: its proof's, else the thumbprint it names (checked). */
export function requestedKey(request: BindingRequest): string | undefined {
  return thumbprint(request.proof?.jkt ?? request.jkt);
}

/** Spends the request's proof, if it came with one checked and not yet spent: once the request is otherwise sound, just before anything is written (§11.1). */
export async function spendProof(verifier: Pick<DpopVerifier, 'spend'>, request: BindingRequest): Promise<void> {
  if (request.proof !== undefined) await verifier.spend(request.proof);
}

/** A login's binding: the session, and so each of its refresh tokens, and its access tokens to the proof's key for life (§5). */
export function loginBinding(jkt: string | undefined): PairBinding {
  return { session: jkt, access: jkt };
}

/**
 * A refresh's binding: the session's key for a bound session (its refresh tokens are `rtd_`), and
 * the proof's for the new access token — a proof at the refresh of an unbound session binds only
 * the access token (§5).
 */
export function refreshBinding(sessionBound: boolean, jkt: string | undefined): PairBinding {
  return { session: sessionBound ? jkt : undefined, access: jkt };
}

/** The confirmation claim of an access token bound to `jkt` (§6.1), added to `claims`. */
export function confirm(claims: AccessTokenClaims, jkt: string | undefined): void {
  if (jkt !== undefined) claims.cnf = { jkt };
}

/** The `token_type` of an access token bound to `jkt`, or of a bearer token (§5, RFC 6749 §7.1). */
export function tokenType(jkt: string | undefined): 'Bearer' | 'DPoP' {
  return jkt === undefined ? 'Bearer' : 'DPoP';
}
