/**
 * `GET|POST /oauth/end-session` (OpenID Connect RP-Initiated Logout 1.0) and the confirmation
 * form's `POST /oauth/end-session/confirm`.
 *
 * - `id_token_hint`: an ID token this issuer signed (`verifyIdTokenHint`; an expired one counts,
 *   §2); anything else is ignored, as if absent. `client_id`, when the hint is there too, must be
 *   the hint's audience (§2).
 * - `post_logout_redirect_uri`: used only when it is, character for character, one of the
 *   identified client's `postLogoutRedirectUris` (§3); any other — or any at all without a client
 *   — is never redirected to: the "You are signed out" page is shown instead. `state` comes back
 *   with the redirect.
 * - Signing out at once needs a valid hint whose `sub` is the user of this browser's
 *   authorization-server session (the hosted sign-in's cookie, or your app's `currentUser`);
 *   otherwise the user is asked (§2: the OP SHOULD ask the user whether to log out): a page whose
 *   form posts back to this site only (the handler's cross-site check, `Origin`/`Sec-Fetch-Site`,
 *   and the double-submit CSRF cookie whose hash the sealed form holds).
 * - Signing out revokes the authorization-server session (the Baton session behind the cookie;
 *   with `currentUser`, your app's, through `authorization.signOut`), and the session named by the
 *   hint's `sid` when the hint's `sub` is that user (another user's hint revokes nothing of
 *   theirs), clears the cookie, then redirects or shows the page.
 *
 * The endpoint is a top-level navigation from the client's site (exempt from the handler's
 * cross-site refusal, like `/oauth/authorize`): a cross-site POST carries no SameSite=Lax cookie,
 * so it can only lead to the confirmation page.
 */
import { checkCsrf } from '../http/context.ts';
import type { HandlerContext, Route } from '../http/context.ts';
import { readFields } from '../http/respond.ts';
import { realRequest } from '../protocol/lazy-request.ts';
import { verifyIdTokenHint } from '../core/id-token.ts';
import { confirmPage, signedOutPage } from './end-session-page.ts';
import { clientLabel, errorPage } from './html.ts';
import { seeOther } from './response.ts';
import { asSession, csrfFor, csrfMatches, pageCookie } from './transaction.ts';

/** A checked logout request: what the confirmation form carries, sealed. */
interface Logout {
  /** The client identified by `client_id` or the hint's `aud`. */
  clientId?: string;
  /** The verified post-logout redirect URI. */
  redirect?: string;
  state?: string;
  /** The hint's `sub` and `sid`, when a valid hint came. */
  sub?: string;
  sid?: string;
}

/** What the confirmation form seals (purpose `csrf`: a CSRF-protected form's state), marked so that nothing else sealed for that purpose passes for it. */
interface SealedLogout {
  k: 'end-session';
  r: Logout;
  csrf: string;
}

const FORM_TTL_MS = 10 * 60_000;
/** Bounds on what the request may send (RFC 9110 §15.5.1: a longer one is a 400, never read further). */
const LIMITS: Record<string, number> = { id_token_hint: 4096, client_id: 256, post_logout_redirect_uri: 2048, state: 1024, logout_hint: 1024, ui_locales: 256 };

/** The request's parameters: the query of a GET, the form of a POST; a repeated one is refused (RFC 6749 §3.1). */
async function parameters(c: HandlerContext, request: Request): Promise<Record<string, string> | string> {
  if (request.method === 'POST') return readFields(request, c.maxBodyBytes, false);
  const query = new URL(request.url).searchParams;
  const out: Record<string, string> = {};
  for (const key of new Set(query.keys())) {
    if (query.getAll(key).length > 1) return `The parameter ${key.slice(0, 40)} is repeated.`;
    out[key] = query.get(key) as string;
  }
  return out;
}

/** The logout request checked (§2, §3), or the sentence of the error page. */
async function checkRequest(c: HandlerContext, f: Record<string, string>): Promise<Logout | string> {
  for (const [name, max] of Object.entries(LIMITS)) if ((f[name]?.length ?? 0) > max) return `The parameter ${name} is longer than ${max} characters.`;
  const hint = f.id_token_hint ? verifyIdTokenHint(f.id_token_hint, c.baton.keys, c.issuer) : undefined;
  if (f.id_token_hint && hint === undefined) c.log?.info({ event: 'end_session.hint_refused' }, 'id_token_hint is not an ID token of this issuer');
  if (f.client_id && hint !== undefined && hint.aud !== f.client_id) return 'The client_id is not the client the id_token_hint was issued to.';
  const clientId = f.client_id || hint?.aud;
  const client = clientId ? await c.clients.get(clientId) : null;
  if (f.client_id && client === null) return 'The client_id names no client of this service.';
  const uri = f.post_logout_redirect_uri;
  // Exact string comparison, no normalisation (§3; RFC 9700 §4.1.3): only a registered URI is ever a Location.
  const redirect = uri && client?.postLogoutRedirectUris?.includes(uri) ? uri : undefined;
  if (uri && redirect === undefined) c.log?.warn({ event: 'end_session.redirect_refused', client: clientId }, 'post_logout_redirect_uri is not registered');
  return {
    ...(client ? { clientId: client.id } : {}),
    ...(redirect === undefined ? {} : { redirect, ...(f.state ? { state: f.state } : {}) }),
    ...(hint === undefined ? {} : { sub: hint.sub, sid: hint.sid }),
  };
}

