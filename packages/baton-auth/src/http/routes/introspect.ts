/**
 * `POST /oauth/introspect` (RFC 7662): for authenticated confidential clients only (§2.1). A
 * resource server registered to introspect (`introspect: true`) sees any token; any other
 * confidential client sees only its own, and `{ active: false }` for the rest (§2.2 leaves the
 * policy to the server).
 */
import { authenticateClient, invalidClient } from '../client-auth.ts';
import type { HandlerContext, Route } from '../context.ts';
import { HttpError, json, readFields } from '../respond.ts';

export function introspect(c: HandlerContext): Route {
  return {
    POST: async (request, ctx) => {
      const f = await readFields(request, c.maxBodyBytes);
      // A request naming no client must not pass as the (public) default client here.
      const named = f.client_id !== undefined || f.client_secret !== undefined || /^basic /i.test(request.headers.get('authorization') ?? '');
      const client = named ? await authenticateClient(c, request, f, ctx.ip ?? 'unknown') : undefined;
      if (client?.type !== 'confidential') {
        throw invalidClient('Introspection is for confidential clients (client_secret_basic or client_secret_post)');
      }
      if (!f.token) throw new HttpError('ERR_INVALID_REQUEST', 'token is required');
      const answer = await c.baton.introspect(f.token);
      return json(answer.active && client.introspect !== true && answer.client_id !== client.id ? { active: false } : answer);
    },
  };
}
