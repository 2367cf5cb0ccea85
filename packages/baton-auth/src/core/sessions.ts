/** A user's sessions, as shown to the user (devices). */
import { argument } from './engine.ts';
import type { Engine } from './engine.ts';
import { sessionEnd } from './session-end.ts';
import type { DeviceInfo, SessionRecord } from './store.ts';

/** A session as shown to its user. Times are milliseconds since the epoch. */
export interface SessionInfo {
  id: string;
  clientId: string;
  device: DeviceInfo;
  scope: string;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number;
  /** The thumbprint of the DPoP key the session is bound to (RFC 9449 §5), if it is: only that device can refresh it. */
  jkt?: string;
}

/** See `Baton.listSessions`. */
export async function listSessions(e: Engine, userId: string): Promise<SessionInfo[]> {
  argument(typeof userId === 'string' && userId.length > 0, 'listSessions needs a user id.');
  await e.ready();
  const sessions = await e.store.listSessions(userId, e.now());
  return sessions.map((s) => ({
    id: s.id,
    clientId: s.clientId,
    device: s.device,
    scope: s.scope,
    createdAt: s.createdAt,
    lastUsedAt: s.lastUsedAt,
    expiresAt: Math.min(s.expiresAt, s.idleExpiresAt),
    ...(s.jkt === undefined ? {} : { jkt: s.jkt }),
  }));
}

/** One event of a user's security history (`Baton.sessionHistory`), ms since the epoch. */
export interface SessionHistoryEvent {
  /** `login`; `rotated` (the session's rotations: `count`, the last at `at`); `grace` (grace answers over the session's life: `count`); `reused`; `ended`. */
  type: 'login' | 'rotated' | 'grace' | 'reused' | 'ended';
  at: number;
  sessionId: string;
  clientId: string;
  device: DeviceInfo;
  count?: number;
  /** `ended`, `reused`: why (a `SessionEndReason`), and what was recorded with it. */
  reason?: string;
  /** `kicked`, `logout_everywhere`, `evicted`: the session that ended this one, and its device. */
  by?: string;
  byDevice?: DeviceInfo;
  /** `reused`: the generation presented, when it had been retired, and from which address. */
  generation?: number;
  retiredAt?: number;
  ip?: string;
}

/** The events a session's record tells: its login, its rotations and grace answers, its end. */
function eventsOf(s: SessionRecord, now: number): SessionHistoryEvent[] {
  const base = { sessionId: s.id, clientId: s.clientId, device: s.device };
  const events: SessionHistoryEvent[] = [{ ...base, type: 'login', at: s.createdAt }];
  if (s.generation > 0) events.push({ ...base, type: 'rotated', at: s.rotatedAt, count: s.generation });
  // Grace answers come right after the rotation they answer for: dated by the last one.
  if (s.graceTotal > 0) events.push({ ...base, type: 'grace', at: s.rotatedAt, count: s.graceTotal });
  const end = sessionEnd(s, now);
  if (end !== undefined) events.push({ ...base, ...end, type: end.reason === 'reused' ? 'reused' : 'ended' });
  return events;
}

/** See `Baton.sessionHistory`. */
export async function sessionHistory(e: Engine, userId: string, limit = 200): Promise<SessionHistoryEvent[]> {
  argument(typeof userId === 'string' && userId.length > 0, 'sessionHistory needs a user id.');
  await e.ready();
  const now = e.now();
  const sessions = await e.store.sessionHistory(userId, now);
  return sessions.flatMap((s) => eventsOf(s, now)).sort((a, b) => b.at - a.at).slice(0, limit);
}
