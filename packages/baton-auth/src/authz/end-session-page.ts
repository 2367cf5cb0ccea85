/**
 * The pages of RP-initiated logout (`end-session.ts`): "Sign out?" with its CSRF-protected form,
 * and "You are signed out". Server-rendered in the hosted pages' layout and headers (`html.ts`:
 * `frame-ancestors 'none'`, no cache, no referrer, `form-action` this site and the verified
 * post-logout redirect URI's origin, which Chrome applies to the redirect after the POST).
 */
import type { HandlerContext } from '../http/context.ts';
import { destination, esc, htmlPage, layout } from './html.ts';

/** The path of the confirmation form's POST, under the issuer's path. */
export const confirmPath = (c: HandlerContext): string => `${new URL(c.issuer).pathname.replace(/\/$/, '')}/oauth/end-session/confirm`;

/** "Sign out?": one button that posts the sealed request back to this site, and where the browser goes after (the client chose its name, not that host). */
export function confirmPage(
  c: HandlerContext,
  o: { sealed: string; clientName: string | undefined; redirect: string | undefined; csrfCookie: string },
): Response {
  const of = o.clientName === undefined ? '' : ` <strong>${esc(o.clientName)}</strong> asks you to sign out.`;
  const html = layout(
    c,
    'Sign out?',
    `<p>${of} Do you want to sign out of this service?</p>${o.redirect === undefined ? '' : `<p>Then you go to ${destination(o.redirect)}.</p>`}
<form method="post" action="${esc(confirmPath(c))}"><input type="hidden" name="logout" value="${esc(o.sealed)}">
<button type="submit">Sign out</button></form>`,
  );
  return htmlPage(html, 200, { cookies: [o.csrfCookie], redirectUri: o.redirect });
}

/** "You are signed out", with the cookies that end the browser's session. */
export function signedOutPage(c: HandlerContext, cookies: readonly string[]): Response {
  return htmlPage(layout(c, 'Signed out', '<p role="status">You are signed out.</p>'), 200, { cookies });
}
