/**
 * What a `load` and a form action ask of the session: its snapshot, a sign-in, a sign-out — each
 * on the session the handle linked to the request, each writing its cookies through `event.cookies`.
 */
import type { RequestEvent } from '@sveltejs/kit';
import { BatonError } from '../core/errors.ts';
import type { SessionSnapshot } from '../protocol/session-snapshot.ts';
import type { SessionState } from '../ssr/index.ts';
import { applyCookies, crossSite, currentCookie, linkOf, linkSession, sessionOf, setLocals } from './locals.ts';

/**
 * The session's snapshot for a layout's `load` (`src/routes/+layout.server.ts`): who is signed in
 * and until when, or why no one is — never a token, so it may go to the browser. The handle has
 * already refreshed, so this reads `event.locals.baton` and calls nothing.
 *
 * @example
 * ```ts
 * // src/routes/+layout.server.ts
 * import { batonLoad } from 'baton-auth/sveltekit';
 * export const load = (event) => ({ session: batonLoad(event) });
 * ```
 */
export function batonLoad(event: Pick<RequestEvent, 'locals'>): SessionSnapshot {
  sessionOf(event, 'batonLoad');
  return event.locals.baton.snapshot;
}

/** The text of a form field, or '' (a file or nothing). */
function field(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === 'string' ? value : '';
}

/**
 * Signs in from a form action with the form's `username` and `password` (or `form`, when the
 * action read the body already): the session's cookies go on the response, `event.locals.baton`
 * is the new state. A wrong password is the state `signed-out` with the service's sentence;
 * the token service away is `unavailable` (show it, and keep the form). A form posted from another
 * site is `signed-out` and calls nothing (login CSRF), even where SvelteKit's own origin check is
 * off (`vite dev`, `csrf.trustedOrigins`).
 *
 * @example
 * ```ts
 * // src/routes/login/+page.server.ts
 * import { fail, redirect } from '@sveltejs/kit';
 * import { batonSignIn } from 'baton-auth/sveltekit';
 *
 * export const actions = {
 *   default: async (event) => {
 *     const state = await batonSignIn(event);
 *     if (state.status !== 'signed-in') return fail(400, { message: state.description });
 *     redirect(303, '/');
 *   },
 * };
 * ```
 */
export async function batonSignIn(event: RequestEvent, form?: FormData): Promise<SessionState> {
  const session = sessionOf(event, 'batonSignIn');
  if (crossSite(event)) return setLocals(event, session, { status: 'signed-out', reason: null, description: 'A sign-in from another site is refused.' }).state;
  const data = form ?? (await event.request.formData());
  let ip: string | undefined;
  try {
    ip = event.getClientAddress();
  } catch {
    ip = undefined; // an adapter that cannot tell (a test, some platforms): the service counts by username alone
  }
  const { state, setCookies } = await session.signIn({
    username: field(data, 'username'),
    password: field(data, 'password'),
    ...(ip === undefined ? {} : { ip }),
  });
  applyCookies(event.cookies, setCookies);
  setLocals(event, session, state);
  return state;
}

/**
 * Signs out from a form action or an endpoint: the refresh token is revoked at the token service
 * (RFC 7009), both cookies are cleared, and `event.locals.baton` is `signed-out` with the reason
 * `logout`. A request from another site's page is refused (`ERR_ORIGIN_REFUSED`, 403) and changes
 * nothing, even where SvelteKit's own origin check is off (`vite dev`, `csrf.trustedOrigins`).
 */
export async function batonSignOut(event: RequestEvent): Promise<void> {
  const { session, now } = linkOf(event, 'batonSignOut');
  if (crossSite(event)) throw new BatonError('ERR_ORIGIN_REFUSED', 'A sign-out from another site is refused', { public: true });
  const { setCookies } = await session.signOut(currentCookie(event));
  applyCookies(event.cookies, setCookies);
  linkSession(event.locals, session, null, now);
  setLocals(event, session, { status: 'signed-out', reason: 'logout', description: 'Signed out' });
}
