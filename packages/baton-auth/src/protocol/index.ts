/**
 * The protocol toolkit: the rules the library, the service and the client SDK share, written
 * once — the loopback rule, which URLs may carry a token, discovery with its issuer check,
 * audience matching, OAuth error descriptions. Import from `baton-auth/protocol`. Nothing here needs Node: the client SDK
 * bundles it for the browser.
 */
export { isLoopbackHost, LOOPBACK_NAMES, sameMachine } from './loopback.ts';
export { checkOrigins, isPlainHttpOffLoopback, isSecureUrl } from './origin.ts';
export { DiscoveryError, fetchMetadata, isRedirect, metadataUrls } from './discovery.ts';
export type { DiscoveryFailure, Metadata } from './discovery.ts';
export { namesAudience } from './audience.ts';
export { boundedText } from './bounded-text.ts';
export { peekText } from './lazy-request.ts';
export { escapeHtml } from './html.ts';
export { oauthDescription } from './oauth-error.ts';
export { parseSessionSnapshot } from './session-snapshot.ts';
export type { SessionSnapshot } from './session-snapshot.ts';
