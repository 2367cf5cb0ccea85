/** A user's sessions, as shown to the user (devices). */
import { endEventType } from './audit.ts';
import type { AuditEventType } from './audit.ts';
import { argument } from './engine.ts';
import type { Engine } from './engine.ts';
import { sessionEnd } from './session-end.ts';
import { SESSION_HISTORY_PAGE } from './store.ts';
import type { DeviceInfo, SessionHistoryPage, SessionRecord } from './store.ts';

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

/**
 * The type of a history entry: the audit trail's names (`AuditEventType`), the end of a session
 * typed by the same function (`endEventType`), so that the page, the CLI and the audit file speak
 * one vocabulary.
 */
export type SessionHistoryType = Extract<
  AuditEventType,
  'session.created' | 'refresh.rotated' | 'refresh.grace' | 'refresh.reused' | 'session.revoked' | 'session.evicted' | 'session.expired'
>;

/** One event of a user's security history (`Baton.sessionHistory`), ms since the epoch. */
export interface SessionHistoryEvent {
  /**
   * `session.created` (the login); `refresh.rotated` (the session's rotations: `count`, the last at
   * `at`); `refresh.grace` (grace answers over the session's life: `count`); `refresh.reused` (a
   * retired refresh token presented again); the session's end, with its `reason`:
   * `session.revoked`, `session.evicted` or `session.expired`.
   */
  type: SessionHistoryType;
  at: number;
  sessionId: string;
  clientId: string;
  device: DeviceInfo;
  count?: number;
  /** The end, `refresh.reused`: why (a `SessionEndReason`), and what was recorded with it. */
  reason?: string;
  /** `kicked`, `logout_everywhere`, `evicted`: the session that ended this one, and its device. */
  by?: string;
  byDevice?: DeviceInfo;
  /** `refresh.reused`: the generation presented, when it had been retired, and from which address. */
  generation?: number;
  retiredAt?: number;
  ip?: string;
}

/** The events a session's record tells: its login, its rotations and grace answers, a reuse, its end. */
function eventsOf(s: SessionRecord, now: number): SessionHistoryEvent[] {
  const base = { sessionId: s.id, clientId: s.clientId, device: s.device };
  const events: SessionHistoryEvent[] = [{ ...base, type: 'session.created', at: s.createdAt }];
  if (s.generation > 0) events.push({ ...base, type: 'refresh.rotated', at: s.rotatedAt, count: s.generation });
  // Grace answers come right after the rotation they answer for: dated by the last one.
  if (s.graceTotal > 0) events.push({ ...base, type: 'refresh.grace', at: s.rotatedAt, count: s.graceTotal });
  const end = sessionEnd(s, now);
  if (end === undefined) return events;
  const { by, byDevice, generation, retiredAt, ip, reason, at } = end;
  // A reuse is two events, as in the audit trail: the retired token presented again, and the session it ended.
  if (reason === 'reused') events.push({ ...base, type: 'refresh.reused', at, reason, ...defined({ generation, retiredAt, ip }) });
  events.push({ ...base, type: endEventType(reason), at, reason, ...defined({ by, byDevice }) });
  return events;
}

/** The fields of `o` that are set. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** One page of a user's security history (`Baton.sessionHistoryPage`). */
export interface SessionHistoryEvents {
  /** The events of up to `SESSION_HISTORY_PAGE` sessions (at most five each), newest first. */
  events: SessionHistoryEvent[];
  /** Present when older sessions may follow: give it as `before` for the next page. */
  next?: string;
}

/** A page cursor: the last session of a page, as `<createdAt>.<id>`. */
const CURSOR = /^(\d{1,16})\.([A-Za-z0-9_-]{1,64})$/;

function parseCursor(before: string | undefined): SessionHistoryPage['before'] {
  if (before === undefined) return undefined;
  const m = typeof before === 'string' ? CURSOR.exec(before) : null;
  argument(m !== null, 'before must be the `next` cursor of a previous page of the history.');
  return { createdAt: Number((m as RegExpExecArray)[1]), id: (m as RegExpExecArray)[2] as string };
}

/**
 * See `Baton.sessionHistoryPage`. One bounded store read: a page of sessions (newest first), its
 * events sorted by time. An event of an older session (its end, its rotations) may be newer than
 * some on this page; it comes with its session on a later page.
 */
export async function sessionHistoryPage(e: Engine, userId: string, options: { before?: string } = {}): Promise<SessionHistoryEvents> {
  argument(typeof userId === 'string' && userId.length > 0, 'sessionHistory needs a user id.');
  const before = parseCursor(options.before);
  await e.ready();
  const now = e.now();
  const sessions = await e.store.sessionHistory(userId, now, { limit: SESSION_HISTORY_PAGE, ...(before === undefined ? {} : { before }) });
  // A store answering more than it was asked for is held to the page anyway.
  const page = sessions.slice(0, SESSION_HISTORY_PAGE);
  const events = page.flatMap((s) => eventsOf(s, now)).sort((a, b) => b.at - a.at);
  const last = page.at(-1);
  return page.length === SESSION_HISTORY_PAGE && last !== undefined ? { events, next: `${last.createdAt}.${last.id}` } : { events };
}

/** See `Baton.sessionHistory`: the first page's events. */
export async function sessionHistory(e: Engine, userId: string): Promise<SessionHistoryEvent[]> {
  return (await sessionHistoryPage(e, userId)).events;
}
