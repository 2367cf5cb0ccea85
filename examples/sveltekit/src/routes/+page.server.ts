import { fail } from '@sveltejs/kit';
import { batonSignOut } from 'baton-auth/sveltekit';
import type { Actions, PageServerLoad } from './$types';

/** Parts of the page, each fetched from a protected endpoint, all at once (the render's authenticated fetches). */
const PARTS = 20;
const touches = new Map<string, number>();

export const load: PageServerLoad = async ({ locals, fetch, url }) => {
  // Read, so that a client-side navigation to `/?again=…` runs this load again (SvelteKit tracks what a load reads).
  const rendered = Number(url.searchParams.get('again') ?? 0) + 1;
  if (locals.baton.state.status !== 'signed-in') return { parts: [], name: null, rendered };
  // event.fetch: the handle's new cookies (if it just refreshed) go with each call, which then only verifies.
  const [me, ...parts] = await Promise.all([
    fetch('/api/me').then((r) => r.json() as Promise<{ name?: string }>),
    ...Array.from({ length: PARTS }, (_, part) => fetch(`/api/items?part=${part}`).then((r) => r.json() as Promise<{ part?: number; error?: string }>)),
  ]);
  return { name: me.name ?? null, parts, rendered };
};

export const actions: Actions = {
  /** A server action that needs the session: counts the user's touches. */
  touch: async ({ locals }) => {
    const { state } = locals.baton;
    if (state.status !== 'signed-in')
      return fail(401, { message: `Signed out: ${state.status === 'signed-out' ? (state.reason ?? 'not signed in') : 'unavailable'}` });
    const count = (touches.get(state.claims.sub) ?? 0) + 1;
    touches.set(state.claims.sub, count);
    return { touched: count };
  },
  signout: async (event) => {
    await batonSignOut(event);
  },
};
