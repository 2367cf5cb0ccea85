/**
 * Baton: access and refresh tokens for web APIs. Import from `baton-auth`.
 * @packageDocumentation
 */
export { Baton, createBaton } from './core/service.ts';
export type { IntrospectionResponse, LoginOptions, RefreshOptions, RevokeOptions, SessionInfo, TokenPair, VerifyOptions } from './core/service.ts';
export type { BatonOptions } from './core/options.ts';
export type { AccessTokenClaims, TokenFormat } from './core/access-token.ts';
export type { BatonEvent, BatonEventType } from './core/events.ts';
export { KeyRing, generateKey } from './core/keys.ts';
export type { KeyAlg, KeyInput, KeyStatus, KeyUse, PublicJwk, RingKey, SigningAlg } from './core/keys.ts';
export { toMs } from './core/duration.ts';
export type { Duration } from './core/duration.ts';
export { grantScope, parseScope } from './core/scope.ts';
export { BatonConfigError, BatonError, isBatonError } from './core/errors.ts';
export type { BatonErrorCode } from './core/errors.ts';
export type {
  DeviceInfo, OpaqueTokenRecord, RevocationEvent, RotateRequest, RotateResult, RotateStatus, SessionRecord, SessionSummary, TokenStore,
} from './stores/types.ts';
