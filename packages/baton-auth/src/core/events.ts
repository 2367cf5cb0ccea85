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
  | { type: 'session.revoked'; at: number; sessionId: string; reason: string; by?: string; userId?: string }
  | { type: 'session.evicted'; at: number; sessionId: string; userId: string; by?: string }
  /** A session found past its idle or absolute end when one of its refresh tokens came (the engine keeps no timer per session); `at`: when it ended. */
  | { type: 'session.expired'; at: number; sessionId: string; userId: string; reason: 'idle_timeout' | 'absolute_timeout' }
  | { type: 'token.revoked'; at: number; jti: string; sessionId?: string }
  | { type: 'client_token.issued'; at: number; clientId: string; jti: string }
  /** `rotateKeys`: `kid` took over from `previous`, which retired (it verifies until its last token expires); `key.dropped`: a retired key left the ring. */
  | { type: 'key.rotated'; at: number; kid: string; use: string; alg: string; previous?: string }
  | { type: 'key.retired'; at: number; kid: string; use: string }
  | { type: 'key.dropped'; at: number; kid: string; use: string }
  /** `revokeKey`: a key taken out of service at once. */
  | { type: 'key.revoked'; at: number; kid: string };

/** The name of each event. */
export type BatonEventType = BatonEvent['type'];
