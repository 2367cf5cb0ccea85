/**
 * The audit trail: every security event as one record of a stable, versioned schema (`v: 1`), for
 * a file, a log pipeline or a SIEM. The engine's lifecycle events (`events.ts`) are mapped here,
 * once; the HTTP layer, the authorization server and the service add theirs through
 * `Baton.audit`. A session's history (`sessions.ts`) names its entries with the same types and
 * reasons, through the same function (`endEventType`).
 *
 * No token, proof, code, password or secret is ever a field: a record is built field by field
 * from the names below (`auditEvent` copies nothing else), and no field takes one.
 */
import type { BatonEvent } from './events.ts';

/** The schema's version, `v` of every record: a field's meaning never changes within one version (fields may be added). */
export const AUDIT_SCHEMA_VERSION = 1;

/**
 * The kinds of security events. `login.*`: a password sign-in (`/auth/login`, the hosted page);
 * `refresh.*`: a refresh grant's outcome; `session.*`: a session opened or ended, with its `reason`;
 * `token.revoked`: one access token (RFC 7009); `key.*`: the key ring; `client.*`, `user.*`,
 * `password.changed`, `scope.changed`, `limits.reset`: changes an administrator or a registration
 * made; `code.*`, `consent.*`: the authorization server (OAuth 2.1 code flow); `passkey.*`: a
 * user's passkeys (WebAuthn), `passkey.cloned` a signature counter that went backwards (refused).
 */
export const AUDIT_EVENT_TYPES = [
  'login.succeeded',
  'login.failed',
  'login.throttled',
  'refresh.rotated',
  'refresh.grace',
  'refresh.reused',
  'session.created',
  'session.revoked',
  'session.evicted',
  'session.expired',
  'token.revoked',
  'client_token.issued',
  'key.rotated',
  'key.retired',
  'key.revoked',
  'key.dropped',
  'client.created',
  'client.changed',
  'client.removed',
  'client.registered',
  'client.auth_failed',
  'user.created',
  'user.changed',
  'user.removed',
  'password.changed',
  'scope.changed',
  'limits.reset',
  'code.issued',
  'code.redeemed',
  'code.replayed',
  'code.refused',
  'consent.granted',
  'consent.denied',
  'consent.revoked',
  'passkey.registered',
  'passkey.renamed',
  'passkey.removed',
  'passkey.cloned',
] as const;

/** One of `AUDIT_EVENT_TYPES`. */
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Types whose `outcome` is `failure`: an attempt refused, or an attack detected. */
const FAILURES: ReadonlySet<AuditEventType> = new Set([
  'login.failed',
  'login.throttled',
  'refresh.reused',
  'client.auth_failed',
  'code.replayed',
  'code.refused',
  'consent.denied',
  'passkey.cloned',
]);

/**
 * One security event (schema version 1), as one JSON object. Absent fields are left out, never
 * `null`. Identifiers only: no token, proof, authorization code, password or secret, ever.
 */
export interface AuditEvent {
  /** The schema's version: `1`. */
  v: typeof AUDIT_SCHEMA_VERSION;
  /** When it happened, ISO 8601 in UTC with milliseconds (`2026-12-07T06:41:36.123Z`), on the engine's clock. */
  time: string;
  type: AuditEventType;
  /** `failure` for a refused attempt or a detected attack (`login.failed`, `refresh.reused`, …); `success` otherwise (as ECS's `event.outcome`). */
  outcome: 'success' | 'failure';
  /** The user's id (the tokens' `sub`). */
  user?: string;
  /** The name a user signs in with: the one typed at a login (failed ones too, at most 64 characters), or named by an administrator. */
  username?: string;
  /** The session's id (the tokens' `sid`): not a credential, a refresh token also needs its MAC. */
  session?: string;
  /** The OAuth client's id (at most 200 characters). */
  client?: string;
  /** The caller's address, as the handler was told it (`BATON_TRUST_PROXY`). */
  ip?: string;
  /**
   * Why: a session's end (`SessionEndReason`: `logout`, `logout_everywhere`, `kicked`, `evicted`,
   * `reused`, `idle_timeout`, `absolute_timeout`, `key_revoked`, `password_changed`, `admin`, or
   * the application's own), a refusal (`bad_credentials`, `expired`, …), a key's (`rotated`).
   */
  reason?: string;
  /** The session that caused it (`kicked`, `logout_everywhere`, `evicted`). */
  by?: string;
  /** Who made an administrative change: `cli:<operating-system user>` for a `baton` command, `registration` for RFC 7591. */
  actor?: string;
  /** An access token's id (`jti`): `token.revoked`, `client_token.issued`. */
  jti?: string;
  /** A key's id, its use (`sig`, `refresh`, `enc`) and algorithm: `key.*`. */
  kid?: string;
  use?: string;
  alg?: string;
  /** `key.rotated`: the key it replaced (now retired). */
  previous?: string;
  /** The scope granted, asked or set (space-separated). */
  scope?: string;
  /** `refresh.*`: the session's generation after it; `refresh.grace`/`refresh.reused`: the one presented (`presented`). */
  generation?: number;
  presented?: number;
  /** `login.*`: how the user signed in: `password`, `passkey`, or `provider` (with `provider`, its name) — a sign-in method's name, at most 16 characters. */
  method?: string;
  /** `login.*` with `method: 'provider'`: the provider's name. */
  provider?: string;
  /** `passkey.*`: the passkey's credential id (base64url, at most 128 characters): an identifier, not a secret. */
  credential?: string;
  /** `refresh.*`: the start of the presented token's SHA-256 (16 base64url characters), never the token: lines about one token match. */
  fingerprint?: string;
}

