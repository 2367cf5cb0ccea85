/**
 * Origin helpers. Which URLs may carry a token: https, or plain http to this machine (RFC 8414 §2 asks https of
 * every endpoint of an authorization server; RFC 8252 §8.3 allows loopback for development); and
 * origin lists as a browser sends origins (Fetch §3.1), for CORS, the cookie guard and WebSockets.
 */
import { BatonConfigError } from '../core/errors.ts';
import { isLoopbackHost } from './loopback.ts';

/** Whether `url` is https, or http on loopback. */
export function isSecureUrl(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

/** Whether `url` is plain http to another machine: anyone on the network path could speak for it. */
export function isPlainHttpOffLoopback(url: URL): boolean {
  return url.protocol === 'http:' && !isLoopbackHost(url.hostname);
}

/**
 * `origins` as given, if each is an origin as a browser sends it — its ASCII serialisation (Fetch
 * §3.1; lowercase, punycode, no default port, no path), to which the `Origin` header is compared
 * whole; otherwise a BatonConfigError naming `setting`, the entry and the form to write. A `*` in
 * a host is no pattern: compared whole, it would silently allow no page. A plain-http origin off
 * loopback is refused too, unless `plainHttp: 'any'` (a list that may hold a plain-http issuer's own).
 */
export function checkOrigins(origins: readonly string[], setting: string, options: { plainHttp?: 'loopback' | 'any' } = {}): string[] {
  if (!Array.isArray(origins)) throw new BatonConfigError(`${setting} must be a list of origins, e.g. ['https://app.example.com'].`);
  for (const origin of origins) {
    if (typeof origin !== 'string')
      throw new BatonConfigError(`${setting} must list origins as strings, e.g. https://app.example.com, and ${JSON.stringify(origin)} is not one.`);
    const shown = JSON.stringify(origin.slice(0, 100));
    const url = URL.canParse(origin) ? new URL(origin) : undefined;
    if (url?.hostname.includes('*')) {
      throw new BatonConfigError(
        `${setting} must list origins, and ${shown} holds a wildcard, which matches no page: an Origin is compared whole. List each origin, e.g. https://app.example.com,https://admin.example.com`,
      );
    }
    if (url === undefined || url.origin !== origin) {
      const write = url !== undefined && url.origin !== 'null' ? ` (write it as ${url.origin})` : ', e.g. https://app.example.com';
      throw new BatonConfigError(
        `${setting} must list origins, and ${shown} is not an origin: give scheme, host and port only, as a browser sends them${write}`,
      );
    }
    // Anyone on the network path speaks for a plain-http origin: trusting one with the refresh
    // cookie's answers is trusting the network (as the client SDK refuses such origins off loopback).
    if (isPlainHttpOffLoopback(url) && options.plainHttp !== 'any') {
      throw new BatonConfigError(
        `${setting} lists ${shown}, a plain-http origin off this machine: anyone on the network path could speak for it. Use https (plain http only for localhost, 127.0.0.1 or [::1])`,
      );
    }
  }
  return [...origins];
}
