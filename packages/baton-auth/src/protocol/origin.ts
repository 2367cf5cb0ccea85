/**
 * Which URLs may carry a token: https, or plain http to this machine (RFC 8414 §2 asks https of
 * every endpoint of an authorization server; RFC 8252 §8.3 allows loopback for development).
 */
import { isLoopbackHost } from './loopback.ts';

/** Whether `url` is https, or http on loopback. */
export function isSecureUrl(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

/** Whether `url` is plain http to another machine: anyone on the network path could speak for it. */
export function isPlainHttpOffLoopback(url: URL): boolean {
  return url.protocol === 'http:' && !isLoopbackHost(url.hostname);
}
