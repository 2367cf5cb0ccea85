/**
 * The URLs a request and the service are known by: what DPoP proofs name as `htu` (RFC 9449 §4.3)
 * and what the handler, CORS and the WebSocket server take for this machine. No DPoP logic here:
 * the proof checks are in `dpop/`.
 */

/** host[:port] (RFC 9110 §7.2): a name, an IPv4 address or a bracketed IPv6 one; nothing else. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/;

/** The Host header if it is a host[:port] and nothing more (a path or a query in it would rewrite URLs built from it). */
export function validHost(host: string | null | undefined): string | undefined {
  return typeof host === 'string' && HOST.test(host) ? host : undefined;
}

/**
 * The URLs a request is known by, for DPoP's `htu`: its path and query under each configured
 * `origin`, or else under the protocol and Host it came with — none when the Host is not a
 * host[:port], so that no proof matches. `target` is the request target (origin- or absolute-form).
 */
export function requestUrls(origin: string | readonly string[] | undefined, protocol: string, host: string | null | undefined, target: string): string[] {
  const parsed = URL.parse(target, 'http://path.invalid');
  if (parsed === null) return [];
  const path = `${parsed.pathname}${parsed.search}`;
  if (origin !== undefined) return (typeof origin === 'string' ? [origin] : [...origin]).map((o) => `${o.replace(/\/$/, '')}${path}`);
  const valid = validHost(host);
  return valid === undefined ? [] : [`${protocol}://${valid}${path}`];
}

/** The names of this machine, as URLs spell their hosts. */
export const LOOPBACK: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The origins `url` is known by: its own; for a loopback one, the same port under each loopback name (the same machine). */
export function sameMachine(url: URL): string[] {
  if (!LOOPBACK.has(url.hostname)) return [url.origin];
  return [url.origin, ...[...LOOPBACK].filter((host) => host !== url.hostname).map((host) => `${url.protocol}//${host}${url.port ? `:${url.port}` : ''}`)];
}

/**
 * The URLs the service's own endpoint `request` is known by, for DPoP's `htu`: under the issuer's
 * origin, as its metadata advertises them — never under a Host header a client chose — and, for
 * an issuer on loopback (development), under each loopback name with the issuer's port and under
 * the loopback origin the request came to.
 */
export function serviceUrls(c: { readonly issuer: string }, request: Request): string[] {
  const url = new URL(request.url);
  const issuer = new URL(c.issuer);
  // A loopback issuer is the same machine under each of its loopback names (as for cookies): a page
  // opened at http://localhost:PORT names that in its proofs while the issuer says 127.0.0.1 (#22);
  // and the loopback origin the request came to (an app mounting the handler on another port in development).
  const origins = sameMachine(issuer);
  if (LOOPBACK.has(issuer.hostname) && LOOPBACK.has(url.hostname) && !origins.includes(url.origin)) origins.push(url.origin);
  return origins.map((origin) => `${origin}${url.pathname}`);
}
