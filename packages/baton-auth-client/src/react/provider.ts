/**
 * The React side: `BatonSessionProvider` holds one `SessionStore` for its life; `useSession()` and
 * `useAccessToken()` read it through `useSyncExternalStore`, whose server snapshot is the
 * session the server rendered — so the first client render, while hydrating, is the server's
 * exactly, and anything newer is a render after it, never a mismatch.
 */
import { createContext, createElement, useContext, useEffect, useState, useSyncExternalStore } from 'react';
import type { ReactNode } from 'react';
import type { SessionSnapshot } from 'baton-auth/protocol';
import { BatonClientError } from '../errors.ts';
import { SessionStore } from './session-store.ts';
import type { SessionValue } from './session-store.ts';

/** Props of `BatonSessionProvider`. */
export interface BatonSessionProviderProps {
  /**
   * The session the server rendered (`session()` of `baton-auth/next`, `snapshot()` of
   * `baton-auth/ssr`), the same value on the server and in the browser. Without it the status is
   * `loading` until `{basePath}/session` answers.
   */
  session?: SessionSnapshot | undefined;
  /** Where the auth routes are mounted, on this origin. Default `/api/auth`. Read once, when the provider mounts. */
  basePath?: string;
  /** The tabs' channel and lock name (one per app on an origin). Default `baton-session:` and the base path. */
  name?: string;
  children?: ReactNode;
}

/** What `useAccessToken()` returns. */
export interface AccessToken {
  /**
   * An access token for calls to other APIs: the one held while it has a second of life left
   * (the same promise each time, so `use(getToken())` works under Suspense), else one fetch of
   * `{basePath}/token` — one at a time in this tab and across the tabs of the origin. Rejects with
   * `NotSignedInError` or `SessionEndedError` (with the reason) once the session says nobody is
   * signed in, with `TransientRefreshError` when the route cannot be reached.
   */
  getToken(): Promise<string>;
  /** The token held now (renewed before it ends while the provider is mounted), or null; always null on the server and while hydrating. */
  token: string | null;
  /**
   * `fetch` with the token as `Authorization: Bearer` — for your APIs only: the token goes to the
   * URL given. A 401 re-reads the session: signed out, the 401 is answered and `useSession()` says
   * why; still signed in, the refused token is dropped in every tab and the request sent once more
   * with a new one.
   */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
}

const SessionContext = createContext<SessionStore | null>(null);

/** Holds the session the server rendered and keeps it current: put it at the root of the client tree. */
export function BatonSessionProvider(props: BatonSessionProviderProps): ReactNode {
  const basePath = props.basePath ?? '/api/auth';
  const [store] = useState(() => new SessionStore({ session: props.session, basePath, name: props.name ?? `baton-session:${basePath}` }));
  useEffect(() => {
    store.start();
    return () => store.stop();
  }, [store]);
  // A newer server render (a navigation, router.refresh()) brings a newer snapshot: taken after the commit.
  // Keyed by its content, not its identity (a server component makes a new object each render).
  const key = JSON.stringify(props.session ?? null);
  useEffect(() => {
    if (props.session !== undefined) store.adopt(props.session);
  }, [store, key]);
  return createElement(SessionContext.Provider, { value: store }, props.children);
}

function useStore(hook: string): SessionStore {
  const store = useContext(SessionContext);
  if (store === null)
    throw new BatonClientError('ERR_CONFIG', `${hook} is used outside <BatonSessionProvider>: put the provider at the root of the client tree.`);
  return store;
}

/** The session: its status, user, the reason it ended, and `refresh()` / `signOut()`. */
export function useSession(): SessionValue {
  const store = useStore('useSession()');
  return useSyncExternalStore(store.subscribe, store.getValue, store.getServerValue);
}

/** An access token for client-side calls to other APIs, kept in memory only. Fetches one when mounted while signed in. */
export function useAccessToken(): AccessToken {
  const store = useStore('useAccessToken()');
  const token = useSyncExternalStore(store.subscribe, store.getTokenValue, () => null);
  const status = useSyncExternalStore(
    store.subscribe,
    () => store.getValue().status,
    () => store.getServerValue().status,
  );
  useEffect(() => {
    // Strict Mode runs this twice: the second call shares the first's fetch.
    if (status === 'signed-in' && store.tokens.token === null) store.getToken().catch(() => undefined);
  }, [store, status]);
  return { getToken: store.getToken, token, fetch: store.fetch };
}
