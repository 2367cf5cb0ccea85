/**
 * A protected endpoint: one part of the page (`?part=N`), or the client poller's call (`?part=poll`).
 * The handle already verified (and, when it had to, refreshed) the session: this only reads `locals`.
 */
import { json } from '@sveltejs/kit';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async ({ locals, url }) => {
  const { state } = locals.baton;
  const part = url.searchParams.get('part');
  if (state.status === 'unavailable') return json({ part, error: 'temporarily_unavailable' }, { status: 503 });
  if (state.status !== 'signed-in') return json({ part, error: 'invalid_token', reason: state.reason }, { status: 401 });
  return json({ part: part === 'poll' ? part : Number(part), sub: state.claims.sub });
};
