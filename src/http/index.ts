/**
 * The token service over HTTP. Import from `baton/http`.
 * @packageDocumentation
 */
export { createAuthHandler } from './handler.ts';
export type { AuthHandler, AuthHandlerOptions, Authenticate, Logger, RequestContext } from './handler.ts';
export { checkClientSecret, generateClientSecret, hashClientSecret, staticClients } from './clients.ts';
export type { ClientRecord, ClientRegistry, StaticClient } from './clients.ts';
export { StoreRateLimiter } from './rate-limit.ts';
export { createLoginProtection } from './login-protection.ts';
export type { LoginAttempt, LoginProtection, LoginProtectionOptions } from './login-protection.ts';
