/**
 * Baton sessions in a SvelteKit app (a backend-for-frontend: the app's server holds the tokens in
 * two HttpOnly cookies; the browser never sees one). Import from `baton-auth/sveltekit`.
 *
 * - `createBatonHandle(options)` in `src/hooks.server.ts`: refreshes once per request at most, sets
 *   `event.locals.baton`, writes the cookies with `Cache-Control: private, no-store`.
 * - `batonLoad(event)` in a layout's `load`: the session's snapshot (no token) for the page.
 * - `batonSignIn(event)`, `batonSignOut(event)` in form actions.
 * - `batonEndpoints()` as `src/routes/api/auth/[...baton]/+server.ts`: `GET session`, `GET token`, `POST signout`.
 *
 * @example
 * ```ts
 * // src/hooks.server.ts
 * import { createBatonHandle } from 'baton-auth/sveltekit';
 * export const handle = createBatonHandle({ issuer: 'https://auth.example.com', clientId: 'web' });
 * ```
 */
export { createBatonHandle } from './handle.ts';
export type { BatonHandle } from './handle.ts';
export { batonLoad, batonSignIn, batonSignOut } from './actions.ts';
export { batonEndpoints } from './endpoints.ts';
export type { EndpointsOptions } from './endpoints.ts';
export type { BatonLocals } from './locals.ts';
export type { ServerSessionOptions, SessionState } from '../ssr/index.ts';
export type { SessionSnapshot } from '../protocol/session-snapshot.ts';
