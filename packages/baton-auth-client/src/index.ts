/**
 * The client SDK. Import from `baton-auth-client` (browsers and Node); Node's file storage from
 * `baton-auth-client/node`.
 * @packageDocumentation
 */
export { createTokenClient, TokenClient } from './client.ts';
export { BatonClientError, NotSignedInError, SessionEndedError, SignInError, TransientRefreshError } from './errors.ts';
export type { BatonClientErrorCode } from './errors.ts';
export { memoryStorage } from './storage.ts';
export { deviceName, sessionEndMessage } from './session-end.ts';
export type { ClientWarning, SessionEnd, StoredTokens, TokenClientEvents, TokenClientOptions, TokenResponse, TokenStorage } from './types.ts';
export type { AuthenticatedSocket, WebSocketOptions } from './websocket.ts';
export { browserStorage, DPOP_KEY_DB, DPOP_KEY_STORE } from './browser.ts';
export { generateDpopKeyPair } from './dpop.ts';
export type { BrowserStorageOptions } from './browser.ts';
export { axiosInterceptors } from './axios.ts';
export { completeSignIn, PENDING_SIGN_IN_KEY, signInWithRedirect } from './redirect.ts';
export type { RedirectSignInOptions } from './redirect.ts';
export type { CodeFlowOptions, CodeSignIn } from './code-flow.ts';
export { AuthorizationError } from './errors.ts';
