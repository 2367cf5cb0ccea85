/**
 * Sessions and their ids. Session ids: 16 bytes, base64url (22 characters). The first 3 bytes are taken from a hash of
 * the user id, so that the first 4 characters, the *user tag*, are the same for all of a user's
 * sessions: a store that shards by key (Redis Cluster) keeps a user's sessions and their index in
 * one slot, and evicting a user's oldest session stays one atomic script. The other 13 bytes
 * (104 bits) are random.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { DeviceInfo, SessionRecord } from './store.ts';

/** The 4-character tag shared by every session id of `userId`. */
export function userTag(userId: string): string {
  return createHash('sha256').update(userId).digest().subarray(0, 3).toString('base64url');
}

/** The user tag of a session id. */
export function tagOfSession(sessionId: string): string {
  return sessionId.slice(0, 4);
}

/** A new session id for `userId`. */
export function newSessionId(userId: string): string {
  return userTag(userId) + randomBytes(13).toString('base64url');
}

/**
 * Whether `sessionId` has the session-id format (22 base64url characters, the one encoding of 16
 * bytes) and `userId`'s tag: what an id chosen by the caller (`LoginOptions.sessionId`) must be.
 */
export function isSessionIdOf(sessionId: unknown, userId: string): boolean {
  return (
    typeof sessionId === 'string' &&
    /^[A-Za-z0-9_-]{22}$/.test(sessionId) &&
    Buffer.from(sessionId.slice(4), 'base64url').toString('base64url') === sessionId.slice(4) &&
    tagOfSession(sessionId) === userTag(userId)
  );
}

/** A new session record: generation 0, nothing used or revoked yet. */
export function newSession(o: {
  /** The id, when the caller chose it (checked by `isSessionIdOf`); default a new one. */
  id?: string;
  userId: string;
  clientId: string;
  scope: string;
  resource?: string;
  jkt?: string;
  device: DeviceInfo;
  now: number;
  maxAgeMs: number;
  idleMs: number;
}): SessionRecord {
  const { now } = o;
  return {
    id: o.id ?? newSessionId(o.userId),
    userId: o.userId,
    clientId: o.clientId,
    scope: o.scope,
    resource: o.resource ?? '',
    ...(o.jkt === undefined ? {} : { jkt: o.jkt }),
    device: { ...o.device },
    createdAt: now,
    lastUsedAt: now,
    expiresAt: now + o.maxAgeMs,
    idleExpiresAt: now + o.idleMs,
    generation: 0,
    rotatedAt: now,
    prevRotatedAt: now,
    rateWindowStart: now,
    rateCount: 0,
    graceCount: 0,
    graceTotal: 0,
    revokedAt: null,
    revokeReason: null,
    revokeDetail: null,
  };
}
