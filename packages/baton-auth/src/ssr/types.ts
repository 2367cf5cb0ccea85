/**
 * The shapes of `baton-auth/ssr`: its options, the session's state, and the backend each mode
 * implements (the standalone service over HTTP, or a `Baton` in this process).
 */
import type { AccessTokenClaims } from '../core/claims.ts';
import type { Baton, TokenPair } from '../core/baton.ts';
import type { Authenticate } from '../http/context.ts';

/** Where the two token cookies live. Names as `autoRefresh`'s: `baton_at`/`baton_rt`, `__Host-` prefixed when Secure with path `/`. */
export interface CookieSettings {
  /** Path of the cookies. Default `/`. */
  path?: string;
  /** `Secure` cookies. Default true (browsers keep Secure cookies of `http://localhost` too). */
  secure?: boolean;
  accessCookie?: string;
  refreshCookie?: string;
}

/** What both modes share. */
interface CommonOptions {
  /** The audience the cookies' tokens are for. Default the issuer's own (`issuer`, or `baton.audience`). */
  audience?: string;
  cookies?: CookieSettings;
  /** Refresh when the access token has fewer than this many seconds left. Default 10, at most a 25th of its life (one rotation per lifetime, plus one every 25). */
  refreshLeewaySec?: number;
  /**
   * How long a refresh's result is remembered under the old refresh token, ms: a request that was
   * already on its way with the old cookie gets the same pair instead of a second rotation. Keep it
   * within the service's grace window (`BATON_REFRESH_GRACE`, default 10 s). Default 5000.
   */
  memoMs?: number;
  /** The clock the access token's end is compared with, ms since the epoch. Default `Date.now` (give the Baton's `now` in in-process mode when it has one). */
  now?: () => number;
}

/** A DPoP key the app's server holds (RFC 9449): the tokens of remote mode are bound to it, so a refresh cookie copied out of a browser is worthless without the server. */
export interface ServerDpopKey {
  /** `ES256` (P-256) or `EdDSA` (Ed25519): named, never guessed from the key. */
  alg: 'ES256' | 'EdDSA';
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

/** Remote mode: the standalone service at `issuer`. */
export interface RemoteSessionOptions extends CommonOptions {
  /** The service's URL, exactly as its tokens' `iss` (https, or http on loopback). */
  issuer: string;
  /** The OAuth client this app signs in as. */
  clientId: string;
  /** Its secret when it is a confidential client (sent with `client_secret_basic`). */
  clientSecret?: string;
  /**
   * Credentials of the service's introspection client (`resource-server` and `BATON_INTROSPECTION_SECRET`):
   * with them the app follows the revocation feed, and a session revoked at the service is refused here within a second.
   */
  introspection?: { clientId: string; clientSecret: string };
  /** Bind the tokens to a key this server holds (DPoP, RFC 9449). */
  dpop?: ServerDpopKey;
  /** The longest a call to the service may take, ms. Default 5000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** In-process mode: a `Baton` in this process. */
export interface InProcessSessionOptions extends CommonOptions {
  baton: Baton;
  /** The client id sessions are opened with. Default `'default'`. */
  clientId?: string;
  /** Checks a username and password for `signIn` (as `createAuthHandler`'s). Without it, `signIn` is refused. */
  authenticate?: Authenticate;
}

export type ServerSessionOptions = RemoteSessionOptions | InProcessSessionOptions;

/**
 * The session as the server sees it.
 * - `signed-in`: the verified claims, the access token (for calls to other APIs) and when it ends (ms since the epoch).
 * - `signed-out`: why (a session-end reason: `logout`, `revoked`, `reuse_detected`, `idle_timeout`…; null when no one signed in) and a sentence.
 * - `unavailable`: the token service is away or failing; the user is NOT signed out (the cookies are kept), try again in `retryAfterSec`.
 */
export type SessionState =
  | { status: 'signed-in'; claims: Readonly<AccessTokenClaims>; accessToken: string; expiresAt: number }
  | { status: 'signed-out'; reason: string | null; description: string }
  | { status: 'unavailable'; reason: 'unavailable'; description: string; retryAfterSec: number };

/** What each mode does: the token service, local or remote. Errors are `BatonError`s. */
export interface Backend {
  verify(accessToken: string): Promise<Readonly<AccessTokenClaims>>;
  login(username: string, password: string, ip: string | undefined): Promise<TokenPair>;
  refresh(refreshToken: string): Promise<TokenPair>;
  revoke(refreshToken: string): Promise<void>;
  close(): void;
}
