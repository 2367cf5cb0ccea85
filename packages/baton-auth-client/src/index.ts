/**
 * The client SDK. Import from `baton-auth-client` (browsers and Node); Node's file storage from
 * `baton-auth-client/node`.
 * @packageDocumentation
 */
export { createTokenClient, memoryStorage, SessionExpiredError, TokenClient, TransientRefreshError } from './client.ts';
export type { StoredTokens, TokenClientEvents, TokenClientOptions, TokenResponse, TokenStorage } from './client.ts';
export { browserStorage } from './browser.ts';
export type { BrowserStorageOptions } from './browser.ts';
export { axiosInterceptors } from './axios.ts';
