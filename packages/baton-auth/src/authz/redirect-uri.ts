/**
 * Redirect URIs: which may be registered, and whether a presented one is registered.
 *
 * Matching is exact string comparison (RFC 9700 §4.1.3, OAuth 2.1 §2.3.1, RFC 6749 §3.1.2.3):
 * the presented value is never parsed, decoded or normalised, since every normalisation a server
 * does and a browser does not (or does differently) is a way to send a code elsewhere. The one
 * exception is RFC 8252 §7.3: a native app's loopback redirect URI (`http://127.0.0.1…`,
 * `http://[::1]…`, `http://localhost…`) matches with any port, every other character equal.
 */
import { BatonError } from '../core/errors.ts';

/** The longest redirect URI registered or matched; a longer presented one matches nothing, unread. */
export const MAX_REDIRECT_URI = 2000;

/** Schemes that are never a redirect target: they run script, read local files or are not a place to return to. */
const FORBIDDEN_SCHEMES = new Set([
  'javascript:',
  'data:',
  'file:',
  'blob:',
  'vbscript:',
  'about:',
  'filesystem:',
  'view-source:',
  'ws:',
  'wss:',
  'ftp:',
  'mailto:',
]);

/** A loopback redirect URI as registered: `http://`, the host, an optional port, the rest (path and query). */
const LOOPBACK =
  /^http:\/\/(127\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)|\[::1\]|localhost)(:\d{1,5})?([/?][\s\S]*)?$/;

/** A port as a browser or an app writes it: decimal, no leading zero, 1–65535. */
const PORT = /^:([1-9]\d{0,4})/;

function refuse(what: string, uri: string, why: string): never {
  throw new BatonError('ERR_INVALID_ARGUMENT', `${what}: ${JSON.stringify(uri.slice(0, 200))} is not a valid redirect URI: ${why}.`, { public: true });
}

/**
 * `uri` if it may be registered as a redirect URI, else a `BatonError` (`ERR_INVALID_ARGUMENT`)
 * whose sentence starts with `what` (the setting or parameter) and says why: absolute; `https`,
 * `http` on a loopback host (RFC 8252 §7.3, §8.3), or a private-use scheme with a dot such as
 * `com.example.app:/cb` (RFC 8252 §7.1); no fragment (RFC 6749 §3.1.2), no userinfo, no white
 * space or backslash, no scheme that runs script or reads files.
 */
export function checkRedirectUri(uri: string, what: string): string {
  if (typeof uri !== 'string' || uri.length === 0) refuse(what, String(uri), 'it must be a non-empty string');
  if (uri.length > MAX_REDIRECT_URI) refuse(what, uri, `it is longer than ${MAX_REDIRECT_URI} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f-\u009f\\]/.test(uri)) refuse(what, uri, 'it contains white space, a control character or a backslash');
  // RFC 3986 §2: a URI is ASCII (an IRI is mapped to one first, RFC 3987 §3.1); a Location header carries nothing past U+00FF.
  if (/[^\u0021-\u007e]/.test(uri)) refuse(what, uri, 'it has a character outside ASCII: percent-encode it, and write a host in its ASCII (xn--) form');
  if (uri.includes('#')) refuse(what, uri, 'it has a fragment (RFC 6749 §3.1.2)');
  if (!URL.canParse(uri)) refuse(what, uri, 'it is not an absolute URI');
  const url = new URL(uri);
  const scheme = url.protocol.toLowerCase();
  if (FORBIDDEN_SCHEMES.has(scheme)) refuse(what, uri, `the ${scheme} scheme is never a redirect target`);
  if (url.username !== '' || url.password !== '' || /^[a-z][a-z0-9+.-]*:\/\/[^/?]*@/i.test(uri)) refuse(what, uri, 'it has userinfo');
  if (uri.slice(0, scheme.length) !== scheme) refuse(what, uri, `write its scheme in lower case (${scheme})`);
  if (scheme === 'https:') {
    if (url.hostname === '') refuse(what, uri, 'it has no host');
    return uri;
  }
  if (scheme === 'http:') {
    if (!LOOPBACK.test(uri))
      refuse(what, uri, 'plain http is allowed only to a loopback host, http://127.0.0.1, http://[::1] or http://localhost (RFC 8252 §8.3); use https');
    return uri;
  }
  // RFC 8252 §7.1: a private-use scheme is a reverse domain name the app owns, hence with a dot.
  if (!scheme.slice(0, -1).includes('.'))
    refuse(what, uri, 'a private-use scheme must be a reverse domain name with a dot, e.g. com.example.app:/callback (RFC 8252 §7.1)');
  return uri;
}

/** The rest of `presented` after an optional canonical port, or undefined when what follows the host is not one. */
function afterPort(presented: string): string | undefined {
  if (presented[0] !== ':') return presented;
  const port = PORT.exec(presented);
  if (port === null || Number(port[1]) > 65535) return undefined;
  return presented.slice(port[0].length);
}

/** Whether `presented` is the loopback `registered` with, at most, another port (RFC 8252 §7.3). */
function loopbackMatch(registered: string, presented: string): boolean {
  const m = LOOPBACK.exec(registered);
  if (m === null) return false;
  const prefix = `http://${m[1] as string}`;
  if (!presented.startsWith(prefix)) return false;
  return afterPort(presented.slice(prefix.length)) === (m[3] ?? '');
}

/**
 * The registered redirect URI `presented` is, or undefined: exact string comparison (RFC 9700
 * §4.1.3), the loopback port excepted (RFC 8252 §7.3). `presented` is never normalised: another
 * case, a trailing slash, a percent-encoding, a dot segment, userinfo, a query or fragment more
 * is another URI.
 */
export function matchRedirectUri(registered: readonly string[], presented: string): string | undefined {
  // Outside ASCII never matches (checkRedirectUri refuses it; a record kept from before must not become a 500).
  if (typeof presented !== 'string' || presented.length === 0 || presented.length > MAX_REDIRECT_URI || !/^[\u0021-\u007e]+$/.test(presented)) return undefined;
  for (const r of registered) if (r === presented) return r;
  for (const r of registered) if (loopbackMatch(r, presented)) return r;
  return undefined;
}
