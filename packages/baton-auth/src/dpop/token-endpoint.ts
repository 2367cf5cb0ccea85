/**
 * DPoP at the token endpoints (RFC 9449 §5): the proof of a login, refresh, `client_credentials`
 * or revocation request, checked with a server nonce (§8), and each client's policy — `required`
 * refuses its requests without a proof, `allowed` (the default) binds when one comes. A proof's
 * signature is checked only for a request worth it, so that no one reaches a signature check
 * without something to show: a refresh token whose MAC is right for the proof's key, an
 * authenticated client (`client_credentials`), a live token to revoke, or — at the login, where
 * nothing else can come first — a proof counted as a failed login of the address when it fails.
 */
import { RefreshTokenCodec } from '../core/refresh-token.ts';
import type { ClientRecord } from '../http/clients.ts';
import type { HandlerContext } from '../http/context.ts';
import { HttpError } from '../http/respond.ts';
import { serviceUrls } from '../http/urls.ts';
import type { DpopProof } from './proof.ts';

function assertPolicy(request: Request, client: ClientRecord): void {
  if (request.headers.get('dpop') === null && client.dpop === 'required') {
    throw new HttpError('ERR_DPOP_INVALID', `Client ${client.id} must send a DPoP proof with each token request (RFC 9449 §5)`);
  }
}

/** The request's proof, checked (the signature after `o.beforeSignature`), or undefined when it carries none and its client allows that. */
async function checkedProof(
  c: HandlerContext,
  request: Request,
  client: ClientRecord,
  o: { spend: boolean; refreshToken?: string; beforeSignature?: (jkt: string) => Promise<void> },
  bound = false,
): Promise<DpopProof | undefined> {
  if (!bound && !c.dpop()) {
    // DPoP held back: the proof is ignored, as by a server without DPoP, and the tokens are Bearer (RFC 9449 §5).
    if (client.dpop === 'required')
      throw new HttpError(
        'ERR_DPOP_INVALID',
        `Client ${client.id} requires DPoP, which this service does not offer yet (it waits until every instance supports it)`,
      );
    return undefined;
  }
  assertPolicy(request, client);
  const header = request.headers.get('dpop');
  if (header === null) return undefined;
  return c.baton.checkProof(header, { method: request.method, url: serviceUrls(c, request), ...o });
}

/**
 * The thumbprint of the key of `request`'s DPoP proof, checked and spent, or undefined when it
 * carries none and its client allows that. Its `htu` is the endpoint's advertised URL (`serviceUrls`).
 * Call it once everything else about the request was checked (the client authenticated).
 */
export async function proofKey(c: HandlerContext, request: Request, client: ClientRecord): Promise<string | undefined> {
  return (await checkedProof(c, request, client, { spend: true }))?.jkt;
}

/**
 * The proof of a refresh presenting `refreshToken`, not spent (`refresh` spends it just before
 * rotating): the token's MAC is checked with the proof's key before the proof's signature, so a
 * forged token, or one bound to another key, costs no signature check (`invalid_grant`).
 */
export async function refreshProof(c: HandlerContext, request: Request, client: ClientRecord, refreshToken: string): Promise<DpopProof | undefined> {
  // A bound session refreshes with its proof even while DPoP is held back here: another instance
  // may have turned it on (and bound the session) a moment before this one hears of it.
  return checkedProof(c, request, client, { spend: false, refreshToken }, RefreshTokenCodec.sessionOf(refreshToken)?.bound === true);
}

/**
 * The proof of a login, not spent (the login spends it once the password is right): checked before
 * the password, its signature only once `beforeSignature` (the login protection's count) let it.
 */
export async function loginProof(
  c: HandlerContext,
  request: Request,
  client: ClientRecord,
  beforeSignature: (jkt: string) => Promise<void>,
): Promise<DpopProof | undefined> {
  return checkedProof(c, request, client, { spend: false, beforeSignature });
}

/**
 * A client that requires DPoP refreshes bound sessions only: one opened before the policy (or by
 * the application's own `baton.login`) would keep handing it refresh tokens a copy can use.
 */
export function assertBound(client: ClientRecord, refreshToken: string): void {
  if (client.dpop === 'required' && RefreshTokenCodec.sessionOf(refreshToken)?.bound === false) {
    throw new HttpError('ERR_REFRESH_INVALID', `Client ${client.id} requires DPoP and this session is not bound to a key: sign in again with a DPoP proof`);
  }
}

/** The headers of a response to a request with a proof: the nonce for the next one (RFC 9449 §8.2). */
export function nonceHeaders(c: HandlerContext, jkt: string | undefined): Record<string, string> {
  return jkt === undefined ? {} : { 'dpop-nonce': c.baton.dpopNonce() };
}
