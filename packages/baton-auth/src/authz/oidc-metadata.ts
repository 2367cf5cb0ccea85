/**
 * `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4): the RFC 8414
 * document (`serverMetadata`) and what OpenID Connect adds. For an issuer with a path it is at
 * `<issuer>/.well-known/openid-configuration` (§4.1: appended to the issuer, unlike RFC 8414's
 * inserted well-known segment); the handler strips the issuer's path before it matches a route.
 */
import type { KeyRing } from '../core/keys.ts';
import type { HandlerContext, Route } from '../http/context.ts';
import { HttpError, json } from '../http/respond.ts';

/** The claims of Baton's ID tokens (`id-token.ts`). */
const ID_TOKEN_CLAIMS = ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'sid'];

/**
 * The algorithms ID tokens are signed with: the active signing key's, then those of the signing
 * keys published for the next rotation (a client that cached this document then accepts their
 * tokens too); none when the active key is HS256 (`core/id-token.ts`: no ID token is signed).
 * Discovery §3 asks every provider to list RS256; Baton lists only what it signs with, since
 * oauth4webapi and openid-client accept exactly the listed algorithms, and listing one it never
 * uses would tell them nothing true.
 */
export function idTokenAlgorithms(ring: KeyRing): string[] {
  const active = ring.active('sig');
  if (active === undefined || active.alg === 'HS256') return [];
  const next = ring.list().filter((k) => k.use === 'sig' && k.status === 'next' && k.alg !== 'HS256');
  return [...new Set([active.alg, ...next.map((k) => k.alg)])];
}

/** The OpenID Provider metadata (Discovery §3) of the handler now, on top of `server` (RFC 8414's). */
export function openidMetadata(c: HandlerContext, server: Record<string, unknown>): Record<string, unknown> {
  const algorithms = idTokenAlgorithms(c.baton.keys);
  if (algorithms.length === 0)
    throw new HttpError(
      'ERR_NOT_FOUND',
      'OpenID Connect is off: the active signing key is HS256, and ID tokens need an asymmetric one (EdDSA, ES256, RS256 or PS256)',
    );
  const advertised = Array.isArray(server.scopes_supported) ? (server.scopes_supported as string[]) : [];
  const scopes = ['openid', ...advertised.filter((s) => s !== 'openid')];
  return {
    ...server,
    userinfo_endpoint: `${c.issuer}/oauth/userinfo`,
    end_session_endpoint: `${c.issuer}/oauth/end-session`,
    scopes_supported: scopes,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: algorithms,
    // What the ID token carries and what the application's `claims` says it returns: never a claim no answer holds.
    claims_supported: [...new Set([...ID_TOKEN_CLAIMS, ...(c.authz.options.claimsSupported ?? [])])],
    // Request objects (OIDC Core §6) and the claims parameter (§5.5) are not supported. PAR's
    // request_uri (RFC 9126) is another thing: it names a pushed request, not a request object.
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
  };
}

/** The route: computed at each request (the ring's algorithms change when it rotates), cached 5 minutes like RFC 8414's document. */
export function openidConfiguration(c: HandlerContext, server: () => Record<string, unknown>): Route {
  return { GET: async () => json(openidMetadata(c, server()), 200, { 'cache-control': 'public, max-age=300' }) };
}
