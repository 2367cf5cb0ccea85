/**
 * The steps after the request was checked: who the user is (your app's `currentUser`, or the
 * hosted sign-in's session cookie), whether they signed in recently enough (`prompt=login`,
 * `max_age`), the consent of a third-party client, and the code.
 */
import { isBatonError } from '../core/errors.ts';
import { idTokenKey } from '../core/id-token.ts';
import { grantScope, parseScope } from '../core/scope.ts';
import type { ClientRecord } from '../http/clients.ts';
import type { HandlerContext } from '../http/context.ts';
import { issueCode } from './codes.ts';
import { matchRedirectUri } from './redirect-uri.ts';
import { clientLabel, consentHtml, htmlPage, passkeyScripts, providerButtons, signInHtml } from './html.ts';
import { AuthzPageError, AuthzRedirectError } from './request.ts';
import { authorizationResponse, errorRedirect, seeOther } from './response.ts';
import { asSession, csrfFor, sealTxn } from './transaction.ts';
import type { Txn } from './transaction.ts';
import type { AuthorizationUser } from './context.ts';
import { covers } from './consent-store.ts';

/** The user of this browser: your app's (`currentUser`), or the hosted sign-in's while its Baton session lives. */
export async function browserUser(c: HandlerContext, request: Request): Promise<AuthorizationUser | null> {
  if (c.authz.currentUser !== undefined) return c.authz.currentUser(request);
  const s = await asSession(c, request);
  return s === undefined ? null : { userId: s.userId, authTime: s.authTime, scope: s.scope };
}

/** Whether `user` signed in recently enough for `txn`: after it started with `prompt=login`, within `max_age` (OIDC Core §3.1.2.1). */
export function fresh(txn: Txn, user: AuthorizationUser | null): user is AuthorizationUser {
  if (user === null) return false;
  if (txn.r.prompt.includes('login') && user.authTime < txn.t) return false;
  // Elapsed at the request: a sign-in made after it (your page, library-first) is always recent enough, so max_age=0 cannot loop.
  return txn.r.maxAge === undefined || txn.t - user.authTime <= txn.r.maxAge;
}

/** A redirected error of the transaction's request. */
export const failTxn = (txn: Txn, error: string, description: string): AuthzRedirectError =>
  new AuthzRedirectError(txn.r.redirectUri, txn.r.state, error, description, txn.r.clientId);

/** The client of a transaction, still registered (it may have been removed since the request). */
export async function txnClient(c: HandlerContext, txn: Txn): Promise<ClientRecord> {
  const client = await c.clients.get(txn.r.clientId);
  if (client === null) throw new AuthzPageError(400, 'The application that sent you here is no longer registered with this service.');
  // A transaction lives 10 minutes: its redirect URI must still be one of the client's.
  if (matchRedirectUri(client.redirectUris ?? [], txn.r.redirectUri) === undefined)
    throw new AuthzPageError(400, `The redirect_uri is no longer registered for the application ${client.id}.`);
  return client;
}

/** The sign-in step: `login_required` for `prompt=none`, your sign-in page (library-first), or the hosted one. */
export async function signIn(c: HandlerContext, request: Request, txn: Txn, client: ClientRecord): Promise<Response> {
  if (txn.r.prompt.includes('none')) throw failTxn(txn, 'login_required', 'The user is not signed in');
  if (c.authz.signInUrl !== undefined) {
    const returnTo = `${c.issuer}/oauth/authorize?txn=${await sealTxn(c, { r: txn.r, t: txn.t })}`;
    return seeOther(c.authz.signInUrl(returnTo));
  }
  const csrf = csrfFor(c, request);
  const sealed = await sealTxn(c, { r: txn.r, t: txn.t, csrf: csrf.hash });
  return htmlPage(signInHtml(c, { txn: sealed, clientName: clientLabel(client), providers: await providerButtons(c) }), 200, {
    cookies: [csrf.setCookie],
    redirectUri: txn.r.redirectUri,
    scripts: passkeyScripts(c),
  });
}

