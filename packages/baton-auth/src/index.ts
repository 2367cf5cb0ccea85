/**
 * Baton: access and refresh tokens for web APIs. Import from `baton-auth`.
 * @packageDocumentation
 */
export { Baton, createBaton } from './core/baton.ts';
export type {
  ClientTokenOptions,
  ClientTokenResponse,
  IntrospectionResponse,
  LoginOptions,
  RefreshOptions,
  RevokeOptions,
  SessionHistoryEvent,
  SessionHistoryType,
  SessionHistoryEvents,
  SessionInfo,
  SessionRevocation,
  TokenPair,
  VerifyOptions,
  VerifyStats,
} from './core/baton.ts';
export type { BatonOptions } from './core/options.ts';
export { steadyClock, STEP_SETTLE_MS, STEP_TOLERANCE_MS } from './core/clock.ts';
export type { SteadyClockOptions } from './core/clock.ts';
export { DpopError } from './dpop/proof.ts';
export { DPOP_ALGS } from './dpop/proof-key.ts';
export type { DpopProof, DpopRequest } from './dpop/proof.ts';
export type { DpopPresentation } from './core/verify.ts';
export type { AccessTokenClaims, TokenFormat } from './core/access-token.ts';
export type { BatonEvent, BatonEventType } from './core/events.ts';
export { AUDIT_EVENT_TYPES, AUDIT_SCHEMA_VERSION, auditEvent, endEventType } from './core/audit.ts';
export type { AuditEvent, AuditEventType, AuditInput, AuditSink } from './core/audit.ts';
export { KeyRing, generateKey } from './core/keys.ts';
export type { KeyAlg, KeyInput, KeyStatus, KeyUse, PublicJwk, RingKey, SigningAlg } from './core/keys.ts';
export { toMs } from './core/duration.ts';
export type { Duration } from './core/duration.ts';
export { checkScopes, grantScope, parseScope } from './core/scope.ts';
export { parseResources } from './core/resource.ts';
export { BatonConfigError, BatonError, isBatonError } from './core/errors.ts';
export type { BatonErrorCode, SessionEnd } from './core/errors.ts';
export type {
  DeviceInfo,
  OneTimeLedger,
  SessionEndDetail,
  SessionEndReason,
  OpaqueTokenRecord,
  OpaqueTokenStore,
  Revocation,
  RevocationEvent,
  RevocationLog,
  RotateRequest,
  RotateResult,
  RotateStatus,
  SessionHistoryPage,
  SessionRecord,
  SessionStore,
  SessionSummary,
  StoreLifecycle,
  TokenStore,
} from './core/store.ts';
export type { BatonStore, CounterStore, RecordStore } from './stores/types.ts';
export { ENDED_SESSION_RETENTION_MS, ENDED_SESSIONS_PER_USER, MAX_SESSIONS_PER_USER, SESSION_HISTORY_PAGE } from './core/store.ts';
