/**
 * PLACEHOLDER of H1b's `authz/redirect-uri.ts` (branch `codes`), written to the contract's
 * signature so that the service branch compiles before that branch lands; the merge takes H1b's file.
 */
import { BatonError } from '../core/errors.ts';
import { isLoopbackHost } from '../protocol/loopback.ts';

/** `uri` if it may be registered as a redirect URI (RFC 6749 §3.1.2, RFC 8252 §7), else a BatonError naming `what`. */
export function checkRedirectUri(uri: string, what: string): string {
  const refuse = (why: string): never => {
    throw new BatonError('ERR_INVALID_ARGUMENT', `${what} ${JSON.stringify(String(uri).slice(0, 100))} ${why}.`, { public: true });
  };
  if (typeof uri !== 'string' || uri.length > 2000 || !URL.canParse(uri)) return refuse('is not an absolute URI');
  const url = new URL(uri);
  if (uri.includes('#')) refuse('has a fragment (RFC 6749 §3.1.2)');
  if (url.username !== '' || url.password !== '') refuse('has a user name or password');
  if (url.protocol === 'https:') return uri;
  if (url.protocol === 'http:') return isLoopbackHost(url.hostname) ? uri : refuse('is plain http on a host that is not loopback');
  if (/^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/.test(url.protocol)) return uri; // RFC 8252 §7.1
  return refuse('has a scheme that is not https, loopback http or a private-use scheme with a dot (RFC 8252 §7.1)');
}
