/**
 * A protected route handler: item N (or `poll`, the client panel's call every second) for the
 * signed-in user. `baton.route` refreshes first when the proxy did not run (a client's fetch goes
 * through the proxy too), and adds the cookies and `Cache-Control: private, no-store` when it sets one.
 */
import { baton, userName } from '../../../../lib/baton';

export const GET = baton.route(async (_request, state) => {
  if (state.status === 'signed-in') {
    return Response.json({ name: await userName(state.claims.sub, state.accessToken) }, { headers: { 'cache-control': 'private, no-store' } });
  }
  return Response.json(
    { reason: state.reason, description: state.description },
    { status: state.status === 'unavailable' ? 503 : 401, headers: { 'cache-control': 'private, no-store' } },
  );
});
