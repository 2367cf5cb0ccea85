/**
 * Lifecycle events, for audit logs and alerts. Times are milliseconds since the epoch. Refresh
 * events carry the session, the generations and a fingerprint of the presented token (the start
 * of its SHA-256, never the token), so that an operator can reconstruct what happened.
 */
export type BatonEvent =
  | { type: 'session.created'; at: number; sessionId: string; userId: string; clientId: string }
  | { type: 'refresh.rotated'; at: number; sessionId: string; userId: string; generation: number; fingerprint: string }
  | { type: 'refresh.grace'; at: number; sessionId: string; userId: string; generation: number; presentedGeneration: number; fingerprint: string }
  | { type: 'refresh.reused'; at: number; sessionId: string; userId: string; presentedGeneration: number; fingerprint: string; ip?: string }
  | { type: 'session.revoked'; at: number; sessionId: string; reason: string; by?: string }
  | { type: 'session.evicted'; at: number; sessionId: string; userId: string }
  | { type: 'token.revoked'; at: number; jti: string; sessionId?: string }
  | { type: 'client_token.issued'; at: number; clientId: string; jti: string };

/** The name of each event. */
export type BatonEventType = BatonEvent['type'];
