/** Lifecycle events, for audit logs and alerts. Times are milliseconds since the epoch. */
export type BatonEvent =
  | { type: 'session.created'; at: number; sessionId: string; userId: string; clientId: string }
  | { type: 'refresh.rotated'; at: number; sessionId: string; userId: string; generation: number; inGrace: boolean }
  | { type: 'refresh.reused'; at: number; sessionId: string; userId: string; presentedGeneration: number }
  | { type: 'session.revoked'; at: number; sessionId: string; reason: string }
  | { type: 'session.evicted'; at: number; sessionId: string; userId: string }
  | { type: 'token.revoked'; at: number; jti: string; sessionId: string };

/** The name of each event. */
export type BatonEventType = BatonEvent['type'];
