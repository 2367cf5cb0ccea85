/**
 * `GET|POST /oauth/authorize` (RFC 6749 §4.1.1, OAuth 2.1 §4.1): the authorization code flow with
 * PKCE. A top-level navigation from the client's site, so exempt from the handler's cross-site
 * check: it changes nothing by itself (the forms it shows post same-origin, with a CSRF cookie).
 * `?txn=…` resumes a transaction (your sign-in page sent the user back, library-first);
 * `request_uri` takes a pushed request (RFC 9126 §4).
 */
import type { HandlerContext, Route } from '../http/context.ts';
import { readBody } from '../http/respond.ts';
import { afterSignIn, browserUser, fresh, signIn, txnClient } from './flow.ts';
import { openPushed } from './par.ts';
import { isThirdParty } from '../http/clients.ts';
import { errorPage } from './html.ts';
import { AuthzPageError, AuthzRedirectError, checkRequest, paramsOf } from './request.ts';
import type { Params } from './request.ts';
import { authzErrorResponse } from './response.ts';
import { nowSec, openTxn } from './transaction.ts';
import type { Txn } from './transaction.ts';

/** The request's parameters: the query (GET), or a form body (POST, OIDC Core §3.1.2.1). */
async function parametersOf(c: HandlerContext, request: Request): Promise<{ params: Params; repeated: string[] }> {
  const url = new URL(request.url);
  if (request.method !== 'POST') {
    if (url.search.length > c.maxBodyBytes) throw new AuthzPageError(414, 'The request is too long.');
    return paramsOf(url.searchParams);
  }
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new AuthzPageError(400, 'Send the authorization request as a query or a form.');
  // The body as the query would be (a repeated parameter is found by the same rule), within the handler's size limit.
  return paramsOf(new URLSearchParams(await readBody(request, c.maxBodyBytes)));
}

/** The transaction of a request: a resumed one (`txn`), a pushed one (`request_uri`), or a new one. */
async function transactionOf(c: HandlerContext, request: Request): Promise<Txn> {
  const { params, repeated } = await parametersOf(c, request);
  if (params.txn !== undefined) {
    const txn = await openTxn(c, params.txn);
    // A transaction is the request as checked: it carries no form's CSRF hash or user into this step.
    if (txn === undefined) throw new AuthzPageError(400, 'This sign-in request expired or is not valid. Go back to the application and start again.');
    return { r: txn.r, t: txn.t };
  }
  if (params.request_uri !== undefined) return { r: await openPushed(c, params, repeated), t: nowSec(c) };
  return { r: await checkRequest(c, params, repeated), t: nowSec(c) };
}

/**
 * Whether an error may go to its client's redirect URI now. RFC 9700 §4.11.2: "The authorization
 * server MUST always authenticate the user first ... before redirecting the user" — else anyone who
 * registers a client (RFC 7591) makes this issuer's URL an open redirector to their page, with a
 * deliberate error or `prompt=none`. A first-party client's URIs are the operator's own; a third
 * party's are reached only once this browser's user is signed in here.
 */
async function redirectable(c: HandlerContext, request: Request, err: AuthzRedirectError): Promise<boolean> {
  const client = await c.clients.get(err.clientId);
  if (client !== null && !isThirdParty(client)) return true;
  return (await browserUser(c, request)) !== null;
}

async function authorize(c: HandlerContext, request: Request): Promise<Response> {
  try {
    const txn = await transactionOf(c, request);
    const client = await txnClient(c, txn);
    const user = await browserUser(c, request);
    if (!fresh(txn, user)) return await signIn(c, request, txn, client);
    return await afterSignIn(c, request, txn, user);
  } catch (err) {
    if (err instanceof AuthzRedirectError && !(await redirectable(c, request, err)))
      return errorPage(c, 400, `This sign-in request cannot go on (${err.error}: ${err.description}). Go back to the application and try again.`);
    return authzErrorResponse(c, err);
  }
}

export function authorizeRoute(c: HandlerContext): Route {
  return { GET: async (request) => authorize(c, request), POST: async (request) => authorize(c, request) };
}
