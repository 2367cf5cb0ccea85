/**
 * The client SDK's errors: one base, `BatonClientError`, with codes of their own (the engine's
 * `BatonError` codes name what a server decided; these name what the client saw).
 */
import type { SessionEnd } from './types.ts';

/** Every code a client error can carry. */
export type BatonClientErrorCode =
  /** An option of `createTokenClient` or of a storage is missing, of the wrong type, or out of range: fix the configuration (the sentence says what). */
  | 'ERR_CONFIG'
  /** An argument of a client method is not what it takes (a URL that does not parse). */
  | 'ERR_INVALID_ARGUMENT'
  /** No tokens: the user never signed in here, or signed out here (`NotSignedInError`). */
  | 'ERR_NOT_SIGNED_IN'
  /** The session ended — the server said so (`invalid_grant`), or another tab or process signed out (`SessionEndedError`, with the `SessionEnd`): sign in again. */
  | 'ERR_SESSION_ENDED'
  /** The server could not be reached, answered 429 or 5xx, or said something unreadable: the session is kept. */
  | 'ERR_REFRESH_UNAVAILABLE'
  /** The server refused this client (`invalid_client`, `unauthorized_client`, another OAuth error but `invalid_grant`), or its token endpoint redirects: the configuration is wrong, the session is kept. */
  | 'ERR_CLIENT_REJECTED'
  /** The issuer's metadata could not be used: another issuer, an endpoint not on https, a redirect. No token was sent. */
  | 'ERR_DISCOVERY'
  /** A WebSocket to an origin the client does not send tokens to (`allowedOrigins`). */
  | 'ERR_ORIGIN_NOT_ALLOWED'
  /** The token file is a symbolic link, not a regular file, or another user's: refused rather than followed or rewritten. */
  | 'ERR_STORAGE_UNSAFE'
  /** `client.signIn` was refused (`SignInError`, with the server's OAuth `error`): wrong password, too many attempts, a redirect. */
  | 'ERR_SIGN_IN_REFUSED'
  /** The stored session is bound to a DPoP key (RFC 9449) and this client has none to sign with (`dpop: false`, a storage without a key): nothing is sent as Bearer. */
  | 'ERR_DPOP_KEY_MISSING'
  /** `completeSignIn` found no sign-in of this tab waiting for an answer (never started here, already completed, or started for another issuer or client). */
  | 'ERR_NO_PENDING_SIGN_IN'
  /** The answer at the redirect URI carries another `state` than the sign-in waiting (a forged or stale answer, RFC 6749 §10.12): nothing was sent. */
  | 'ERR_STATE_MISMATCH'
  /** The answer's `iss` is not the issuer (RFC 9207 §2.4: a mix-up), or it is missing where the server promised it: nothing was sent. */
  | 'ERR_ISSUER_MISMATCH'
  /** The authorization server answered an error (`AuthorizationError`, with its OAuth `error`: `access_denied`, `login_required`, …). */
  | 'ERR_AUTHORIZATION_REFUSED'
  /** The ID token of the answer is not for this sign-in (issuer, audience, expiry or `nonce`, OpenID Connect Core §3.1.3.7): no token was kept. */
  | 'ERR_ID_TOKEN_INVALID'
  /** `signInWithBrowser` waited its whole `timeoutMs` for the browser to come back. */
  | 'ERR_SIGN_IN_TIMEOUT'
  /** `signInWithBrowser` could not start the system browser (`xdg-open`, `open`, `rundll32`): pass `open` to show the URL yourself. */
  | 'ERR_BROWSER_NOT_OPENED';

/** Base class of the client's errors. */
export class BatonClientError extends Error {
  override name = 'BatonClientError';
  readonly code: BatonClientErrorCode;

  constructor(code: BatonClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** `ERR_NOT_SIGNED_IN`: this client has no session — never signed in here, or signed out here. */
export class NotSignedInError extends BatonClientError {
  override name = 'NotSignedInError';

  constructor(message = 'Not signed in') {
    super('ERR_NOT_SIGNED_IN', message);
  }
}

/**
 * `ERR_SESSION_ENDED`: the session this client held ended; `sessionEnd` says why (the same
 * `SessionEnd` the `sessionEnded` event carries). Sign in again.
 */
export class SessionEndedError extends BatonClientError {
  override name = 'SessionEndedError';
  readonly sessionEnd: SessionEnd;

  constructor(message: string, sessionEnd: SessionEnd) {
    super('ERR_SESSION_ENDED', message);
    this.sessionEnd = sessionEnd;
  }
}

/** Whether `err` says there is no session to use (never signed in, or it ended): nothing to retry. */
export function isSignedOut(err: unknown): err is NotSignedInError | SessionEndedError {
  return err instanceof NotSignedInError || err instanceof SessionEndedError;
}

/** `ERR_CONFIG`, for a factory's options: the sentence names the option and says what to give. */
export function configError(message: string): BatonClientError {
  return new BatonClientError('ERR_CONFIG', message);
}

/** A value as a configuration error may quote it: `String(value)`, or its type when that throws (`{ toString: 0 }`, a null-prototype object). */
export function shown(value: unknown): string {
  try {
    return String(value);
  } catch {
    return `a value of type ${typeof value}`;
  }
}

/** Throws `ERR_CONFIG` unless each named option is absent or a finite number of at least `min`. */
export function checkNumbers(factory: string, options: object, names: readonly string[], min: number): void {
  for (const name of names) {
    const v = (options as Record<string, unknown>)[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < min))
      throw configError(`${factory}: \`${name}\` must be a number of at least ${min}; it is ${shown(v)}.`);
  }
}

/** The server could not be reached or asked to wait; the session is kept. */
export class TransientRefreshError extends BatonClientError {
  override name = 'TransientRefreshError';
  /** How long the server asked to wait (`Retry-After`), in ms, when it said. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super('ERR_REFRESH_UNAVAILABLE', message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/**
 * `client.signIn` was refused: `error` and `errorDescription` are the server's OAuth error
 * (RFC 6749 §5.2; `invalid_grant` for a wrong password at Baton), `status` its HTTP status.
 */
export class SignInError extends BatonClientError {
  override name = 'SignInError';
  readonly status: number;
  /** The OAuth error code, or undefined when the answer was not an OAuth error. */
  readonly error: string | undefined;
  readonly errorDescription: string | undefined;
  /** How long the server asked to wait (`Retry-After`), in ms, when it said (429). */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    details: { status: number; error?: string | undefined; errorDescription?: string | undefined; retryAfterMs?: number | undefined },
  ) {
    super('ERR_SIGN_IN_REFUSED', message);
    this.status = details.status;
    this.error = details.error;
    this.errorDescription = details.errorDescription;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/**
 * `ERR_AUTHORIZATION_REFUSED`: the authorization server refused the sign-in (RFC 6749 §4.1.2.1 at
 * the redirect URI, or RFC 9126 §2.3 at its PAR endpoint): `error` is its OAuth error code
 * (`access_denied` when the user said no, `login_required` for `prompt=none`, …), undefined when
 * the answer carried neither code nor error.
 */
export class AuthorizationError extends BatonClientError {
  override name = 'AuthorizationError';
  readonly error: string | undefined;
  readonly errorDescription: string | undefined;

  constructor(message: string, details: { error?: string | undefined; errorDescription?: string | undefined } = {}) {
    super('ERR_AUTHORIZATION_REFUSED', message);
    this.error = details.error;
    this.errorDescription = details.errorDescription;
  }
}
