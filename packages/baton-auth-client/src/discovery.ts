/**
 * Where the token and revocation endpoints are: given, or from the issuer's metadata (RFC 8414 §3,
 * then OpenID Connect Discovery's document, whose fields are the same). Metadata naming another
 * issuer (§3.3), an endpoint not on https, or a redirect is refused before any token is sent.
 */
import { BatonClientError, TransientRefreshError } from './errors.ts';
import { requireSecure } from './origins.ts';

/** The endpoints the client calls. */
export interface Endpoints {
  token: string;
  revocation?: string;
  /** The metadata's `dpop_signing_alg_values_supported` (RFC 9449 §5.1), when discovered. */
  dpopAlgs?: readonly string[];
}

/**
 * The metadata URLs of an issuer: RFC 8414 §3.1 inserts the well-known path between the host and
 * the issuer's path (`https://a.example/tenant` → `https://a.example/.well-known/oauth-authorization-server/tenant`);
 * OpenID Connect Discovery §4 appends its own.
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

const same = (a: string, b: string): boolean => a.replace(/\/$/, '') === b.replace(/\/$/, '');

/** The endpoints named in the issuer's metadata. A failed fetch is transient; unusable metadata is `ERR_DISCOVERY`. */
export async function discover(issuer: string, fetcher: typeof fetch): Promise<Endpoints> {
  requireSecure(issuer, 'issuer');
  const [rfc8414, oidc] = metadataUrls(issuer);
  const get = (url: string) => fetcher(url, { redirect: 'manual', headers: { accept: 'application/json' } });
  let res = await get(rfc8414);
  if (res.status === 404) res = await get(oidc);
  if (isRedirect(res)) throw new BatonClientError('ERR_DISCOVERY', `The issuer's metadata redirects elsewhere (HTTP ${res.status}); discovery does not follow redirects.`);
  if (!res.ok) throw new TransientRefreshError(`Discovery failed with HTTP ${res.status}`);
  let meta: { issuer?: unknown; token_endpoint?: unknown; revocation_endpoint?: unknown; dpop_signing_alg_values_supported?: unknown };
  try {
    meta = (await res.json()) as typeof meta;
  } catch (err) {
    throw new TransientRefreshError('The issuer\'s metadata is not JSON', { cause: err });
  }
  // RFC 8414 §3.3: the metadata's issuer must be the one asked, or another server is speaking for it.
  if (typeof meta.issuer !== 'string' || !same(meta.issuer, issuer)) {
    throw new BatonClientError('ERR_DISCOVERY', `The metadata at ${rfc8414} names the issuer ${JSON.stringify(meta.issuer)}, not ${issuer} (RFC 8414 §3.3); no token is sent to it.`);
  }
  if (typeof meta.token_endpoint !== 'string') throw new BatonClientError('ERR_DISCOVERY', 'The server metadata has no token_endpoint.');
  requireSecure(meta.token_endpoint, 'token endpoint');
  if (typeof meta.revocation_endpoint === 'string') requireSecure(meta.revocation_endpoint, 'revocation endpoint');
  const endpoints: Endpoints = { token: meta.token_endpoint };
  if (typeof meta.revocation_endpoint === 'string') endpoints.revocation = meta.revocation_endpoint;
  const algs = meta.dpop_signing_alg_values_supported;
  if (Array.isArray(algs)) endpoints.dpopAlgs = algs.filter((a): a is string => typeof a === 'string');
  return endpoints;
}
