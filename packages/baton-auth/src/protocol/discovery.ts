/**
 * Discovery of an authorization server's metadata, once for the client and the resource server:
 * RFC 8414 §3.1's well-known URL, then OpenID Connect Discovery 1.0 §4's, never following a
 * redirect. The metadata's `issuer` must be identical to the issuer asked for (RFC 8414 §3.3,
 * OpenID Connect Discovery §4.3) — compared as strings, so `https://a.example/` is not
 * `https://a.example`: a server whose metadata names another issuer may be speaking for it.
 */

/** Why discovery failed: each caller turns it into its own error (transient, or a configuration mistake). */
export type DiscoveryFailure = 'unreachable' | 'redirect' | 'status' | 'not_found' | 'not_json' | 'wrong_issuer';

/** Discovery failed; `reason` says how, `status` the HTTP status when one answered. */
export class DiscoveryError extends Error {
  readonly reason: DiscoveryFailure;
  readonly status: number | undefined;
  constructor(reason: DiscoveryFailure, message: string, options?: { status?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DiscoveryError';
    this.reason = reason;
    this.status = options?.status;
  }
}

/**
 * The metadata URLs of an issuer: RFC 8414 §3.1 inserts the well-known path between the host and
 * the issuer's path, a terminating `/` removed (`https://a.example/tenant` →
 * `https://a.example/.well-known/oauth-authorization-server/tenant`); OpenID Connect Discovery §4
 * appends its own.
 */
export function metadataUrls(issuer: string): [string, string] {
  const u = new URL(issuer);
  const path = u.pathname.replace(/\/$/, '');
  return [`${u.origin}/.well-known/oauth-authorization-server${path}`, `${u.origin}${path}/.well-known/openid-configuration`];
}

/** Whether a response is a redirect, which discovery and token requests never follow. */
export function isRedirect(res: Response): boolean {
  return res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400);
}

/** The metadata document found, and where. */
export interface Metadata {
  url: string;
  metadata: Readonly<Record<string, unknown>>;
}

async function fetchJson(url: string, fetcher: typeof fetch): Promise<Response> {
  try {
    return await fetcher(url, { redirect: 'manual', headers: { accept: 'application/json' } });
  } catch (err) {
    throw new DiscoveryError('unreachable', `the issuer's metadata could not be fetched`, { cause: err });
  }
}

/**
 * The issuer's metadata: the first of `metadataUrls` that does not answer 404. A redirect, another
 * status, a body that is not a JSON object or one naming another issuer is a `DiscoveryError`.
 */
export async function fetchMetadata(issuer: string, fetcher: typeof fetch): Promise<Metadata> {
  for (const url of metadataUrls(issuer)) {
    const res = await fetchJson(url, fetcher);
    if (res.status === 404) continue;
    if (isRedirect(res))
      throw new DiscoveryError('redirect', `the issuer's metadata redirects elsewhere (HTTP ${res.status}); discovery does not follow redirects`, {
        status: res.status,
      });
    if (!res.ok) throw new DiscoveryError('status', `the issuer's metadata answered ${res.status}`, { status: res.status });
    let metadata: unknown;
    try {
      metadata = await res.json();
    } catch (err) {
      throw new DiscoveryError('not_json', `the issuer's metadata is not JSON`, { status: res.status, cause: err });
    }
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
      throw new DiscoveryError('not_json', `the issuer's metadata is not a JSON object`, { status: res.status });
    const named = (metadata as { issuer?: unknown }).issuer;
    // RFC 8414 §3.3: identical, or another server is speaking for this issuer.
    if (named !== issuer)
      throw new DiscoveryError('wrong_issuer', `The metadata at ${url} names the issuer ${JSON.stringify(named)}, not ${issuer} (RFC 8414 §3.3)`, {
        status: res.status,
      });
    return { url, metadata: metadata as Record<string, unknown> };
  }
  throw new DiscoveryError('not_found', `${issuer} publishes no metadata (RFC 8414 or OpenID Connect Discovery)`, { status: 404 });
}
