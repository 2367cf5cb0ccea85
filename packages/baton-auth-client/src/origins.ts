/**
 * Where tokens may go: the issuer's origin and the `allowedOrigins` option, nothing else; and
 * which URLs are fit to receive them at all (https, or http on this machine: the protocol
 * toolkit's loopback rule, `baton-auth/protocol`).
 */
import { isSecureUrl } from 'baton-auth/protocol';
import { BatonClientError } from './errors.ts';
import type { TokenClientOptions } from './types.ts';

/** A URL as the page resolves it (against the document's base URL, as `fetch` and `WebSocket` do), or as given. */
export function absolute(url: string): URL {
  const g = globalThis as { document?: { baseURI?: string }; location?: { href?: string } };
  return new URL(url, g.document?.baseURI ?? g.location?.href);
}

/** `url`, an argument of a client method, resolved as the page resolves it, or `ERR_INVALID_ARGUMENT` naming the method. */
export function urlOf(url: string | URL, what: string): URL {
  try {
    return absolute(String(url));
  } catch {
    throw new BatonClientError('ERR_INVALID_ARGUMENT', `${what}: ${JSON.stringify(String(url))} is not a URL.`);
  }
}

/** Throws `ERR_DISCOVERY` unless `url` is https, or http on loopback (RFC 8414 §2 asks https of every endpoint). */
export function requireSecure(url: string, what: string): URL {
  let parsed: URL;
  try {
    parsed = absolute(url);
  } catch {
    throw new BatonClientError('ERR_DISCOVERY', `The ${what} ${JSON.stringify(url)} is not a URL.`);
  }
  if (!isSecureUrl(parsed)) {
    throw new BatonClientError(
      'ERR_DISCOVERY',
      `The ${what} ${parsed.origin} is not https: tokens only travel encrypted (plain http is allowed on loopback only).`,
    );
  }
  return parsed;
}

/** Whether an origin is fit to receive a token at all: https, or http on loopback. */
const secureOrigin = (origin: string): boolean => isSecureUrl(new URL(origin));

/**
 * The origins a client sends tokens to: a predicate over an origin (`https://api.example.com`).
 * Always the authorization server's — the issuer's, or the token endpoint's when no issuer is
 * given — and `allowedOrigins`, each of which must be https (or http on loopback): a listed one
 * that is not fails here; a predicate is never asked about one.
 */
export function originPolicy(options: Pick<TokenClientOptions, 'issuer' | 'endpoints' | 'allowedOrigins'>): (origin: string) => boolean {
  const home = requireSecure(options.issuer ?? (options.endpoints as { token: string }).token, options.issuer ? 'issuer' : 'token endpoint').origin;
  const allowed = options.allowedOrigins;
  if (typeof allowed === 'function') return (origin) => origin === home || (secureOrigin(origin) && allowed(origin) === true);
  for (const origin of allowed ?? []) requireSecure(origin, 'allowed origin');
  const set = new Set([home, ...(allowed ?? []).map((o) => new URL(o).origin)]);
  return (origin) => set.has(origin);
}

/** The refusal of a token for `origin`, one the client does not send tokens to (`ERR_ORIGIN_NOT_ALLOWED`). */
export function originNotAllowed(origin: string): BatonClientError {
  return new BatonClientError('ERR_ORIGIN_NOT_ALLOWED', `Access tokens are not sent to ${origin}: add it to the client's allowedOrigins if it is your API.`);
}

/** The origin a WebSocket URL reaches, in the http form an origin list uses (`wss://a` → `https://a`). */
export function socketOrigin(url: string): string {
  const u = absolute(url);
  if (u.protocol === 'wss:') u.protocol = 'https:';
  else if (u.protocol === 'ws:') u.protocol = 'http:';
  return u.origin;
}
