/**
 * The loopback rule, once for the three packages: which host names are this machine. Plain http
 * is allowed to them only (RFC 8252 §8.3, W3C Secure Contexts §3.1 "potentially trustworthy"),
 * and a service on loopback answers under each of its loopback names.
 *
 * A host is read as the WHATWG URL parser serializes it (`URL.hostname`): `127.0.0.1`, not
 * `0x7f.1` (which the parser turns into `127.0.0.1` before it gets here); `[::1]` with its
 * brackets. Anything else that merely looks like loopback (`127.0.0.1.evil.com`,
 * `localhost.evil`, `127.1`) is another host.
 */

/** One dotted-decimal octet as the URL parser writes it: 0–255, no leading zero. */
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
/** 127.0.0.0/8 (RFC 1122 §3.2.1.3, RFC 6890 §2.2.2). */
const IPV4_LOOPBACK = new RegExp(`^127\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

/**
 * Whether `hostname` (a `URL.hostname`) is this machine: `localhost` (RFC 6761 §6.3), an address
 * of 127.0.0.0/8, or `[::1]` (RFC 4291 §2.5.3).
 */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || IPV4_LOOPBACK.test(hostname);
}

/** The names a loopback service is reached by, each as `URL.hostname` spells it. */
export const LOOPBACK_NAMES: readonly string[] = Object.freeze(['localhost', '127.0.0.1', '[::1]']);

/**
 * The origins `url` is known by: its own first; for a loopback one, the same scheme and port under
 * each loopback name too (the same machine).
 */
export function sameMachine(url: URL): string[] {
  if (!isLoopbackHost(url.hostname)) return [url.origin];
  const port = url.port ? `:${url.port}` : '';
  return [url.origin, ...LOOPBACK_NAMES.filter((host) => host !== url.hostname).map((host) => `${url.protocol}//${host}${port}`)];
}
