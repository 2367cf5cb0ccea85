/**
 * DPoP at the token endpoints (RFC 9449 §5): the proof of a login, refresh, `client_credentials`
 * or revocation request, checked with a server nonce (§8), and each client's policy — `required`
 * refuses its requests without a proof, `allowed` (the default) binds when one comes.
 */
import type { ClientRecord } from './clients.ts';
import type { HandlerContext } from './context.ts';
import { HttpError } from './respond.ts';

/**
 * The thumbprint of the key of `request`'s DPoP proof, or undefined when it carries none and its
 * client allows that. Its `htu` is the endpoint's advertised URL (`issuer` + path) or the URL
 * the request named.
 */
export async function proofKey(c: HandlerContext, request: Request, client: ClientRecord, path: string): Promise<string | undefined> {
  if (request.headers.get('dpop') === null && client.dpop === 'required') {
    throw new HttpError(400, 'invalid_dpop_proof', `Client ${client.id} must send a DPoP proof with each token request (RFC 9449 §5)`);
  }
  return anyProofKey(c, request, path);
}

/** The thumbprint of the key of `request`'s DPoP proof, if it carries one; `requireNonce: false` where no token is issued (revocation). */
export async function anyProofKey(c: HandlerContext, request: Request, path: string, requireNonce?: boolean): Promise<string | undefined> {
  const header = request.headers.get('dpop');
  if (header === null) return undefined;
  const url = new URL(request.url);
  const urls = [`${c.issuer}${path}`, `${url.origin}${url.pathname}`];
  return (await c.baton.checkProof(header, { method: request.method, url: urls, ...(requireNonce === undefined ? {} : { requireNonce }) })).jkt;
}

/** The headers of a response to a request with a proof: the nonce for the next one (RFC 9449 §8.2). */
export function nonceHeaders(c: HandlerContext, jkt: string | undefined): Record<string, string> {
  return jkt === undefined ? {} : { 'dpop-nonce': c.baton.dpopNonce() };
}
