/**
 * Typed errors with stable codes. Import from `baton-auth/errors`.
 *
 * The public `message` is generic and safe to show a client; the specific
 * reason is kept in `detail` for logs (never a token, never a secret).
 *
 * @example
 * ```ts
 * import { isBatonError } from 'baton-auth/errors';
 * try { await baton.verify(token); } catch (err) {
 *   if (isBatonError(err) && err.code === 'ERR_TOKEN_EXPIRED') { ... }
 * }
 * ```
 */
import type { SessionEndDetail } from './session-record.ts';

/** Why and when a session ended, as its token's holder is told (`SessionEndDetail`, with the reason and time). */
export interface SessionEnd extends SessionEndDetail {
  /** A `SessionEndReason` (or an application's own word). */
  reason: string;
  /** When it ended, ms since the epoch. */
  at: number;
}

/**
 * One row per code: the HTTP status and OAuth `error` it is answered with, the message a client
 * may read, and whether the detail (which then names only what the caller itself sent or
 * configured) is that message. The one mapping of the library: `httpErrorOf` and the guards read it.
 */
interface ErrorRow {
  /** The HTTP status of the answer. */
  status: number;
  /** The OAuth 2.0 `error` value (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 8707 §2, RFC 9449 §7.1 and §8). */
  error: string;
  /** The generic message, safe to show a client. */
  message: string;
  /** The detail is the message (it names only what the caller sent or configured). */
  public?: true;
}

/** The table of every code (a row each: see `ErrorRow`). */
export const errorTable = {
  // A configuration mistake: the server's own, so its sentence is for its logs (500).
  ERR_CONFIG: { status: 500, error: 'server_error', message: 'Baton is misconfigured', public: true },
  // Anything else that went wrong on the server's side; its cause is never told (RFC 6749 §5.2 has no such code; 500 as RFC 9110 §15.6.1).
  ERR_INTERNAL: { status: 500, error: 'server_error', message: 'Something went wrong on our side' },
  ERR_INVALID_ARGUMENT: { status: 400, error: 'invalid_request', message: 'An argument is invalid', public: true },
  ERR_INVALID_REQUEST: { status: 400, error: 'invalid_request', message: 'The request is invalid', public: true },
  // RFC 9110 §15.5.5, §15.5.6, §15.5.14: not found, wrong method, body too large.
  ERR_NOT_FOUND: { status: 404, error: 'not_found', message: 'No such endpoint', public: true },
  ERR_METHOD_NOT_ALLOWED: { status: 405, error: 'invalid_request', message: 'Method not allowed', public: true },
  ERR_BODY_TOO_LARGE: { status: 413, error: 'invalid_request', message: 'The request body is too large', public: true },
  // A cross-site or unlisted-origin request that uses the cookie (RFC 9110 §15.5.4).
  ERR_ORIGIN_REFUSED: { status: 403, error: 'invalid_request', message: 'The request comes from an origin that is not allowed', public: true },
  // RFC 6749 §5.2: client authentication failed (401 with a challenge); a client not allowed this grant; a grant type unknown.
  ERR_CLIENT_INVALID: { status: 401, error: 'invalid_client', message: 'Client authentication failed', public: true },
  ERR_CLIENT_UNAUTHORIZED: { status: 400, error: 'unauthorized_client', message: 'The client may not use this grant', public: true },
  ERR_GRANT_TYPE_UNSUPPORTED: { status: 400, error: 'unsupported_grant_type', message: 'The grant type is not supported', public: true },
  // The resource owner's password was wrong (RFC 6749 §5.2 invalid_grant; 401 with a challenge, RFC 9110 §15.5.2).
  ERR_LOGIN_FAILED: { status: 401, error: 'invalid_grant', message: 'Wrong username or password', public: true },
  // A passkey ceremony refused (baton-auth/passkeys): its sentence names only what the caller sent.
  ERR_PASSKEY_REFUSED: { status: 401, error: 'invalid_grant', message: 'The passkey was refused', public: true },
  // RFC 6750 §3.1: invalid_token is a 401.
  ERR_TOKEN_INVALID: { status: 401, error: 'invalid_token', message: 'The access token is invalid' },
  ERR_TOKEN_EXPIRED: { status: 401, error: 'invalid_token', message: 'The access token expired' },
  ERR_TOKEN_NOT_YET_VALID: { status: 401, error: 'invalid_token', message: 'The access token is not valid yet' },
  ERR_TOKEN_REVOKED: { status: 401, error: 'invalid_token', message: 'The access token was revoked' },
  ERR_SESSION_REVOKED: { status: 401, error: 'invalid_token', message: 'The session was revoked' },
  ERR_TOKEN_REPLAYED: { status: 401, error: 'invalid_token', message: 'The access token was already used' },
  ERR_TOKEN_SCHEME: { status: 401, error: 'invalid_token', message: 'The access token was sent with the wrong scheme', public: true },
  ERR_INVALID_SCOPE: { status: 400, error: 'invalid_scope', message: 'The requested scope is invalid, unknown, or more than was granted', public: true },
  // RFC 8707 §2.
  ERR_INVALID_TARGET: {
    status: 400,
    error: 'invalid_target',
    message: 'The requested resource is invalid, unknown, or not allowed for this client or session',
    public: true,
  },
  // RFC 9449 §5 (a token request) and §8 (the nonce to use comes with the refusal).
  ERR_DPOP_INVALID: { status: 400, error: 'invalid_dpop_proof', message: 'The DPoP proof is invalid', public: true },
  ERR_DPOP_NONCE: { status: 400, error: 'use_dpop_nonce', message: 'Use the DPoP nonce the server provides', public: true },
  // RFC 6749 §5.2 invalid_grant.
  ERR_REFRESH_INVALID: { status: 400, error: 'invalid_grant', message: 'The refresh token is invalid' },
  ERR_REFRESH_REUSED: { status: 400, error: 'invalid_grant', message: 'The refresh token was already used' },
  // An authorization code that is not ours, expired, spent, or presented by another client, redirect URI, verifier or key (RFC 6749 §4.1.3, RFC 7636 §4.6).
  ERR_CODE_INVALID: { status: 400, error: 'invalid_grant', message: 'The authorization code is invalid', public: true },
  // A session that ended, named as the client names it (`SessionEndedError`): here, its idle or absolute lifetime ran out.
  // The refresh token of a session that ended — signed out, revoked, kicked, past its idle or absolute end — carrying its
  // `sessionEnd`; a reused one is ERR_REFRESH_REUSED (the session ends with it, reason `reused`).
  ERR_SESSION_ENDED: { status: 400, error: 'invalid_grant', message: 'The session ended' },
  // RFC 8628 §3.5 slow_down, with Retry-After (RFC 9110 §10.2.3), as a 429 (RFC 6585 §4).
  ERR_RATE_LIMITED: { status: 429, error: 'slow_down', message: 'Too many refreshes; try again later' },
  // RFC 6749 §4.1.2.1 temporarily_unavailable, as a 503 with Retry-After: nothing was lost, try again.
  ERR_STORE_UNAVAILABLE: { status: 503, error: 'temporarily_unavailable', message: 'The token store is temporarily unavailable' },
  ERR_SHUTTING_DOWN: { status: 503, error: 'temporarily_unavailable', message: 'The service is stopping', public: true },
  ERR_STARTING: { status: 503, error: 'temporarily_unavailable', message: 'The service is starting; retry in a second', public: true },
} as const satisfies Record<string, ErrorRow>;

