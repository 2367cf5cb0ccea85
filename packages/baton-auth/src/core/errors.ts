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

/** Every code a Baton error can carry. */
export type BatonErrorCode =
  | 'ERR_CONFIG'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_TOKEN_INVALID'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_NOT_YET_VALID'
  | 'ERR_TOKEN_REVOKED'
  | 'ERR_SESSION_REVOKED'
  | 'ERR_TOKEN_REPLAYED'
  | 'ERR_TOKEN_SCHEME'
  | 'ERR_INVALID_SCOPE'
  | 'ERR_INVALID_TARGET'
  | 'ERR_DPOP_INVALID'
  | 'ERR_DPOP_NONCE'
  | 'ERR_REFRESH_INVALID'
  | 'ERR_REFRESH_REUSED'
  | 'ERR_SESSION_EXPIRED'
  | 'ERR_RATE_LIMITED'
  | 'ERR_STORE_UNAVAILABLE';

/** The OAuth 2.0 error code (RFC 6749 §5.2, RFC 6750 §3.1, RFC 8707 §2, RFC 9449 §5 and §8) each Baton code maps to. */
export const oauthErrorOf: Record<BatonErrorCode, string> = {
  ERR_CONFIG: 'server_error',
  ERR_INVALID_ARGUMENT: 'invalid_request',
  ERR_TOKEN_INVALID: 'invalid_token',
  ERR_TOKEN_EXPIRED: 'invalid_token',
  ERR_TOKEN_NOT_YET_VALID: 'invalid_token',
  ERR_TOKEN_REVOKED: 'invalid_token',
  ERR_SESSION_REVOKED: 'invalid_token',
  ERR_TOKEN_REPLAYED: 'invalid_token',
  ERR_TOKEN_SCHEME: 'invalid_token',
  ERR_INVALID_SCOPE: 'invalid_scope',
  ERR_INVALID_TARGET: 'invalid_target',
  ERR_DPOP_INVALID: 'invalid_dpop_proof',
  ERR_DPOP_NONCE: 'use_dpop_nonce',
  ERR_REFRESH_INVALID: 'invalid_grant',
  ERR_REFRESH_REUSED: 'invalid_grant',
  ERR_SESSION_EXPIRED: 'invalid_grant',
  ERR_RATE_LIMITED: 'slow_down',
  ERR_STORE_UNAVAILABLE: 'temporarily_unavailable',
};

const publicMessage: Record<BatonErrorCode, string> = {
  ERR_CONFIG: 'Baton is misconfigured',
  ERR_INVALID_ARGUMENT: 'An argument is invalid',
  ERR_TOKEN_INVALID: 'The access token is invalid',
  ERR_TOKEN_EXPIRED: 'The access token expired',
  ERR_TOKEN_NOT_YET_VALID: 'The access token is not valid yet',
  ERR_TOKEN_REVOKED: 'The access token was revoked',
  ERR_SESSION_REVOKED: 'The session was revoked',
  ERR_TOKEN_REPLAYED: 'The access token was already used',
  ERR_TOKEN_SCHEME: 'The access token was sent with the wrong scheme',
  ERR_INVALID_SCOPE: 'The requested scope is invalid, unknown, or more than was granted',
  ERR_INVALID_TARGET: 'The requested resource is invalid, unknown, or not allowed for this client or session',
  ERR_DPOP_INVALID: 'The DPoP proof is invalid',
  ERR_DPOP_NONCE: 'Use the DPoP nonce the server provides',
  ERR_REFRESH_INVALID: 'The refresh token is invalid',
  ERR_REFRESH_REUSED: 'The refresh token was already used',
  ERR_SESSION_EXPIRED: 'The session expired',
  ERR_RATE_LIMITED: 'Too many refreshes; try again later',
  ERR_STORE_UNAVAILABLE: 'The token store is temporarily unavailable',
};

/** Codes whose detail names only what the caller itself sent or configured: it is the message. */
const PUBLIC_DETAIL = new Set<BatonErrorCode>(['ERR_CONFIG', 'ERR_INVALID_ARGUMENT', 'ERR_INVALID_SCOPE', 'ERR_INVALID_TARGET', 'ERR_DPOP_INVALID', 'ERR_DPOP_NONCE', 'ERR_TOKEN_SCHEME']);

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
    super((PUBLIC_DETAIL.has(code) || options?.public === true) && detail ? detail : publicMessage[code], options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.detail = detail;
    this.retryAfterMs = options?.retryAfterMs;
    this.sessionEnd = options?.sessionEnd;
  }

  /** The OAuth 2.0 `error` value for this error. */
  get oauthError(): string {
    return oauthErrorOf[this.code];
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
  return typeof v?.name === 'string' && v.name.startsWith('Baton') && typeof v.code === 'string' && v.code in oauthErrorOf;
}
