/**
 * `baton-auth/ssr`: the session of a server-rendered app (Next.js, SvelteKit, any framework that
 * speaks Web `Request`/`Headers`), against the standalone service or a `Baton` in this process.
 * The framework adapters (`baton-auth/next`, `baton-auth/sveltekit`) are built on it.
 */
export { createServerSession } from './session.ts';
export type { RefreshOutcome, ServerSession } from './session.ts';
export { fromOurPages } from './our-pages.ts';
export { noStore } from './state.ts';
export type { CookieSettings, InProcessSessionOptions, RemoteSessionOptions, ServerDpopKey, ServerSessionOptions, SessionState } from './types.ts';
export type { SessionSnapshot } from '../protocol/session-snapshot.ts';
