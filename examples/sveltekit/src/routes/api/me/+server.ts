/** Who is signed in, by name: the token service's `/auth/me` with the session's access token (remembered per user). */
import { json } from '@sveltejs/kit';
import { issuer } from '#lib/server/baton.ts';
import type { RequestHandler } from './$types';

const names = new Map<string, string>();

export const GET: RequestHandler = async ({ locals }) => {
  const { state } = locals.baton;
  if (state.status !== 'signed-in') return json({ error: 'invalid_token' }, { status: 401 });
  let name = names.get(state.claims.sub);
  if (name === undefined) {
    const res = await fetch(new URL('auth/me', issuer.endsWith('/') ? issuer : `${issuer}/`), {
      headers: { authorization: `Bearer ${state.accessToken}` },
      signal: AbortSignal.timeout(5000),
    }).catch(() => undefined);
    if (res === undefined) return json({ error: 'upstream', status: 504 }, { status: 502 });
    if (!res.ok) return json({ error: 'upstream', status: res.status }, { status: 502 });
    const me = (await res.json()) as { username?: string };
    name = me.username ?? state.claims.sub;
    if (names.size >= 1000) names.clear();
    names.set(state.claims.sub, name);
  }
  return json({ sub: state.claims.sub, name });
};
