/**
 * Pushed authorization requests (RFC 9126): `POST /oauth/par` takes the authorization request's
 * parameters from an authenticated client (as at the token endpoint), checks them at once and
 * answers a `request_uri` — the checked request sealed for 60 s under its own purpose (`par`), so a
 * code or a transaction is never one. At `/oauth/authorize` only the pushed parameters count
 * (§4), and the query's `client_id` must be the pusher's.
 */
import { authenticateClient } from '../http/client-auth.ts';
import type { HandlerContext, Route } from '../http/context.ts';
import { HttpError, json, readFields } from '../http/respond.ts';
import { proofKey, nonceHeaders } from '../dpop/token-endpoint.ts';
import { AuthzPageError, AuthzRedirectError, checkRequest, trustedClient } from './request.ts';
import type { AuthzRequest, Params } from './request.ts';

const PREFIX = 'urn:ietf:params:oauth:request_uri:';
const PAR_TTL_SEC = 60;

interface Pushed {
  r: AuthzRequest;
}

/** The client authentication fields, which are not the authorization request's. */
const AUTH_FIELDS = new Set(['client_secret', 'client_assertion', 'client_assertion_type']);

async function push(c: HandlerContext, request: Request, ip: string): Promise<Response> {
  const f = await readFields(request, c.maxBodyBytes, false);
  const client = await authenticateClient(c, request, f, ip);
  // RFC 9126 §2.1: a pushed request cannot itself name a request_uri.
  if (f.request_uri !== undefined) throw new HttpError('ERR_INVALID_REQUEST', 'request_uri cannot be pushed (RFC 9126 §2.1)');
  const params: Params = { client_id: client.id };
  for (const [k, v] of Object.entries(f)) if (!AUTH_FIELDS.has(k) && k !== 'client_id') params[k] = v;
  let r: AuthzRequest;
  try {
    r = await checkRequest(c, params, [], true);
  } catch (err) {
    // RFC 9126 §2.3: the authorization endpoint's errors, as a JSON answer to the client.
    if (err instanceof AuthzRedirectError) return json({ error: err.error, error_description: err.description }, 400);
    if (err instanceof AuthzPageError) return json({ error: 'invalid_request', error_description: err.description }, 400);
    throw err;
  }
  // RFC 9449 §10.1: a DPoP proof on the PAR binds the code to its key, as dpop_jkt does; both must agree.
  const jkt = await proofKey(c, request, client);
  if (jkt !== undefined && r.dpopJkt !== undefined && jkt !== r.dpopJkt)
    throw new HttpError('ERR_DPOP_INVALID', 'dpop_jkt is not the thumbprint of the DPoP proof key (RFC 9449 §10.1)');
  const pushed: Pushed = { r: { ...r, ...(jkt === undefined ? {} : { dpopJkt: jkt }) } };
  const sealed = await c.authz.sealer.seal('par', pushed, PAR_TTL_SEC * 1000);
  return json({ request_uri: `${PREFIX}${sealed}`, expires_in: PAR_TTL_SEC }, 201, nonceHeaders(c, jkt));
}

export function parRoute(c: HandlerContext): Route {
  return { POST: async (request, ctx) => push(c, request, ctx.ip ?? 'unknown') };
}

/**
 * The pushed request a `request_uri` names (RFC 9126 §4), or an error page: nothing of it can be
 * trusted to redirect to until it opened and its client and redirect URI are still registered.
 */
export async function openPushed(c: HandlerContext, params: Params, repeated: readonly string[]): Promise<AuthzRequest> {
  if (repeated.includes('request_uri') || repeated.includes('client_id')) throw new AuthzPageError(400, 'client_id and request_uri must each be sent once.');
  const uri = params.request_uri ?? '';
  const sealed = uri.startsWith(PREFIX) ? uri.slice(PREFIX.length) : undefined;
  const pushed = sealed === undefined ? undefined : await c.authz.sealer.open<Pushed>('par', sealed);
  if (pushed === undefined)
    throw new AuthzPageError(400, 'The request_uri expired or is not valid (invalid_request_uri). Go back to the application and try again.');
  // RFC 9126 §4: the authorization request's client_id is the one that pushed it.
  if (params.client_id !== pushed.r.clientId) throw new AuthzPageError(400, 'The client_id is not the one that pushed this request (invalid_request_uri).');
  await trustedClient(c, { client_id: pushed.r.clientId, redirect_uri: pushed.r.redirectUri }, []);
  return { ...pushed.r, pushed: true };
}
