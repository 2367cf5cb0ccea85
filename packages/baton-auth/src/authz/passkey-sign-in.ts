/**
 * The hosted sign-in page's passkey: its form (`credential`, the browser's answer as JSON, beside
 * the sealed transaction) posts to `POST /oauth/authorize/sign-in` like the password form, with the
 * same checks first (`formTxn`: same-origin, the CSRF cookie of the transaction); the answer is
 * checked under the handler's login protection (`http/routes/passkeys.ts`), and a passkey that
 * passes opens the authorization-server session as a password does.
 */
import { isBatonError } from '../core/errors.ts';
import type { HandlerContext } from '../http/context.ts';
import { clearStateCookie, passkeySignIn } from '../http/routes/passkeys.ts';
import { HttpError } from '../http/respond.ts';
import { afterSignIn, txnClient } from './flow.ts';
import { clientLabel, errorPage, htmlPage, passkeyScripts, signInHtml } from './html.ts';
import { asCookie, csrfFor, nowSec, sealTxn } from './transaction.ts';
import type { Txn } from './transaction.ts';

/** The sign-in page again, with the sentence of a refused passkey. */
async function refusedPage(c: HandlerContext, request: Request, txn: Txn, sentence: string): Promise<Response> {
  const client = await txnClient(c, txn);
  const csrf = csrfFor(c, request);
  const sealed = await sealTxn(c, { r: txn.r, t: txn.t, csrf: csrf.hash });
  return htmlPage(signInHtml(c, { txn: sealed, clientName: clientLabel(client), error: sentence }), 401, {
    cookies: [csrf.setCookie, clearStateCookie(c)],
    redirectUri: txn.r.redirectUri,
    scripts: passkeyScripts(c),
  });
}

/** A passkey posted to the hosted sign-in (its transaction already checked by `formTxn`). */
export async function passkeyPost(c: HandlerContext, request: Request, txn: Txn, f: Record<string, string>, ip: string): Promise<Response> {
  let userId: string;
  try {
    userId = await passkeySignIn(c, request, f, ip, txn.r.clientId);
  } catch (err) {
    if (err instanceof HttpError && err.code === 'ERR_RATE_LIMITED') return errorPage(c, 429, err.message, err.headers);
    if (isBatonError(err) && (err.code === 'ERR_PASSKEY_REFUSED' || err.code === 'ERR_INVALID_REQUEST')) return refusedPage(c, request, txn, err.message);
    throw err;
  }
  const scope = (await c.userScope?.(userId)) ?? '';
  let pair;
  try {
    // The authorization-server session, as a password opens it (hosted.ts).
    pair = await c.baton.login(userId, {
      clientId: c.defaultClientId,
      scope: '',
      device: { userAgent: (request.headers.get('user-agent') ?? '').slice(0, 256), ip, method: 'passkey' },
    });
  } catch (err) {
    if (isBatonError(err) && err.code === 'ERR_RATE_LIMITED') return errorPage(c, 429, 'Too many sign-ins: try again in a moment.');
    throw err;
  }
  c.log?.info({ event: 'login', sid: pair.session_id, client: c.defaultClientId }, 'hosted passkey sign-in');
  c.baton.audit({ type: 'login.succeeded', user: userId, session: pair.session_id, client: c.defaultClientId, ip, method: 'passkey' });
  const authTime = nowSec(c);
  const cookie = await asCookie(c, { userId, sid: pair.session_id, authTime, scope }, pair.refresh_expires_in);
  return afterSignIn(c, request, txn, { userId, authTime, scope }, [cookie, clearStateCookie(c)]);
}
