/**
 * The hosted pages, rendered on the server: plain HTML forms that work without JavaScript,
 * labelled fields, themed by CSS variables and a logo. Every page forbids framing
 * (`frame-ancestors 'none'`, `X-Frame-Options: DENY`: clickjacking), caching and referrers, and lets
 * its form go only to this site and the client's redirect URI (CSP `form-action`, which Chrome
 * applies to the redirect after a POST too).
 */
import type { ClientRecord } from '../http/clients.ts';
import { escapeHtml } from '../protocol/html.ts';
import type { HandlerContext } from '../http/context.ts';

/** The CSS variables the pages read (`authorization.page.theme`, `BATON_PAGE_THEME`): any other name is a mistake. */
export const THEME_VARIABLES = [
  '--baton-accent',
  '--baton-accent-text',
  '--baton-background',
  '--baton-surface',
  '--baton-text',
  '--baton-error',
  '--baton-border',
  '--baton-input-background',
  '--baton-radius',
  '--baton-font',
] as const;

/** Escapes text for an HTML text node or a double-quoted attribute (the toolkit's `escapeHtml`). */
export const esc = escapeHtml;

/**
 * How a page names a client: its name, or its id; for a client of a metadata document (an https
 * client id), beside the client id's host — the one identity such a client has (client-metadata.ts),
 * while its `client_name` is its own word, "Baton Account" as easily as anything (RFC 7591 §5:
 * metadata the server did not verify). Where the browser goes next is shown apart (`destination`).
 */
export function clientLabel(client: ClientRecord): string {
  const id = URL.parse(client.id);
  if (id?.protocol !== 'https:') return client.name ?? client.id;
  return client.name === undefined ? id.host : `${client.name} (${id.host})`;
}

/** A CSP source for a redirect URI: its origin, or its scheme for a private-use one (RFC 8252 §7.1). */
export function formTarget(redirectUri: string | undefined): string {
  if (redirectUri === undefined) return '';
  const url = URL.parse(redirectUri);
  if (url === null) return '';
  if (url.protocol === 'https:' || url.protocol === 'http:') return ` ${url.origin}`;
  return /^[a-z][a-z0-9+.-]*:$/.test(url.protocol) ? ` ${url.protocol}` : '';
}

/**
 * The headers of every page. `scripts`: the sign-in page's own scripts (the passkey's: same-origin
 * modules that fetch same-origin only), allowed by `script-src 'self'` and `connect-src 'self'`.
 */
export function pageHeaders(redirectUri?: string, scripts = false): Record<string, string> {
  const own = scripts ? "; script-src 'self'; connect-src 'self'" : '';
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; img-src https: 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'${formTarget(redirectUri)}${own}`,
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    // same-origin, not no-referrer: Fetch §3.2.5 ("serializing a request origin") makes a form post's
    // Origin `null` under no-referrer, and the same-origin check then refuses the page's own form
    // (seen in Chromium). same-origin still sends no Referer to any other origin (the logo, the client).
    'referrer-policy': 'same-origin',
    'x-content-type-options': 'nosniff',
  };
}

const STYLE = `body{margin:0;font-family:var(--baton-font,system-ui,sans-serif);background:var(--baton-background,#f6f7f9);color:var(--baton-text,#1b1f24)}
main{max-width:22rem;margin:10vh auto;padding:2rem;background:var(--baton-surface,#fff);border-radius:var(--baton-radius,8px);box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin:0 0 1rem}img{display:block;max-height:48px;margin:0 auto 1rem}
label{display:block;margin:.8rem 0 .3rem}input{box-sizing:border-box;width:100%;padding:.55rem;font:inherit;color:inherit;background:var(--baton-input-background,#fff);border:1px solid var(--baton-border,#8a939e);border-radius:var(--baton-radius,8px)}
button{margin-top:1.2rem;padding:.6rem 1.2rem;font:inherit;border:0;border-radius:var(--baton-radius,8px);background:var(--baton-accent,#0b63ce);color:var(--baton-accent-text,#fff);cursor:pointer}
button.secondary{background:transparent;color:inherit;border:1px solid var(--baton-border,#8a939e);margin-left:.5rem}
.error{color:var(--baton-error,#b00020)}ul{padding-left:1.2rem}
.or{text-align:center;margin:1.2rem 0 .4rem}a.provider{display:block;margin-top:.5rem;padding:.55rem;text-align:center;color:inherit;text-decoration:none;border:1px solid var(--baton-border,#8a939e);border-radius:var(--baton-radius,8px)}`;

