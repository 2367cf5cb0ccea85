/** `POST /oauth/introspect` (RFC 7662): for authenticated confidential clients (resource servers) only (§2.1). */
import { authenticateClient } from '../client-auth.ts';
import type { HandlerContext, Route } from '../context.ts';
import { basicClientId, tooManyAttempts } from '../login-protection.ts';
import { HttpError, json, readFields } from '../respond.ts';

export function introspect(c: HandlerContext): Route {
  return {
    POST: async (request, ctx) => {
      const f = await readFields(request, c.maxBodyBytes);
      // Failed client authentication is throttled as failed logins are, per client and address.
      const attempt = await c.introspectionProtection.check(basicClientId(request.headers.get('authorization')) || (f.client_id ?? ''), ctx.ip ?? 'unknown');
      if (attempt.retryAfterMs > 0) throw tooManyAttempts(attempt.retryAfterMs);
      try {
        // A request naming no client must not pass as the (public) default client here.
        const named = f.client_id !== undefined || f.client_secret !== undefined || /^basic /i.test(request.headers.get('authorization') ?? '');
        const client = named ? await authenticateClient(request, f, c.clients, c.defaultClientId) : undefined;
        if (client?.type !== 'confidential') {
          throw new HttpError(401, 'invalid_client', 'Introspection is for confidential clients (client_secret_basic or client_secret_post)', { 'www-authenticate': 'Basic realm="baton", charset="UTF-8"' });
        }
      } catch (err) {
        if (!(err instanceof HttpError) || err.error !== 'invalid_client') throw err;
        const blocked = await attempt.failed();
        throw blocked > 0 ? tooManyAttempts(blocked) : err;
      }
      await attempt.succeeded();
      if (!f.token) throw new HttpError(400, 'invalid_request', 'token is required');
      return json(await c.baton.introspect(f.token));
    },
  };
}
