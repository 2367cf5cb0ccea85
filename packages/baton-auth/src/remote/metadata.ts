/** `remoteIssuer`'s view of the issuer: its metadata by discovery, and the endpoints it uses, each https or loopback. */
import { BatonConfigError, BatonError } from '../core/errors.ts';
import { DiscoveryError, fetchMetadata } from '../protocol/discovery.ts';
import { isSecureUrl } from '../protocol/origin.ts';

/** The issuer's endpoints, from its metadata. */
export interface Metadata {
  jwksUri: string;
  introspection: string | undefined;
  /** A Baton service's revocation feed (`baton_revocation_feed_endpoint`). */
  feed: string | undefined;
}

export function secure(url: string, what: string): string {
  const u = new URL(url);
  if (!isSecureUrl(u)) throw new BatonConfigError(`The issuer's ${what} ${u.origin} is not https (plain http is allowed on loopback only).`);
  return u.href;
}

/** A failed discovery as a resource server reports it: the issuer unreachable or failing is a 503; its metadata naming another issuer, or none, the API's configuration. */
function discoveryFailure(err: unknown): Error {
  if (!(err instanceof DiscoveryError)) return err as Error;
  switch (err.reason) {
    case 'unreachable':
      return new BatonError('ERR_STORE_UNAVAILABLE', err.message, { cause: err.cause });
    case 'wrong_issuer':
    case 'not_found':
      return new BatonConfigError(`${err.message}.`);
    case 'not_json':
      return new BatonError('ERR_STORE_UNAVAILABLE', err.message, { cause: err });
    default:
      return new BatonError('ERR_STORE_UNAVAILABLE', `the issuer's metadata answered ${err.status}`);
  }
}

/** Discovery (the protocol toolkit's, with its issuer check, RFC 8414 §3.3), then the endpoints this verifier uses, each https or loopback. */
export async function discover(issuer: string, fetcher: typeof fetch): Promise<Metadata> {
  let meta: Readonly<Record<string, unknown>>;
  try {
    ({ metadata: meta } = await fetchMetadata(issuer, fetcher));
  } catch (err) {
    throw discoveryFailure(err);
  }
  if (typeof meta.jwks_uri !== 'string') throw new BatonConfigError(`The metadata of ${issuer} has no jwks_uri.`);
  const optional = (v: unknown, what: string) => (typeof v === 'string' ? secure(v, what) : undefined);
  return {
    jwksUri: secure(meta.jwks_uri, 'jwks_uri'),
    introspection: optional(meta.introspection_endpoint, 'introspection endpoint'),
    feed: optional(meta.baton_revocation_feed_endpoint, 'revocation feed'),
  };
}