/** The scope granted: what was asked (or everything allowed), within the user's scopes, `openid`, and the client's list. */
export function grantedScope(c: HandlerContext, txn: Txn, user: AuthorizationUser, client: ClientRecord): string[] {
  let scope: string[];
  try {
    const mine = [...parseScope(user.scope ?? ''), 'openid'];
    scope = parseScope(grantScope(txn.r.scope, mine, client.scopes));
  } catch (err) {
    if (isBatonError(err) && err.code === 'ERR_INVALID_SCOPE') throw failTxn(txn, 'invalid_scope', err.message);
    throw err;
  }
  // No ID token can be signed with an HS256 ring: said here, before a code is issued, not at its redemption.
  if (scope.includes('openid')) {
    try {
      idTokenKey(c.baton.keys);
    } catch (err) {
      if (!isBatonError(err) || err.code !== 'ERR_CONFIG') throw err;
      // Not asked for (no scope named: "everything allowed"): left out, not held against the request.
      if (txn.r.scope === undefined) return scope.filter((s) => s !== 'openid');
      throw failTxn(txn, 'invalid_scope', 'This server issues no ID tokens (its signing key is HS256): ask without openid');
    }
  }
  return scope;
}

/** The code, redirected to the client with `state` and `iss` (RFC 6749 §4.1.2, RFC 9207). */
export async function issue(c: HandlerContext, txn: Txn, user: AuthorizationUser, scope: string[], cookies: readonly string[] = []): Promise<Response> {
  const code = await issueCode(
    c,
    {
      clientId: txn.r.clientId,
      redirectUri: txn.r.redirectUri,
      codeChallenge: txn.r.codeChallenge,
      ...(txn.r.dpopJkt === undefined ? {} : { dpopJkt: txn.r.dpopJkt }),
      userId: user.userId,
      scope,
      resource: txn.r.resource,
      ...(txn.r.nonce === undefined ? {} : { nonce: txn.r.nonce }),
      authTime: user.authTime,
    },
    c.authz.codeTtlMs,
  );
  c.log?.info({ event: 'authorize.code', client: txn.r.clientId }, 'authorization code issued');
  c.baton.audit({ type: 'code.issued', user: user.userId, client: txn.r.clientId, scope: scope.join(' ') });
  return authorizationResponse(c, txn.r.redirectUri, { code, state: txn.r.state }, cookies);
}

/**
 * Whether the client's identity is assured, so that a remembered consent may answer for the user
 * (RFC 8252 §8.6): a confidential client, or a redirect URI of https (the code goes to that origin).
 * Any program on the device can listen on a loopback port or claim a private-use scheme under a
 * public native client's id: such a client is asked every time.
 */
const assured = (client: ClientRecord, redirectUri: string): boolean => client.type === 'confidential' || redirectUri.startsWith('https://');

/**
 * After the user is known: consent for a client that is not first-party (remembered per user,
 * client and scope; a wider scope asks again; `prompt=consent` always asks, and so does a public native client), then the code.
 */
export async function afterSignIn(c: HandlerContext, request: Request, txn: Txn, user: AuthorizationUser, cookies: readonly string[] = []): Promise<Response> {
  try {
    const client = await txnClient(c, txn);
    const scope = grantedScope(c, txn, user, client);
    if (!client.firstParty) {
      const given = await c.authz.consents.get(user.userId, client.id);
      if (given === null || txn.r.prompt.includes('consent') || !covers(given, scope, txn.r.resource) || !assured(client, txn.r.redirectUri)) {
        if (txn.r.prompt.includes('none')) throw failTxn(txn, 'consent_required', 'The user has not allowed this application yet');
        const csrf = csrfFor(c, request);
        const sealed = await sealTxn(c, { r: txn.r, t: txn.t, csrf: csrf.hash, u: user.userId });
        const html = consentHtml(c, { txn: sealed, clientName: clientLabel(client), redirectUri: txn.r.redirectUri, scope, resource: txn.r.resource });
        return htmlPage(html, 200, { cookies: [...cookies, csrf.setCookie], redirectUri: txn.r.redirectUri });
      }
    }
    return await issue(c, txn, user, scope, cookies);
  } catch (err) {
    if (err instanceof AuthzRedirectError) return errorRedirect(c, err, cookies);
    throw err;
  }
}
