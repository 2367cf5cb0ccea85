/**
 * The rotation decision as a pure function of the session record and the request, for stores
 * that run it inside their own transaction (memory, SQLite). The Redis and PostgreSQL stores
 * implement the same table in Lua and SQL; the conformance suite holds them all to it.
 */
import type { RotateRequest, RotateStatus, SessionEndDetail, SessionRecord } from './store.ts';

/** What to answer and, when the record changes, what to write. */
export interface RotationDecision {
  status: RotateStatus;
  /** The record to write back (undefined: nothing changes). */
  write?: SessionRecord;
  /** The session as the caller sees it after the operation. */
  session?: SessionRecord;
  retryAfterMs?: number;
}

/** What a grace answer over `graceLimit`, or a retired token presented on a clock behind its retirement, is told to wait, in ms. */
export const GRACE_RETRY_MS = 1000;

/**
 * When the presented generation was retired, if the record still knows: the generation just
 * behind the current one retired at `rotatedAt`, the one before at `prevRotatedAt`. Older ones
 * are outside any grace window the record can vouch for.
 */
function retiredAt(session: SessionRecord, generation: number): number {
  if (generation === session.generation - 1) return session.rotatedAt;
  if (generation === session.generation - 2) return session.prevRotatedAt;
  return Number.NEGATIVE_INFINITY;
}

/**
 * Decides a rotation. See `RotateResult` for the meaning of each status. A retired generation
 * gets a grace answer only when |now - retiredAt| <= graceMs; presented earlier than that (a
 * clock behind the record's) it is `rate_limited` for `GRACE_RETRY_MS` with nothing changed:
 * a clock step serves neither the presenter nor kills the session.
 */
export function decideRotation(session: SessionRecord | null, request: RotateRequest): RotationDecision {
  const { now } = request;
  if (session === null) return { status: 'unknown' };
  // Refresh tokens are bound to their client, unconditionally (RFC 6749 §6, §10.4).
  if (request.clientId !== session.clientId) return { status: 'unknown' };
  if (request.generation > session.generation) return { status: 'unknown' };
  if (session.revokedAt !== null) return { status: 'revoked', session };
  if (now >= session.expiresAt || now >= session.idleExpiresAt) return { status: 'expired', session };
  const behind = request.generation < session.generation;
  const retired = behind ? retiredAt(session, request.generation) : 0;
  if (behind && now - retired < -request.graceMs) {
    // Retired later than `now` by more than the grace window: this clock is behind the one that
    // rotated (a step back, or another instance's clock ahead). Negative elapsed time is no race
    // to converge, and no proof of reuse either: refused for now, nothing changes — the current
    // token still rotates. (Within the window it is a race across instances a little apart.)
    return { status: 'rate_limited', session, retryAfterMs: GRACE_RETRY_MS };
  }
  if (behind && now - retired > request.graceMs) {
    // Reuse: a retired token outside the grace window. The whole session dies (RFC 9700 §4.14.2).
    const revokeDetail: SessionEndDetail = { generation: request.generation };
    if (retired !== Number.NEGATIVE_INFINITY) revokeDetail.retiredAt = retired;
    if (request.ip !== undefined) revokeDetail.ip = request.ip;
    const revoked = { ...session, revokedAt: now, revokeReason: 'reused', revokeDetail };
    return { status: 'reused', write: revoked, session: revoked };
  }
  if (behind) {
    // A grace answer changes nothing but its own count: it never spends the rate limit (a herd of
    // racing tabs is one refresh), but each costs a signature, so `graceLimit` bounds them per generation.
    if (request.graceLimit !== undefined && session.graceCount >= request.graceLimit) {
      return { status: 'rate_limited', session, retryAfterMs: GRACE_RETRY_MS };
    }
    const counted = { ...session, graceCount: session.graceCount + 1, graceTotal: session.graceTotal + 1 };
    return { status: 'replayed_in_grace', write: counted, session: counted };
  }
  // Only rotations count against the rate limit.
  let { rateWindowStart, rateCount } = session;
  if (request.rateLimit !== undefined) {
    if (now - rateWindowStart >= request.rateLimit.windowMs) {
      rateWindowStart = now;
      rateCount = 0;
    }
    if (rateCount >= request.rateLimit.max) {
      return { status: 'rate_limited', session, retryAfterMs: rateWindowStart + request.rateLimit.windowMs - now };
    }
    rateCount++;
  }
  const rotated: SessionRecord = {
    ...session,
    generation: session.generation + 1,
    prevRotatedAt: session.rotatedAt,
    rotatedAt: now,
    lastUsedAt: now,
    idleExpiresAt: now + request.idleTtlMs,
    rateWindowStart,
    rateCount,
    graceCount: 0,
  };
  return { status: 'rotated', write: rotated, session: rotated };
}

/** When the session ended or ends: its revocation, or its idle or absolute end, whichever comes first. */
export function endOf(session: SessionRecord): number {
  return Math.min(session.revokedAt ?? Number.POSITIVE_INFINITY, session.expiresAt, session.idleExpiresAt);
}

/** True when the session can still be refreshed at `now`. */
export function isActive(session: SessionRecord, now: number): boolean {
  return session.revokedAt === null && now < session.expiresAt && now < session.idleExpiresAt;
}
