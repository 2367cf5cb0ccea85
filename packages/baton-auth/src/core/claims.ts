/**
 * The claims of an access token, in a module of their own that imports nothing: the store port,
 * the errors and the verifiers all name them, and none of them may import another through this.
 */

/** The claims of every Baton access token. Times are seconds since the epoch. */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  /** The session; absent from a `client_credentials` token, which belongs to no session. */
  sid?: string;
  client_id: string;
  scope?: string;
  nbf?: number;
  /** The DPoP key the token is bound to (RFC 9449 §6.1): only a proof by that key presents it. */
  cnf?: { jkt: string };
}
