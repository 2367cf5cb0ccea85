/**
 * Why a session ended, from what the store recorded with it: the `SessionEnd` that an error
 * carries to the holder of one of its tokens, and the history a user and support staff read.
 */
import type { SessionEnd } from './errors.ts';
import type { RevocationEvent, SessionEndDetail, SessionRecord, SessionSummary } from './store.ts';

/** The `SessionEnd` of a revocation (recorded with the session, or published). */
export function endOf(reason: string, at: number, detail: SessionEndDetail | null | undefined): SessionEnd {
  return { ...(detail ?? {}), reason, at };
}

/** Why `session` cannot be refreshed at `now`: its revocation, else the idle or absolute end it reached first. */
export function sessionEnd(session: SessionSummary | SessionRecord, now: number): SessionEnd | undefined {
  if (session.revokedAt !== null) return endOf(session.revokeReason ?? 'revoked', session.revokedAt, session.revokeDetail);
  const ended = Math.min(session.expiresAt, session.idleExpiresAt);
  if (now < ended) return undefined;
  return { reason: session.idleExpiresAt <= session.expiresAt ? 'idle_timeout' : 'absolute_timeout', at: ended };
}

/** The `SessionEnd` of a published session revocation. */
export function revocationEnd(event: RevocationEvent): SessionEnd {
  return endOf(event.reason, event.at, event.detail);
}
