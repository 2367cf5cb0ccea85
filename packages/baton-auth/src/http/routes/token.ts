/**
 * `POST /oauth/token`: the authorization code (RFC 6749 §4.1.3, `authz/code-grant.ts`), the refresh
 * grant (§6) and `client_credentials` (§4.4).
 *
 * Refresh: the refresh token from the body, or from the HttpOnly cookie of a browser (then only
 * from an allowed origin), bound to the client that presents it; `scope` may narrow the new
 * access token and `resource` (RFC 8707 §2.2) choose its audience among the session's.
 * `client_credentials`: a confidential client registered for it gets an access token for itself,
 * without a refresh token (§4.4.3).
 */
import { codeGrant } from '../../authz/code-grant.ts';
import { grantScope } from '../../core/scope.ts';
import { readClientFields } from '../../authz/client-origin.ts';
import { authenticateClient } from '../client-auth.ts';
import type { ClientRecord } from '../clients.ts';
import { checkCsrf, clearCookie, tokenResponse } from '../context.ts';
import type { HandlerContext, RequestContext, Route } from '../context.ts';
import { cookieValue } from '../cookies.ts';
import { assertBound, nonceHeaders, proofKey, refreshProof } from '../../dpop/token-endpoint.ts';
import { grantedResources } from '../grant.ts';
import { httpErrorOf, HttpError, json } from '../respond.ts';

/** The refresh grant (RFC 6749 §6). */
async function refreshGrant(c: HandlerContext, request: Request, f: Record<string, string>, client: ClientRecord, ctx: RequestContext): Promise<Response> {
  const fromCookie = f.refresh_token === undefined ? cookieValue(request.headers.get('cookie'), c.cookie.name) : undefined;
  const presented = f.refresh_token ?? fromCookie;
  if (!presented) throw new HttpError('ERR_INVALID_REQUEST', 'refresh_token is required (in the body or the cookie)');
  if (fromCookie !== undefined) checkCsrf(c, request);
  assertBound(client, presented);
  let jkt: string | undefined;
  try {
    // Checked here — the refresh token's MAC with the proof's key before the proof's signature —
    // and spent by the engine once the narrowing is right.
    const proof = await refreshProof(c, request, client, presented);
    jkt = proof?.jkt;
    const pair = await c.baton.refresh(presented, {
      ...(proof === undefined ? {} : { proof }),
      clientId: client.id,
      ...(f.scope === undefined ? {} : { scope: f.scope }),
      // Known to the service and allowed to the client, then among the session's (checked by the engine).
      ...(f.resource === undefined ? {} : { resource: grantedResources(c, client, f.resource) }),
      ...(ctx.ip === undefined ? {} : { ip: ctx.ip }),
    });
    return tokenResponse(c, pair, fromCookie !== undefined, nonceHeaders(c, jkt));
  } catch (err) {
    const http = httpErrorOf(err);
    // A dead refresh cookie is cleared; a store outage keeps it (nothing was lost).
    if (fromCookie !== undefined && http.error === 'invalid_grant') http.headers['set-cookie'] = clearCookie(c);
    Object.assign(http.headers, nonceHeaders(c, jkt));
    throw http;
  }
}

/** The client_credentials grant (RFC 6749 §4.4). */
async function clientCredentials(c: HandlerContext, request: Request, f: Record<string, string>, client: ClientRecord): Promise<Response> {
  // RFC 6749 §4.4: confidential clients only, and only those registered for it (§5.2 unauthorized_client).
  if (client.type !== 'confidential' || !(client.grantTypes ?? []).includes('client_credentials')) {
    throw new HttpError('ERR_CLIENT_UNAUTHORIZED', `Client ${client.id} may not use the client_credentials grant`);
  }
  // No user: the client's own list bounds the scope, and a client with none gets none.
  const scope = grantScope(f.scope, client.scopes ?? []);
  const resource = grantedResources(c, client, f.resource);
  // Last, after the client's authentication: the proof is checked and spent only for a request otherwise sound.
  const jkt = await proofKey(c, request, client);
  const issued = await c.baton.issueClientToken({
    clientId: client.id,
    ...(jkt === undefined ? {} : { jkt }),
    scope,
    resource,
  });
  return json(issued, 200, nonceHeaders(c, jkt));
}

const GRANTS = new Set(['authorization_code', 'refresh_token', 'client_credentials']);

export function token(c: HandlerContext): Route {
  return {
    POST: async (request, ctx) => {
      const f = await readClientFields(c, request);
      if (f.grant_type === undefined) throw new HttpError('ERR_INVALID_REQUEST', 'grant_type is required');
      if (!GRANTS.has(f.grant_type)) {
        throw new HttpError('ERR_GRANT_TYPE_UNSUPPORTED', 'grant_type must be authorization_code, refresh_token or client_credentials');
      }
      const client = await authenticateClient(c, request, f, ctx.ip ?? 'unknown');
      if (f.grant_type === 'authorization_code') return codeGrant(c, request, f, client, ctx);
      return f.grant_type === 'refresh_token' ? refreshGrant(c, request, f, client, ctx) : clientCredentials(c, request, f, client);
    },
  };
}