/** Every code a Baton error can carry. */
export type BatonErrorCode = keyof typeof errorTable;

/** The OAuth 2.0 error code each Baton code maps to (the `error` column of `errorTable`). */
export const oauthErrorOf = Object.fromEntries(Object.entries(errorTable).map(([code, row]) => [code, row.error])) as Record<BatonErrorCode, string>;

/** The HTTP status each Baton code is answered with (the `status` column of `errorTable`). */
export const httpStatusOf = Object.fromEntries(Object.entries(errorTable).map(([code, row]) => [code, row.status])) as Record<BatonErrorCode, number>;

/** Base class of every error Baton throws. */
export class BatonError extends Error {
  override name = 'BatonError';
  /** Stable machine-readable code. */
  readonly code: BatonErrorCode;
  /** The specific reason, for logs only. Never contains a token or a secret. */
  readonly detail: string | undefined;
  /** Milliseconds after which a rate-limited caller may retry. */
  readonly retryAfterMs: number | undefined;
  /**
   * Why the session ended, when it did and the caller proved it holds a token of that session
   * (a refresh token's MAC, an access token's signature): safe to tell that caller.
   */
  readonly sessionEnd: SessionEnd | undefined;

  /** `options.public`: the detail names only what the caller sent, so it is the message too. */
  constructor(code: BatonErrorCode, detail?: string, options?: { cause?: unknown; retryAfterMs?: number; sessionEnd?: SessionEnd; public?: boolean }) {
    super(
      ((errorTable[code] as ErrorRow).public === true || options?.public === true) && detail ? detail : errorTable[code].message,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.detail = detail;
    this.retryAfterMs = options?.retryAfterMs;
    this.sessionEnd = options?.sessionEnd;
  }

  /** The OAuth 2.0 `error` value for this error. */
  get oauthError(): string {
    return errorTable[this.code].error;
  }

  /** The HTTP status this error is answered with. */
  get httpStatus(): number {
    return errorTable[this.code].status;
  }
}

/** A configuration mistake found when a factory is created. The message says what to change. */
export class BatonConfigError extends BatonError {
  override name = 'BatonConfigError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONFIG', message, options);
  }
}

/** True for any Baton error, also one from another copy of the module or another realm. */
export function isBatonError(value: unknown): value is BatonError {
  if (value instanceof BatonError) return true;
  const v = value as { name?: unknown; code?: unknown } | null;
  // The client SDK's BatonClientError shares two codes (ERR_CONFIG, ERR_INVALID_ARGUMENT) but is no
  // server's decision: thrown in an `authenticate` callback, it would be answered with its sentence.
  return (
    typeof v?.name === 'string' &&
    v.name.startsWith('Baton') &&
    !v.name.startsWith('BatonClient') &&
    typeof v.code === 'string' &&
    Object.hasOwn(errorTable, v.code)
  );
}
