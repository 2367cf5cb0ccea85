/**
 * Baton: access and refresh tokens for web APIs. Import from `baton`.
 * @packageDocumentation
 */
export { Baton, createBaton } from './core/service.ts';
export type { IntrospectionResponse, LoginOptions, RefreshOptions, SessionInfo, TokenPair, VerifyOptions } from './core/service.ts';
export type { BatonOptions } from './core/options.ts';
export type { AccessTokenClaims, TokenFormat } from './core/access-token.ts';
export type { BatonEvent, BatonEventType } from './core/events.ts';
export { KeyRing, generateKey } from './core/keys.ts';
export type { KeyAlg, KeyInput, KeyStatus, PublicJwk, SigningAlg } from './core/keys.ts';
export type { Duration } from './core/duration.ts';
export { BatonConfigError, BatonError, isBatonError } from './core/errors.ts';
export type { BatonErrorCode } from './core/errors.ts';
export type {
  DeviceInfo, OpaqueTokenRecord, RevocationEvent, RotateRequest, RotateResult, RotateStatus, SessionRecord, SessionSummary, TokenStore,
} from './stores/types.ts';
