'use server';
import { redirect } from 'next/navigation';
import { baton, userName } from '../lib/baton';

/** The sign-in form's action: the service checks the password; the cookies are set on this origin. */
export async function signIn(_previous: string | null, formData: FormData): Promise<string | null> {
  const state = await baton.signIn(formData);
  if (state.status !== 'signed-in') return state.description;
  redirect('/');
}

export async function signOut(): Promise<void> {
  await baton.signOut();
  redirect('/');
}

/** A server action on the session: it may refresh (an action can write cookies), through the same single flight as the proxy. */
export async function recordActivity(): Promise<string> {
  return baton.withRefresh(async (state) => {
    if (state.status !== 'signed-in') return `Signed out: ${state.reason ?? 'not signed in'}`;
    return `Recorded for ${await userName(state.claims.sub, state.accessToken)} at ${new Date().toISOString()}`;
  });
}
