/**
 * The DPoP proof of a revocation request (`Baton.revoke` with `dpop`). Revocation takes no proof
 * (RFC 7009 §2.1 asks none, RFC 9449 defines none for it); a proof that is sent must be by the
 * token's key. The proof is looked at only for a token worth it and its signature checked last:
 * a junk, unknown or dead token is answered without it; a bound refresh token's MAC, or a JWT
 * access token's unverified `cnf.jkt`, is compared with the proof's key before anything about the
 * token's state is read. It asks for no nonce and is never spent: a revocation grants nothing a
 * replay could reuse.
 */
import type { AccessTokenClaims } from '../core/access-token.ts';
import type { Engine } from '../core/engine.ts';
import { BatonError, isBatonError } from '../core/errors.ts';
import type { DpopProof } from './proof.ts';

/** The proof a revocation request carries, unchecked. */
export interface RevocationProof {
  proof: string;
  method: string;
  url: string | readonly string[];
}

type Pending = DpopProof & { signed(): DpopProof };

/** The proof's cheap checks, with no nonce asked for. */
function inspect(e: Engine, dpop: RevocationProof): Pending {
  return e.dpop.inspect(dpop.proof, { method: dpop.method, url: dpop.url, requireNonce: false });
}

const OTHER_KEY = 'the refresh token is bound to another DPoP key, or forged';

/**
 * The key of the proof that came with refresh token `token`, checked; or `null` for a token that
 * is not authentic, answered without looking at the proof. A bound one's MAC is checked with the
 * proof's key (no store read) before the proof's signature: another key is `ERR_DPOP_INVALID`.
 */
export function refreshTokenProofKey(e: Engine, token: string, bound: boolean, dpop: RevocationProof, now: number): string | null {
  if (!bound) {
    if (e.refreshCodec.parse(token, now) === undefined) return null;
    return inspect(e, dpop).signed().jkt;
  }
  const pending = inspect(e, dpop);
  if (e.refreshCodec.parse(token, now, pending.jkt) === undefined) throw new BatonError('ERR_DPOP_INVALID', OTHER_KEY);
  return pending.signed().jkt;
}

/** Refuses a refresh token that did not parse with the key of a proof that was sent: its prefix says it is bound, and telling so reveals nothing. */
export function assertRefreshTokenKey(bound: boolean, jkt: string | undefined): void {
  if (bound && jkt !== undefined) throw new BatonError('ERR_DPOP_INVALID', OTHER_KEY);
}

/** The `cnf.jkt` a JWT's payload claims, unverified, unless it claims another client than `clientId`; or undefined. */
function claimedKey(token: string, clientId: string | undefined): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as { cnf?: { jkt?: unknown }; client_id?: unknown } | null;
    // Another client's token is answered as an unknown one, its proof not looked at.
    if (clientId !== undefined && payload?.client_id !== clientId) return undefined;
    return typeof payload?.cnf?.jkt === 'string' ? payload.cnf.jkt : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An access token's proof, before the token's state is read: a JWT's claimed key against the
 * proof's (another key is `ERR_DPOP_INVALID`), so that the answer says nothing of whether it is
 * live. Returns the proof inspected, or undefined when there was nothing to compare it with.
 */
export function claimedKeyProof(e: Engine, token: string, clientId: string | undefined, dpop: RevocationProof | undefined): Pending | undefined {
  const claimed = dpop === undefined ? undefined : claimedKey(token, clientId);
  if (claimed === undefined || dpop === undefined) return undefined;
  const pending = inspect(e, dpop);
  if (pending.jkt !== claimed) throw new BatonError('ERR_DPOP_INVALID', 'the DPoP proof is not by the key the token is bound to');
  return pending;
}

/**
 * The key of a live access token's proof, or `null` when the proof fails now (its signature, or an
 * opaque token's key): answered as for a dead token (nothing revoked), which tells nothing.
 */
export function liveTokenProofKey(e: Engine, claims: Readonly<AccessTokenClaims>, dpop: RevocationProof, pending: Pending | undefined): string | null {
  let jkt: string;
  try {
    jkt = (pending ?? inspect(e, dpop)).signed().jkt;
  } catch (err) {
    if (isBatonError(err) && (err.code === 'ERR_DPOP_INVALID' || err.code === 'ERR_DPOP_NONCE')) return null;
    throw err;
  }
  return claims.cnf !== undefined && claims.cnf.jkt !== jkt ? null : jkt;
}

/** Refuses a proof, given as a thumbprint (`RevokeOptions.jkt`), by another key than the token's. */
export function assertTokenKey(claims: Readonly<AccessTokenClaims>, jkt: string | undefined): void {
  if (jkt !== undefined && claims.cnf !== undefined && claims.cnf.jkt !== jkt)
    throw new BatonError('ERR_DPOP_INVALID', 'the DPoP proof is not by the key the token is bound to');
}
