'use client';
/**
 * The thinnest `BatonSessionProvider`/`useSession` the SSR contract describes, for this example
 * while `baton-auth-client/react` is not there: the server's snapshot first (no hydration
 * mismatch), then `{basePath}/session` again on focus, before it expires, and when asked.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import type { SessionSnapshot } from './session';

interface SessionValue {
  status: 'signed-in' | 'signed-out' | 'loading';
  user: { sub: string; name?: string } | null;
  reason: string | null;
  description: string | null;
  refresh(): Promise<void>;
  signOut(): Promise<void>;
}

const Context = createContext<SessionValue | null>(null);

export function BatonSessionProvider({ session, basePath = '/api/auth', children }: { session: SessionSnapshot; basePath?: string; children: ReactNode }) {
  const [snapshot, setSnapshot] = useState(session);
  useEffect(() => setSnapshot(session), [session]);
  const refresh = useCallback(async () => {
    const res = await fetch(`${basePath}/session`, { cache: 'no-store' });
    if (res.ok) setSnapshot((await res.json()) as SessionSnapshot);
  }, [basePath]);
  const signOut = useCallback(async () => {
    await fetch(`${basePath}/signout`, { method: 'POST' });
    await refresh();
  }, [basePath, refresh]);
  useEffect(() => {
    const onVisible = () => document.visibilityState === 'visible' && void refresh();
    document.addEventListener('visibilitychange', onVisible);
    const due = snapshot.status === 'signed-in' ? Math.max(1_000, snapshot.expiresAt - Date.now()) : undefined;
    const timer = due === undefined ? undefined : setTimeout(() => void refresh(), due);
    return () => {
      document.removeEventListener('visibilitychange', onVisible);
      clearTimeout(timer);
    };
  }, [snapshot, refresh]);
  const value = useMemo<SessionValue>(
    () =>
      snapshot.status === 'signed-in'
        ? {
            status: 'signed-in',
            user: { sub: snapshot.sub, ...(snapshot.name === undefined ? {} : { name: snapshot.name }) },
            reason: null,
            description: null,
            refresh,
            signOut,
          }
        : { status: 'signed-out', user: null, reason: snapshot.reason, description: snapshot.description, refresh, signOut },
    [snapshot, refresh, signOut],
  );
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(Context);
  if (value === null) throw new Error('useSession() needs a <BatonSessionProvider> above it.');
  return value;
}
