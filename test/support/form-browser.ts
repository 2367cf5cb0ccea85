/**
 * A browser and its user, played in Node for the code-flow tests: follows an authorization server's
 * redirects with a cookie jar, fills its sign-in form (the text field named `login` or `username`,
 * the password field) and its consent form (the button that allows), keeps the hidden fields, and
 * stops at the first redirect to the client's redirect URI, which it returns without fetching.
 * Forms are read with regular expressions: enough for server-rendered pages whose HTML the test
 * owns (oidc-provider's dev interactions, Baton's hosted pages), not a general HTML parser.
 */

export interface FormUser {
  username: string;
  password: string;
}

const decode = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#0?39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** An element's attributes, names lower-cased. */
function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    const name = (m[1] as string).toLowerCase();
    if (name === 'input' || name === 'button' || name === 'form') continue;
    out[name] = decode(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

/** Words on a submit button that allow (sign in, consent) rather than deny. */
const ALLOWS = /allow|continue|sign.?in|log.?in|authori[sz]e|yes|consent|submit/i;
const DENIES = /deny|cancel|abort|no\b/i;

/** The form to submit on `html` at `pageUrl`, filled for `user`, as a request. */
export function submitForm(html: string, pageUrl: string, user: FormUser): { url: string; body: URLSearchParams } {
  const forms = [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)];
  const chosen = forms.find((f) => ALLOWS.test(f[2] as string)) ?? forms[0];
  if (chosen === undefined) throw new Error(`no form on ${pageUrl}: ${html.replace(/\s+/g, ' ').slice(0, 400)}`);
  const action = new URL(attributes(chosen[1] as string).action ?? pageUrl, pageUrl).href;
  const body = new URLSearchParams();
  for (const m of (chosen[2] as string).matchAll(/<input\b[^>]*>/gi)) {
    const a = attributes(m[0]);
    if (a.name === undefined) continue;
    const type = (a.type ?? 'text').toLowerCase();
    if (type === 'password') body.set(a.name, user.password);
    else if (type === 'text' || type === 'email') body.set(a.name, /login|user|email/i.test(a.name) ? user.username : (a.value ?? ''));
    else if (type === 'hidden') body.set(a.name, a.value ?? '');
  }
  const buttons = [...(chosen[2] as string).matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)].map((b) => ({
    a: attributes(b[1] as string),
    text: b[2] as string,
  }));
  const button = buttons.find((b) => ALLOWS.test(`${b.text} ${b.a.value ?? ''}`) && !DENIES.test(`${b.text} ${b.a.value ?? ''}`)) ?? buttons[0];
  if (button?.a.name !== undefined) body.set(button.a.name, button.a.value ?? '');
  return { url: action, body };
}

/**
 * Plays the browser from `start` until the server sends it to a URL `isRedirectUri` accepts; that
 * URL. At most `maxSteps` requests; an answer that is neither a redirect nor a page with a form fails.
 */
export async function playBrowser(start: string, user: FormUser, isRedirectUri: (url: string) => boolean, maxSteps = 20): Promise<string> {
  const jar = new Map<string, string>();
  let next: { url: string; body?: URLSearchParams } = { url: start };
  for (let step = 0; step < maxSteps; step++) {
    const headers: Record<string, string> = { accept: 'text/html' };
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (next.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const origin = new URL(next.url).origin;
    if (next.body !== undefined) headers.origin = origin;
    const res = await fetch(next.url, { method: next.body === undefined ? 'GET' : 'POST', headers, body: next.body ?? null, redirect: 'manual' });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const at = (pair as string).indexOf('=');
      const name = (pair as string).slice(0, at).trim();
      const value = (pair as string).slice(at + 1).trim();
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(cookie)) jar.delete(name);
      else jar.set(name, value);
    }
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      const location = new URL(res.headers.get('location') as string, next.url).href;
      if (isRedirectUri(location)) return location;
      next = { url: location };
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`HTTP ${res.status} at ${next.url}: ${html.replace(/\s+/g, ' ').slice(0, 400)}`);
    next = submitForm(html, next.url, user);
  }
  throw new Error(`the server did not send the browser back within ${maxSteps} requests`);
}
