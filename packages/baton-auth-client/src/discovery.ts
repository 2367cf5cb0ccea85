/**
 * Where the token and revocation endpoints are: given, or from the issuer's metadata (RFC 8414 §3,
 * then OpenID Connect Discovery's document, whose fields are the same), found by the protocol
 * toolkit's `fetchMetadata` (`baton-auth/protocol`). Metadata naming another issuer (§3.3, compared
 * exactly: a trailing `/` makes another issuer), an endpoint not on https, or a redirect is
 * refused before any token is sent.
 */
import { DiscoveryError, fetchMetadata } from 'baton-auth/protocol';
import { BatonClientError, TransientRefreshError } from './errors.ts';
import { requireSecure } from './origins.ts';

/** The endpoints the client calls. */
export interface Endpoints {
  token: string;
  revocation?: string;
  /** The metadata's `dpop_signing_alg_values_supported` (RFC 9449 §5.1), when discovered. */
  dpopAlgs?: readonly string[];
  /** The code flow's, when discovered: `authorization_endpoint` (RFC 8414 §2), `pushed_authorization_request_endpoint` (RFC 9126 §5). */
  authorization?: string;
  par?: string;
  /** `require_pushed_authorization_requests` (RFC 9126 §5): every authorization request goes through PAR. */
  requirePar?: boolean;
  /** `authorization_response_iss_parameter_supported` (RFC 9207 §3): every authorization answer carries `iss`. */
  issInResponse?: boolean;
}

/** Each failure of discovery as the client reports it: a configuration mistake or a redirect is `ERR_DISCOVERY`; the rest may pass. */
function clientError(err: unknown): Error {
  if (!(err instanceof DiscoveryError)) return err as Error;
  switch (err.reason) {
    case 'unreachable':
      return err.cause as Error; // the fetch's own failure, as it came
    case 'redirect':
      return new BatonClientError('ERR_DISCOVERY', `The issuer's metadata redirects elsewhere (HTTP ${err.status}); discovery does not follow redirects.`);
    case 'wrong_issuer':
      return new BatonClientError('ERR_DISCOVERY', `${err.message}; no token is sent to it.`);
    case 'not_json':
      return new TransientRefreshError("The issuer's metadata is not JSON", { cause: err });
    default:
      return new TransientRefreshError(`Discovery failed with HTTP ${err.status}`);
  }
}

/** The endpoints named in the issuer's metadata. A failed fetch is transient; unusable metadata is `ERR_DISCOVERY`. */
export async function discover(issuer: string, fetcher: typeof fetch): Promise<Endpoints> {
  requireSecure(issuer, 'issuer');
  let meta: Record<string, unknown>;
  try {
    ({ metadata: meta } = await fetchMetadata(issuer, fetcher));
  } catch (err) {
    throw clientError(err);
  }
  if (typeof meta.token_endpoint !== 'string') throw new BatonClientError('ERR_DISCOVERY', 'The server metadata has no token_endpoint.');
  requireSecure(meta.token_endpoint, 'token endpoint');
  if (typeof meta.revocation_endpoint === 'string') requireSecure(meta.revocation_endpoint, 'revocation endpoint');
  const endpoints: Endpoints = { token: meta.token_endpoint };
  if (typeof meta.revocation_endpoint === 'string') endpoints.revocation = meta.revocation_endpoint;
  const algs = meta.dpop_signing_alg_values_supported;
  if (Array.isArray(algs)) endpoints.dpopAlgs = algs.filter((a): a is string => typeof a === 'string');
  // Checked (https) when the code flow uses them, so that a client that never does is not refused for them.
  if (typeof meta.authorization_endpoint === 'string') endpoints.authorization = meta.authorization_endpoint;
  if (typeof meta.pushed_authorization_request_endpoint === 'string') endpoints.par = meta.pushed_authorization_request_endpoint;
  endpoints.requirePar = meta.require_pushed_authorization_requests === true;
  endpoints.issInResponse = meta.authorization_response_iss_parameter_supported === true;
  return endpoints;
}

/**
 * The endpoints of one client, asked for once: those given, or the issuer's discovered on first use and kept. A failed
 * discovery is not kept, so the next call asks again.
 */
export function endpointsOnce(options: { issuer?: string | undefined; endpoints?: Endpoints | undefined }, fetcher: typeof fetch): () => Promise<Endpoints> {
  let endpoints: Promise<Endpoints> | undefined;
  return () => {
    endpoints ??= (options.endpoints ? Promise.resolve(options.endpoints) : discover(options.issuer as string, fetcher)).catch((err: unknown) => {
      endpoints = undefined;
      throw err;
    });
    return endpoints;
  };
}

export { isRedirect } from 'baton-auth/protocol';