/** What a caller of `Baton.audit` gives: the event without `v`, `time` (the engine's clock, or `at` in ms) and `outcome` (by its type). */
export type AuditInput = Omit<AuditEvent, 'v' | 'time' | 'outcome'> & { at?: number };

/** Receives each audit event. What it throws is caught and ignored: a sink never breaks a request. */
export type AuditSink = (event: AuditEvent) => void;

const TEXT: Record<string, number> = {
  user: 256,
  username: 64,
  session: 128,
  client: 200,
  ip: 64,
  reason: 64,
  by: 128,
  actor: 128,
  jti: 128,
  kid: 128,
  use: 16,
  alg: 16,
  previous: 128,
  scope: 1024,
  fingerprint: 32,
  method: 16,
  credential: 128,
  provider: 32,
};

/** The event of `input` at `now` (ms): only the schema's fields, each text within its bound. */
export function auditEvent(input: AuditInput, now: number): AuditEvent {
  const event: AuditEvent = {
    v: AUDIT_SCHEMA_VERSION,
    time: new Date(input.at ?? now).toISOString(),
    type: input.type,
    outcome: FAILURES.has(input.type) ? 'failure' : 'success',
  };
  const out = event as unknown as Record<string, unknown>;
  for (const [name, max] of Object.entries(TEXT)) {
    const value = (input as unknown as Record<string, unknown>)[name];
    if (typeof value === 'string' && value !== '') out[name] = value.slice(0, max);
  }
  for (const name of ['generation', 'presented'] as const) if (Number.isSafeInteger(input[name])) out[name] = input[name];
  return event;
}

/**
 * The type of a session's end, by its reason: one function for the audit trail and the session
 * history. `evicted` (a newer login took its place), `idle_timeout`/`absolute_timeout` (it ran
 * out), anything else a revocation.
 */
export function endEventType(reason: string): 'session.revoked' | 'session.evicted' | 'session.expired' {
  return reason === 'evicted' ? 'session.evicted' : reason === 'idle_timeout' || reason === 'absolute_timeout' ? 'session.expired' : 'session.revoked';
}

/** The audit event of one engine lifecycle event. */
export function auditOf(e: BatonEvent): AuditInput {
  switch (e.type) {
    case 'session.created':
      return { type: e.type, at: e.at, session: e.sessionId, user: e.userId, client: e.clientId };
    case 'refresh.rotated':
      return { type: e.type, at: e.at, session: e.sessionId, user: e.userId, generation: e.generation, fingerprint: e.fingerprint };
    case 'refresh.grace':
      return {
        type: e.type,
        at: e.at,
        session: e.sessionId,
        user: e.userId,
        generation: e.generation,
        presented: e.presentedGeneration,
        fingerprint: e.fingerprint,
      };
    case 'refresh.reused':
      return {
        type: e.type,
        at: e.at,
        session: e.sessionId,
        user: e.userId,
        presented: e.presentedGeneration,
        fingerprint: e.fingerprint,
        reason: 'reused',
        ...ipOf(e),
      };
    case 'session.revoked':
    case 'session.expired':
      return {
        type: endEventType(e.reason),
        at: e.at,
        session: e.sessionId,
        reason: e.reason,
        ...(e.userId ? { user: e.userId } : {}),
        ...('by' in e && e.by ? { by: e.by } : {}),
      };
    case 'session.evicted':
      return { type: e.type, at: e.at, session: e.sessionId, user: e.userId, reason: 'evicted', ...(e.by ? { by: e.by } : {}) };
    case 'token.revoked':
      return { type: e.type, at: e.at, jti: e.jti, ...(e.sessionId ? { session: e.sessionId } : {}) };
    case 'client_token.issued':
      return { type: e.type, at: e.at, client: e.clientId, jti: e.jti };
    case 'key.rotated':
      return { type: e.type, at: e.at, kid: e.kid, use: e.use, alg: e.alg, reason: 'rotated', ...(e.previous ? { previous: e.previous } : {}) };
    case 'key.retired':
    case 'key.dropped':
      return { type: e.type, at: e.at, kid: e.kid, use: e.use, reason: 'rotated' };
    case 'key.revoked':
      return { type: e.type, at: e.at, kid: e.kid, reason: 'key_revoked' };
  }
}

function ipOf(e: { ip?: string }): { ip?: string } {
  return e.ip === undefined ? {} : { ip: e.ip };
}

/** `sink` made safe to call on a request's path: what it throws is caught (and never reaches the caller). */
export function safeSink(sink: AuditSink): AuditSink {
  return (event) => {
    try {
      sink(event);
    } catch {
      // An audit sink's failure must not fail a login or a refresh; the service counts and logs its own.
    }
  };
}
