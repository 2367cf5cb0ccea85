/**
 * A session as a store keeps it: the device it came from, the record of the refresh-token family, why and by whom it
 * ended, and how long ended sessions are kept. The store port (`store.ts`) re-exports all of it.
 */

/** The device a session was opened from, as the application describes it. */
export interface DeviceInfo {
  userAgent?: string;
  ip?: string;
  /** A name the user will recognise ("Firefox on Linux"). */
  name?: string;
  /** How the session was opened, when the application says: `password`, `passkey`, or `provider` (then `provider` names which); the session history names it. */
  method?: string;
  /** The provider of a sign-in with another provider (`method: 'provider'`). */
  provider?: string;
}

/**
 * Why a session ended, recorded with it and told to the holder of its tokens and to support
 * staff. `idle_timeout` and `absolute_timeout` are read from the session's times, not recorded.
 */
export type SessionEndReason =
  'logout' | 'logout_everywhere' | 'kicked' | 'evicted' | 'reused' | 'idle_timeout' | 'absolute_timeout' | 'key_revoked' | 'password_changed' | 'admin';

/** What is recorded with a revoked session besides its reason. */
export interface SessionEndDetail {
  /** `kicked`, `logout_everywhere`, `evicted`: the session that ended this one. */
  by?: string;
  /** Its device, as recorded (for `evicted`, the new login's). */
  byDevice?: DeviceInfo;
  /** `reused`: the generation presented, when it had been retired (absent: longer ago than the record knows), and from which address. */
  generation?: number;
  retiredAt?: number;
  ip?: string;
}

/** How long a store keeps a session after it ended (revoked, or past its idle or absolute end): the history a user and support staff can read, and what lets a late refresh be told why. */
export const ENDED_SESSION_RETENTION_MS = 7 * 86_400_000;

/**
 * How many ended sessions a store keeps per user, the most recently ended: each login deletes
 * the user's older ended ones in the same atomic operation, so a flood of logins cannot grow one
 * user's rows (and every read of them) without bound. A refresh with the token of a deleted
 * session is `unknown` (`invalid_grant`, no reason told); the revocation log still holds it.
 */
export const ENDED_SESSIONS_PER_USER = 100;

/**
 * The ceiling of `maxSessionsPerUser` (and `BATON_MAX_SESSIONS`): a login, the device list and
 * "log out everywhere" each read all of a user's active sessions in one store operation, so there
 * is no unlimited setting — one account must not be able to slow everyone's requests.
 */
export const MAX_SESSIONS_PER_USER = 1000;

/** The most sessions one `sessionHistory` call answers (one page); their events are at most four each. */
export const SESSION_HISTORY_PAGE = 50;

/** Which page of a user's sessions `sessionHistory` answers. */
export interface SessionHistoryPage {
  /** At most this many sessions; default and ceiling `SESSION_HISTORY_PAGE`. */
  limit?: number;
  /** Only sessions before this one in the order of the history (`createdAt`, then `id`, descending): the last of the previous page. */
  before?: { createdAt: number; id: string };
}

/** One login: the family of refresh tokens that rotate from it. */
export interface SessionRecord {
  id: string;
  userId: string;
  clientId: string;
  scope: string;
  /** The resources (RFC 8707) its access tokens may name, space-separated; `''`: the issuer's own audience. */
  resource: string;
  /**
   * The RFC 7638 thumbprint of the DPoP key the session is bound to (RFC 9449 §5), set at login
   * and never changed; absent: not bound. Its refresh tokens' MAC covers it, so only a proof by
   * that key refreshes them; stores keep it for introspection, revocation and the device list.
   */
  jkt?: string;
  device: DeviceInfo;
  createdAt: number;
  lastUsedAt: number;
  /** Absolute end of the session, whatever its use. */
  expiresAt: number;
  /** The session ends here unless a refresh comes first; each rotation moves it forward. */
  idleExpiresAt: number;
  /** The generation of the current refresh token; 0 at login, +1 per rotation. */
  generation: number;
  /** When the current generation was issued (and the one before it retired). */
  rotatedAt: number;
  /** When the generation before the current one was issued. */
  prevRotatedAt: number;
  /** Start and count of the current refresh rate-limit window (rotations only). */
  rateWindowStart: number;
  rateCount: number;
  /** Grace answers (`replayed_in_grace`) given for the current generation; 0 at login and after each rotation. */
  graceCount: number;
  /** Grace answers over the session's life. */
  graceTotal: number;
  revokedAt: number | null;
  /** A `SessionEndReason`, or an application's own word. */
  revokeReason: string | null;
  revokeDetail: SessionEndDetail | null;
}

/** What a rotation answers about the session: all that issuing the next pair needs. */
export type SessionSummary = Pick<
  SessionRecord,
  | 'id'
  | 'userId'
  | 'clientId'
  | 'scope'
  | 'resource'
  | 'generation'
  | 'expiresAt'
  | 'idleExpiresAt'
  | 'rotatedAt'
  | 'revokedAt'
  | 'revokeReason'
  | 'revokeDetail'
>;
