/** The service's own web page (`web/`): served by the service beside the endpoints, not by the library's handler. */
import { readFileSync } from 'node:fs';
import { BatonConfigError } from 'baton-auth';

const WEB = new URL('../../web/', import.meta.url);

/** A file of the page, read now (a missing one stops the start with a sentence), answered with headers that keep it out of frames. */
function file(name: string, type: string, edit: (body: string) => string = (b) => b): () => Response {
  const url = new URL(name, WEB);
  let body: Buffer<ArrayBuffer>;
  try {
    body = Buffer.from(edit(readFileSync(url, 'utf8')));
  } catch {
    throw new BatonConfigError(`The web page's ${url.pathname} cannot be read: run \`npm run build\` (it bundles the client SDK for the page).`);
  }
  // Never in a frame: a page of another origin of the same site (a sibling subdomain) would get a
  // signed-in page there, and a click on it ("Sign out everywhere"). A <meta> CSP cannot say
  // frame-ancestors (CSP 3 §6.4.2); X-Frame-Options for browsers without it (RFC 7034).
  const headers = {
    'content-type': type,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "frame-ancestors 'none'",
    'x-frame-options': 'DENY',
  };
  return () => new Response(body, { headers });
}

/** The page's files by path under `base` (the issuer's path), read once. */
export function servicePage(base: string, o: { passkeys?: boolean } = {}): (pathname: string) => (() => Response) | undefined {
  // With passkeys on, the page says so (`data-passkeys`): off, its scripts ask nothing of endpoints that are not there.
  const passkeys = (html: string) => (o.passkeys === true ? html.replace('<body class="signed-out">', '<body class="signed-out" data-passkeys="on">') : html);
  // The page is the service's, not the library handler's: served here, beside the endpoints.
  const page: Record<string, () => Response> = {
    '/': file('index.html', 'text/html; charset=utf-8', passkeys),
    '/app.js': file('app.js', 'text/javascript; charset=utf-8'),
    '/client.js': file('client.js', 'text/javascript; charset=utf-8'),
    '/consents.js': file('consents.js', 'text/javascript; charset=utf-8'),
    // Passkeys: @simplewebauthn/browser's ESM bundle (build-web.ts), the account page's and the hosted sign-in page's scripts.
    '/webauthn.js': file('webauthn.js', 'text/javascript; charset=utf-8'),
    '/passkeys.js': file('passkeys.js', 'text/javascript; charset=utf-8'),
    '/passkey-sign-in.js': file('passkey-sign-in.js', 'text/javascript; charset=utf-8'),
  };
  return (pathname: string) => (pathname.startsWith(base) ? page[pathname.slice(base.length) || '/'] : undefined);
}
