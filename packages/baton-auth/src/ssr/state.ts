/**
 * The session's state from what the token service or the engine said, and its snapshot for the page.
 */
import type { AccessTokenClaims } from '../core/claims.ts';
import { isBatonError } from '../core/errors.ts';
import type { BatonErrorCode } from '../core/errors.ts';
import { httpErrorOf } from '../http/respond.ts';
import { keepsCredentials } from '../http/refusal.ts';
import type { SessionSnapshot } from '../protocol/session-snapshot.ts';
import type { SessionState } from './types.ts';

/** What an access token's check means for the request. */
export type Inspection =
  | { kind: 'valid'; claims: Readonly<AccessTokenClaims> }
  /** Expired or unreadable: the refresh cookie decides. */
  | { kind: 'stale' }
  /** The service (its keys, its feed) cannot tell now: the session is kept. */
  | { kind: 'unavailable'; error: unknown }
  /** Revoked: the session is over, for this reason. */
  | { kind: 'ended'; reason: string };

const STALE: ReadonlySet<string> = new Set<BatonErrorCode>(['ERR_TOKEN_EXPIRED', 'ERR_TOKEN_INVALID', 'ERR_TOKEN_NOT_YET_VALID', 'ERR_TOKEN_SCHEME']);

/** An access token's check failing, read. */
export function inspectionOf(err: unknown): Inspection {
  if (!isBatonError(err)) return { kind: 'unavailable', error: err };
  if (STALE.has(err.code)) return { kind: 'stale' };
  if (keepsCredentials(httpErrorOf(err))) return { kind: 'unavailable', error: err };
  return { kind: 'ended', reason: err.sessionEnd?.reason ?? 'revoked' };
}

/** Sentences for the reasons a session ends (`SessionEndReason`), shown beside the reason word. */
const SENTENCES: Record<string, string> = {
  logout: 'You signed out.',
  logout_everywhere: 'You signed out everywhere.',
  kicked: 'The session was ended from another device.',
  evicted: 'A newer sign-in took the place of this session.',
  reused: 'A refresh token was used twice, so the session was ended to protect it.',
  idle_timeout: 'The session ended after a time without activity.',
  absolute_timeout: 'The session reached its maximum length.',
  key_revoked: 'The signing key of the session was revoked.',
  password_changed: 'The password changed.',
  admin: 'An administrator ended the session.',
  revoked: 'The session was revoked.',
  unavailable: 'The token service cannot be reached; you are still signed in, try again in a moment.',
};

export function signedIn(claims: Readonly<AccessTokenClaims>, accessToken: string): SessionState {
  return { status: 'signed-in', claims, accessToken, expiresAt: claims.exp * 1000 };
}

export function signedOut(reason: string | null, description?: string): SessionState {
  const sentence = description ?? (reason === null ? 'Not signed in.' : (SENTENCES[reason] ?? `The session ended (${reason}).`));
  return { status: 'signed-out', reason, description: sentence };
}

export function unavailable(error?: unknown): SessionState {
  const retryAfterSec = isBatonError(error) && error.retryAfterMs !== undefined ? Math.max(1, Math.ceil(error.retryAfterMs / 1000)) : 1;
  return { status: 'unavailable', reason: 'unavailable', description: SENTENCES.unavailable as string, retryAfterSec };
}

/** The state as the page may show it: no token in it. */
export function snapshotOf(state: SessionState): SessionSnapshot {
  if (state.status === 'signed-out') return { status: 'signed-out', reason: state.reason, description: state.description };
  if (state.status === 'unavailable') return { status: 'unavailable', reason: 'unavailable', description: state.description };
  const name = (state.claims as unknown as Record<string, unknown>).name;
  return {
    status: 'signed-in',
    sub: state.claims.sub,
    scope: state.claims.scope ?? '',
    expiresAt: state.expiresAt,
    ...(typeof name === 'string' ? { name } : {}),
  };
}

/**
 * Headers of a response that sets a session cookie: `Cache-Control: private, no-store`, so that no
 * shared cache (a CDN, a caching proxy) keeps one user's cookie or page and serves it to another.
 */
export function noStore(headers: Headers): Headers {
  headers.set('cache-control', 'private, no-store');
  return headers;
}
