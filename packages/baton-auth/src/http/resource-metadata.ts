/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728) for an API behind `requireAuth`: the document
 * a client reads to learn which authorization server issues tokens for it, served by each adapter's
 * `resourceMetadata(options)` at the well-known path (§3.1), and named in challenges by
 * `requireAuth`'s `resourceMetadata` option (§5.1).
 */
import { BatonConfigError } from '../core/errors.ts';

/** What the API says of itself. */
export interface ResourceMetadataOptions {
  /** The API's resource identifier (RFC 8707): an https URL without a fragment, the `aud` of its tokens. */
  resource: string;
  /** The issuers whose tokens it accepts. */
  authorizationServers: string[];
  /** The scopes it understands, if it says (`scopes_supported`). */
  scopes?: string[];
  /** A name for people (`resource_name`). */
  name?: string;
}

/** The document and where it lives: RFC 9728 §3.1 inserts the well-known path before the resource's path. */
export function resourceMetadataDocument(o: ResourceMetadataOptions): { path: string; url: string; body: Record<string, unknown> } {
  let u: URL;
  try {
    u = new URL(o.resource);
  } catch {
    throw new BatonConfigError(`resourceMetadata: the resource ${JSON.stringify(o.resource)} is not a URL.`);
  }
  if (u.hash !== '' || u.search !== '') throw new BatonConfigError('resourceMetadata: the resource identifier has no query or fragment (RFC 9728 §1.2).');
  if (!Array.isArray(o.authorizationServers) || o.authorizationServers.length === 0)
    throw new BatonConfigError('resourceMetadata needs the authorization servers whose tokens this API accepts.');
  // §3.1: only a slash that follows the host alone is dropped; a path keeps its own last slash.
  const path = `/.well-known/oauth-protected-resource${u.pathname === '/' ? '' : u.pathname}`;
  const body: Record<string, unknown> = { resource: o.resource, authorization_servers: o.authorizationServers, bearer_methods_supported: ['header'] };
  if (o.scopes !== undefined) body.scopes_supported = o.scopes;
  if (o.name !== undefined) body.resource_name = o.name;
  return { path, url: `${u.origin}${path}`, body };
}
