/**
 * `POST /oauth/authorize/sign-in`: the hosted sign-in form's answer. Same-origin only (the
 * handler's cross-site check, `Origin`/`Sec-Fetch-Site`, and the CSRF cookie whose hash the form's
 * transaction holds); the password is checked by `authenticate` under the handler's
 * `loginProtection`, per username and address as at `/auth/login`. A right password opens a Baton
 * session for the handler's default client — the authorization-server session, whose sealed cookie
 * counts only while that session is active — and the flow goes on (consent, or the code).
 */
import { isBatonError } from '../core/errors.ts';
import type { HandlerContext, Route } from '../http/context.ts';
import { checkCsrf } from '../http/context.ts';
import { tooManyAttempts } from '../http/login-protection.ts';
import { HttpError, readFields } from '../http/respond.ts';
import { afterSignIn, txnClient } from './flow.ts';
import { clientLabel, errorPage, htmlPage, passkeyScripts, providerButtons, signInHtml } from './html.ts';
import { asCookie, csrfFor, csrfMatches, nowSec, openTxn, sealTxn } from './transaction.ts';
import type { Txn } from './transaction.ts';
import { authzErrorResponse } from './response.ts';
import { passkeyPost } from './passkey-sign-in.ts';

/** A form post's transaction, if it is this browser's own (CSRF) from this site; an error page otherwise. */
export async function formTxn(c: HandlerContext, request: Request, f: Record<string, string>): Promise<Txn | Response> {
  try {
    checkCsrf(c, request);
  } catch {
    return errorPage(c, 403, 'This form was sent from another site, so it was refused.');
  }
  const txn = await openTxn(c, f.txn);
  if (txn === undefined) return errorPage(c, 400, 'This sign-in request expired or is not valid. Go back to the application and start again.');
  if (!csrfMatches(c, request, txn))
    return errorPage(
      c,
      403,
      'This form was not shown in this browser (its security cookie is missing or different), so it was refused. Start again from the application.',
    );
  return txn;
}

/** The sign-in page again, with a sentence. */
async function again(
  c: HandlerContext,
  request: Request,
  txn: Txn,
  username: string,
  error: string,
  status: number,
  headers: Record<string, string> = {},
): Promise<Response> {
  const client = await txnClient(c, txn);
  const csrf = csrfFor(c, request);
  const sealed = await sealTxn(c, { r: txn.r, t: txn.t, csrf: csrf.hash });
  const html = signInHtml(c, { txn: sealed, clientName: clientLabel(client), username, error, providers: await providerButtons(c) });
  return htmlPage(html, status, { cookies: [csrf.setCookie], redirectUri: txn.r.redirectUri, headers, scripts: passkeyScripts(c) });
}

async function signInPost(c: HandlerContext, request: Request, ip: string): Promise<Response> {
  if (c.authz.currentUser !== undefined) throw new HttpError('ERR_NOT_FOUND', 'No such endpoint');
  const f = await readFields(request, c.maxBodyBytes, false);
  const txn = await formTxn(c, request, f);
  if (txn instanceof Response) return txn;
  if (f.credential !== undefined && c.passkeys !== undefined) return passkeyPost(c, request, txn, f, ip);
  const username = f.username ?? '';
  if (!username || !f.password || username.length > 256) return again(c, request, txn, username.slice(0, 256), 'Enter your username and password.', 400);
  // Counted before the password is checked (login-protection.ts); a refused attempt writes nothing.
  const attempt = await c.loginProtection.check(username.toLowerCase(), ip);
  const blocked = (ms: number) => errorPage(c, 429, tooManyAttempts(ms).description, { 'retry-after': String(Math.ceil(ms / 1000)) });
  if (attempt.retryAfterMs > 0) {
    c.log?.warn({ event: 'login.rate_limited', ip }, 'login rate limit');
    c.baton.audit({ type: 'login.throttled', username, client: txn.r.clientId, ip, reason: 'too_many_failures' });
    return blocked(attempt.retryAfterMs);
  }
  const who = await c.authenticate(username, f.password);
  if (who === null) {
    c.log?.info({ event: 'login.failed', ip }, 'login failed');
    c.baton.audit({ type: 'login.failed', username, client: txn.r.clientId, ip, reason: 'bad_credentials' });
    const ms = await attempt.failed();
    if (ms > 0) return blocked(ms);
    return again(c, request, txn, username, 'Wrong username or password.', 401, { 'www-authenticate': 'Password realm="baton"' });
  }
  await attempt.succeeded();
  const scope = who.scope ?? '';
  let pair;
  try {
    // The authorization-server session: a Baton session of the default client, which "sign out everywhere" ends.
    pair = await c.baton.login(who.userId, {
      clientId: c.defaultClientId,
      scope: '',
      device: { userAgent: (request.headers.get('user-agent') ?? '').slice(0, 256), ip, method: 'password' },
    });
  } catch (err) {
    if (isBatonError(err) && err.code === 'ERR_RATE_LIMITED') return blocked(err.retryAfterMs ?? 1000);
    throw err;
  }
  c.log?.info({ event: 'login', sid: pair.session_id, client: c.defaultClientId }, 'hosted sign-in');
  c.baton.audit({ type: 'login.succeeded', user: who.userId, username, session: pair.session_id, client: c.defaultClientId, ip, method: 'password' });
  const authTime = nowSec(c);
  const cookie = await asCookie(c, { userId: who.userId, sid: pair.session_id, authTime, scope }, pair.refresh_expires_in);
  return afterSignIn(c, request, txn, { userId: who.userId, authTime, scope }, [cookie]);
}

export function signInRoute(c: HandlerContext): Route {
  return {
    POST: async (request, ctx) => {
      try {
        return await signInPost(c, request, ctx.ip ?? 'unknown');
      } catch (err) {
        return authzErrorResponse(c, err);
      }
    },
  };
}
