/**
 * The token service over HTTP. Import from `baton-auth/http`.
 * @packageDocumentation
 */
export { createAuthHandler } from './handler.ts';
export type { AuthHandler, AuthHandlerOptions, Authenticate, Logger, RequestContext } from './handler.ts';
export { checkClientSecret, checkResources, generateClientSecret, hashClientSecret, staticClients } from './clients.ts';
export { checkOrigins } from './cors.ts';
export { checkCookieSecure } from './cookies.ts';
export type { ClientRecord, ClientRegistry, StaticClient } from './clients.ts';
export { StoreRateLimiter } from './rate-limit.ts';
export { sessionCookies } from './auto-refresh.ts';
export type { AutoRefreshOptions } from './auto-refresh.ts';
export type { RequireAuthOptions, TokenVerifier } from './guard.ts';
export { Refusal } from './refusal.ts';
export { budgetAddress, canonicalAddress, createLoginProtection, resetFailures } from './login-protection.ts';
export type { LoginAttempt, LoginProtection, LoginProtectionOptions } from './login-protection.ts';
export { resourceMetadataDocument } from './resource-metadata.ts';
export type { ResourceMetadataOptions } from './resource-metadata.ts';
export { clientMetadataDocuments, withClientMetadataDocuments } from '../authz/client-metadata.ts';
export type { ClientMetadataOptions, ClientMetadataResolver } from '../authz/client-metadata.ts';
export type { RegistrationOptions } from '../authz/registration.ts';
export { memoryConsents } from '../authz/consent-store.ts';
export type { Consent, ConsentStore, Granted, MemoryConsentsOptions } from '../authz/consent-store.ts';
export { checkPage } from '../authz/context.ts';
export type { AuthorizationOptions, AuthorizationUser, PageOptions } from '../authz/context.ts';
export { checkRedirectUri } from '../authz/redirect-uri.ts';
export { checkProviderOptions, PROVIDER_PRESETS, upstreamProvider, UpstreamError } from '../upstream/provider.ts';
export type { ProviderPreset, UpstreamIdentity, UpstreamProvider, UpstreamProviderOptions, UpstreamTransaction } from '../upstream/provider.ts';
export type { ProviderUser, ProvidersOptions } from '../upstream/routes.ts';
export { appleClientSecret } from '../upstream/apple.ts';
export type { AppleClientSecretOptions } from '../upstream/apple.ts';
