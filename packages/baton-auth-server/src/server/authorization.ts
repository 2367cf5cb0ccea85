/**
 * The service's authorization server: the hosted pages' look, consents kept in the store, the
 * OpenID Connect claims of its users, RFC 7591 registration and client ID metadata documents, as
 * `createAuthHandler`'s `authorization` option.
 */
import type { Baton, BatonStore } from 'baton-auth';
import type { AuthorizationOptions } from 'baton-auth/http';
import { storeConsents } from './consents.ts';
import type { ServerConfig } from './config.ts';
import { users } from './users.ts';

/** OpenID Connect claims (Core §5.4): `preferred_username` with the `profile` scope. */
export function serviceClaims(store: BatonStore): NonNullable<AuthorizationOptions['claims']> {
  return async (userId, scope) => {
    if (!scope.includes('profile')) return {};
    const name = await users.nameOf(store, userId);
    return name === undefined ? {} : { preferred_username: name };
  };
}

/** The `authorization` option of the service's handler. */
export function authorizationOf(config: ServerConfig, store: BatonStore, baton: Baton): AuthorizationOptions {
  const options: AuthorizationOptions = {
    page: config.page,
    consents: storeConsents(store),
    claims: serviceClaims(store),
    claimsSupported: ['preferred_username'],
  };
  // Registrations per address counted in the store, on the engine's clock (shared by instances).
  if (config.registration !== undefined) options.registration = { maxClients: config.registration.maxClients, store, now: () => baton.now() };
  // The hosted sign-in page's passkey script, served beside the web page (page.ts).
  if (config.passkeys !== undefined) options.passkeyScript = `${new URL(config.issuer).pathname.replace(/\/$/, '')}/passkey-sign-in.js`;
  if (config.clientMetadataHosts.length > 0) options.clientMetadataDocuments = { hosts: config.clientMetadataHosts };
  return options;
}
