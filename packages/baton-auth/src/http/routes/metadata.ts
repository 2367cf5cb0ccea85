/**
 * `GET /.well-known/oauth-authorization-server` (RFC 8414 §2; for an issuer with a path, at the
 * well-known URI inserted before the path, §3.1) and `GET /.well-known/jwks.json` (RFC 7517 §5).
 */
import { DPOP_ALGS } from '../../dpop/proof-key.ts';
import type { HandlerContext, Route } from '../context.ts';
import { json } from '../respond.ts';

const PUBLIC = { 'cache-control': 'public, max-age=300' };

/**
 * The RFC 8414 §2 document as answered now (the DPoP algorithms while DPoP is on): what
 * `/.well-known/oauth-authorization-server` answers and OpenID Connect Discovery builds on.
 */
export function serverMetadata(c: HandlerContext): Record<string, unknown> {
  const body: Record<string, unknown> = {
    issuer: c.issuer,
    authorization_endpoint: `${c.issuer}/oauth/authorize`,
    token_endpoint: `${c.issuer}/oauth/token`,
    // RFC 9126 §5.
    pushed_authorization_request_endpoint: `${c.issuer}/oauth/par`,
    revocation_endpoint: `${c.issuer}/oauth/revoke`,
    introspection_endpoint: `${c.issuer}/oauth/introspect`,
    jwks_uri: `${c.issuer}/.well-known/jwks.json`,
    // An extension (RFC 8414 §2 allows them): where resource servers follow revocations.
    baton_revocation_feed_endpoint: `${c.issuer}/oauth/revocations`,
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    // RFC 7636 §4.2: S256 only, for every client (OAuth 2.1 §4.1.1).
    code_challenge_methods_supported: ['S256'],
    // RFC 9207 §3: every authorization response carries iss.
    authorization_response_iss_parameter_supported: true,
  };
  if (c.scopes !== undefined) body.scopes_supported = [...c.scopes];
  // RFC 8414 §2 (RFC 7591 §3): only while registration is on.
  if (c.registration !== undefined) body.registration_endpoint = `${c.issuer}/oauth/register`;
  // draft-ietf-oauth-client-id-metadata-document (its authorization server metadata): an https
  // client_id is a document here. Clients look for it: the MCP SDK registers (RFC 7591) without it.
  if ((c.authz.options.clientMetadataDocuments?.hosts.length ?? 0) > 0) body.client_id_metadata_document_supported = true;
  // RFC 9449 §5.1: the token endpoint accepts DPoP proofs with these algorithms (while DPoP is on).
  return c.dpop() ? { ...body, dpop_signing_alg_values_supported: [...DPOP_ALGS] } : body;
}

export function metadata(c: HandlerContext): Route {
  return { GET: async () => json(serverMetadata(c), 200, PUBLIC) };
}

export function jwks(c: HandlerContext): Route {
  return { GET: async () => json(c.baton.jwks(), 200, PUBLIC) };
}