/** A whole page around `body`. */
export function layout(c: HandlerContext, heading: string, body: string): string {
  const { page } = c.authz;
  const vars = Object.entries(page.theme)
    .map(([k, v]) => `${k}:${v}`)
    .join(';');
  const logo = page.logoUrl === undefined ? '' : `<img src="${esc(page.logoUrl)}" alt="">`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="same-origin"><title>${esc(heading)}</title><style>${vars ? `:root{${vars}}` : ''}${STYLE}</style></head>
<body><main>${logo}<h1>${esc(heading)}</h1>${body}</main></body></html>`;
}

/** A page response, with its cookies and any other headers. */
export function htmlPage(
  html: string,
  status: number,
  o: { cookies?: readonly string[]; redirectUri?: string | undefined; headers?: Record<string, string>; scripts?: boolean } = {},
): Response {
  const h = new Headers({ ...pageHeaders(o.redirectUri, o.scripts === true), ...o.headers });
  for (const cookie of o.cookies ?? []) h.append('set-cookie', cookie);
  return new Response(html, { status, headers: h });
}

/** Whether the sign-in page offers passkeys: the handler has them and a script for the page (`authorization.passkeyScript`). */
export const passkeyScripts = (c: HandlerContext): boolean => c.passkeys !== undefined && c.authz.options.passkeyScript !== undefined;

/**
 * The passkey's part of the sign-in page: a form of the transaction and the browser's answer
 * (filled and sent by the page's script, `authorization.passkeyScript`), its button shown by the
 * script where the browser has passkeys; the username field also offers them (conditional UI).
 */
function passkeyHtml(c: HandlerContext, action: string, txn: string): string {
  if (!passkeyScripts(c)) return '';
  const base = new URL(c.issuer).pathname.replace(/\/$/, '');
  return `<form method="post" action="${esc(action)}" id="passkey-form" data-options="${esc(`${base}/auth/passkeys/sign-in-options`)}"><input type="hidden" name="txn" value="${esc(txn)}">
<input type="hidden" name="credential"><button type="button" class="secondary" id="passkey-button" hidden>Sign in with a passkey</button></form>
<script type="module" src="${esc(c.authz.options.passkeyScript ?? '')}"></script>`;
}

/** The providers of "Continue with NAME" (`AuthHandlerOptions.providers`): none when off. */
export async function providerButtons(c: HandlerContext): Promise<{ name: string; label: string }[]> {
  return c.authz.providers === undefined ? [] : (await c.authz.providers.list()).map((p) => ({ name: p.name, label: p.label }));
}

/** "Continue with NAME" links (`upstream/routes.ts`): a top-level GET with the sealed transaction, which the start checks against this browser's CSRF cookie. */
function providerLinks(c: HandlerContext, txn: string, providers: readonly { name: string; label: string }[]): string {
  if (providers.length === 0) return '';
  const base = new URL(c.issuer).pathname.replace(/\/$/, '');
  const links = providers.map(
    (p) =>
      `<a class="provider" href="${esc(`${base}/auth/providers/${encodeURIComponent(p.name)}/start?txn=${encodeURIComponent(txn)}`)}">Continue with ${esc(p.label)}</a>`,
  );
  return `<p class="or">or</p><nav aria-label="Other ways to sign in">${links.join('')}</nav>`;
}

/** The hosted sign-in form. `txn` is the sealed transaction; `error` a sentence shown above the form; `providers` the "Continue with NAME" links. */
export function signInHtml(
  c: HandlerContext,
  o: { txn: string; clientName: string; username?: string; error?: string; providers?: readonly { name: string; label: string }[] },
): string {
  const action = `${new URL(c.issuer).pathname.replace(/\/$/, '')}/oauth/authorize/sign-in`;
  const autocomplete = passkeyScripts(c) ? 'username webauthn' : 'username';
  return layout(
    c,
    c.authz.page.title,
    `<p>to continue to ${esc(o.clientName)}</p>${o.error ? `<p class="error" role="alert">${esc(o.error)}</p>` : ''}
<form method="post" action="${esc(action)}"><input type="hidden" name="txn" value="${esc(o.txn)}">
<label for="username">Username</label><input id="username" name="username" autocomplete="${autocomplete}" required autofocus value="${esc(o.username ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>${passkeyHtml(c, action, o.txn)}${providerLinks(c, o.txn, o.providers ?? [])}`,
  );
}

/**
 * Where "Allow" sends the user, as HTML: the redirect URI's host (a web app), its scheme (a native
 * app, RFC 8252 §7.1), or "an app on this device" (loopback, §7.3). A client's name is whatever its
 * registrant wrote (RFC 7591 `client_name`); the host is where the code goes, not theirs to choose.
 */
export function destination(redirectUri: string): string {
  const url = URL.parse(redirectUri);
  if (url === null) return 'the application';
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `the app <strong>${esc(url.protocol.slice(0, -1))}</strong>`;
  if (/^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(url.hostname)) return 'an app on this device';
  return `<strong>${esc(url.hostname)}</strong>`;
}

/** The consent form: the client's name, where it sends the user and the scopes it asks for, "Allow" and "Deny". */
export function consentHtml(
  c: HandlerContext,
  o: { txn: string; clientName: string; redirectUri: string; scope: readonly string[]; resource: readonly string[] },
): string {
  const action = `${new URL(c.issuer).pathname.replace(/\/$/, '')}/oauth/authorize/consent`;
  const list = (items: readonly string[]) => `<ul>${items.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>`;
  const apis = o.resource.length === 0 ? '' : `<p>Its access works at:</p>${list(o.resource)}`;
  const scopes = (o.scope.length === 0 ? '<p>It asks for no particular permission.</p>' : list(o.scope)) + apis;
  return layout(
    c,
    'Allow access?',
    `<p><strong>${esc(o.clientName)}</strong> wants to access your account.</p><p>Allowing sends you to ${destination(o.redirectUri)}.</p>${scopes}
<form method="post" action="${esc(action)}"><input type="hidden" name="txn" value="${esc(o.txn)}">
<button type="submit" name="decision" value="allow">Allow</button><button type="submit" name="decision" value="deny" class="secondary">Deny</button></form>`,
  );
}

/** An error page: a sentence and no link anywhere (the redirect URI could not be trusted). */
export function errorPage(c: HandlerContext, status: number, sentence: string, headers: Record<string, string> = {}): Response {
  return htmlPage(layout(c, status === 429 ? 'Too many attempts' : 'Something went wrong', `<p class="error" role="alert">${esc(sentence)}</p>`), status, {
    headers,
  });
}
