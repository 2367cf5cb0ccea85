/**
 * React 19 bindings for a server-rendered app (Next.js, or any server that renders a
 * `SessionSnapshot`): `BatonSessionProvider`, `useSession()`, `useAccessToken()`. Import from
 * `baton-auth-client/react`; `react` is an optional peer dependency of `baton-auth-client`.
 * @packageDocumentation
 */
// A client module (the React Server Components boundary): a server layout renders the provider with the session it read.
'use client';

export { BatonSessionProvider, useAccessToken, useSession } from './provider.ts';
export type { AccessToken, BatonSessionProviderProps } from './provider.ts';
export type { SessionValue } from './session-store.ts';
export type { SessionSnapshot } from 'baton-auth/protocol';
