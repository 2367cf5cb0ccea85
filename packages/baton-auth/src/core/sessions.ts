/** A user's sessions, as shown to the user (devices). */
import { argument } from './engine.ts';
import type { Engine } from './engine.ts';
import type { DeviceInfo } from './store.ts';

/** A session as shown to its user. Times are milliseconds since the epoch. */
export interface SessionInfo {
  id: string;
  clientId: string;
  device: DeviceInfo;
  scope: string;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number;
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
  }));
}
