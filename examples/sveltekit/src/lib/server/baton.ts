/** The app's Baton session: the standalone service at BATON_ISSUER (default http://127.0.0.1:3000). */
import { createBatonHandle } from 'baton-auth/sveltekit';

const env = process.env;

export const issuer = env.BATON_ISSUER ?? 'http://127.0.0.1:3000';

export const handle = createBatonHandle({
  issuer,
  // The service's own public client; a confidential one adds `clientSecret`.
  clientId: env.BATON_CLIENT_ID ?? 'default',
  // With the service's BATON_INTROSPECTION_SECRET, the app follows its revocation feed: a session
  // revoked there (`baton sessions revoke`) is refused here within a second.
  ...(env.BATON_INTROSPECTION_SECRET ? { introspection: { clientId: 'resource-server', clientSecret: env.BATON_INTROSPECTION_SECRET } } : {}),
  // Secure cookies (named __Host-…) once the app is served over https; plain http on loopback for the example.
  cookies: { secure: (env.ORIGIN ?? '').startsWith('https:') },
  // Refresh this many seconds before the access token ends (default 10, at most half its life).
  ...(env.BATON_REFRESH_LEEWAY ? { refreshLeewaySec: Number(env.BATON_REFRESH_LEEWAY) } : {}),
});