/** The user of this browser: the hosted sign-in's session (with its Baton session id), or your app's `currentUser`. */
async function browserSession(c: HandlerContext, request: Request): Promise<{ userId: string; asSid?: string } | undefined> {
  if (c.authz.currentUser !== undefined) {
    const user = await c.authz.currentUser(request);
    return user === null ? undefined : { userId: user.userId };
  }
  const s = await asSession(c, request);
  return s === undefined ? undefined : { userId: s.userId, asSid: s.sid };
}

/** Signs the browser's user out (see the file comment), then redirects with `state` or shows the page. */
async function signOut(c: HandlerContext, request: Request, r: Logout): Promise<Response> {
  const user = await browserSession(c, request);
  if (user?.asSid !== undefined) await c.baton.revokeSession(user.asSid, { reason: 'logout' });
  if (user !== undefined && r.sid !== undefined && r.sub === user.userId) {
    // The hint's session, if it is still one of this user's (listSessions is the user's own, bounded).
    const own = await c.baton.listSessions(user.userId);
    if (own.some((s) => s.id === r.sid)) await c.baton.revokeSession(r.sid, { reason: 'logout', ...(user.asSid === undefined ? {} : { by: user.asSid }) });
  }
  c.log?.info({ event: 'end_session', client: r.clientId, signedIn: user !== undefined }, 'signed out');
  // Library-first: the browser's session here is the app's; its own signOut ends it.
  const ended = user !== undefined && c.authz.options.signOut !== undefined ? await c.authz.options.signOut(realRequest(request)) : [];
  const cookies = [pageCookie(c, 'baton_as', '', { sameSite: 'Lax', maxAgeSec: 0 }), ...ended];
  if (r.redirect === undefined) return signedOutPage(c, cookies);
  const query = r.state === undefined ? '' : `${r.redirect.includes('?') ? '&' : '?'}${new URLSearchParams({ state: r.state }).toString()}`;
  return seeOther(`${r.redirect}${query}`, cookies);
}

/** `GET|POST /oauth/end-session`. */
async function endSession(c: HandlerContext, request: Request): Promise<Response> {
  const f = await parameters(c, request);
  if (typeof f === 'string') return errorPage(c, 400, f);
  const r = await checkRequest(c, f);
  if (typeof r === 'string') return errorPage(c, 400, r);
  const user = await browserSession(c, request);
  // HEAD (answered as GET by the handler) only looks: it never signs anyone out.
  if (request.method !== 'HEAD' && r.sub !== undefined && user !== undefined && r.sub === user.userId) return signOut(c, request, r);
  const csrf = csrfFor(c, request);
  const sealed = await c.authz.sealer.seal('csrf', { k: 'end-session', r, csrf: csrf.hash } satisfies SealedLogout, FORM_TTL_MS);
  const client = r.clientId === undefined ? null : await c.clients.get(r.clientId);
  return confirmPage(c, {
    sealed,
    clientName: client === null ? undefined : clientLabel(client),
    redirect: r.redirect,
    csrfCookie: csrf.setCookie,
  });
}

/** `POST /oauth/end-session/confirm`: the confirmation form, from this site and this browser only. */
async function confirm(c: HandlerContext, request: Request): Promise<Response> {
  try {
    checkCsrf(c, request);
  } catch {
    return errorPage(c, 403, 'This form was sent from another site, so it was refused.');
  }
  const f = await readFields(request, c.maxBodyBytes, false);
  const form = f.logout === undefined ? undefined : await c.authz.sealer.open<SealedLogout>('csrf', f.logout);
  if (form?.k !== 'end-session') return errorPage(c, 400, 'This sign-out request expired or is not valid. Sign out again from the application.');
  if (!csrfMatches(c, request, form))
    return errorPage(c, 403, 'This form was not shown in this browser (its security cookie is missing or different), so it was refused.');
  return signOut(c, request, form.r);
}

export function endSessionRoute(c: HandlerContext): Route {
  const serve = (request: Request) => endSession(c, request);
  return { GET: serve, POST: serve };
}

export function endSessionConfirmRoute(c: HandlerContext): Route {
  return { POST: (request) => confirm(c, request) };
}
