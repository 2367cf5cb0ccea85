/**
 * `POST /oauth/token`, the refresh grant (RFC 6749 §6): the refresh token from the body, or from
 * the HttpOnly cookie of a browser (then only from an allowed origin), bound to the client that
 * presents it; `scope` may narrow the new access token.
 */
import { authenticateClient } from '../client-auth.ts';
import { checkCsrf, clearCookie, tokenResponse } from '../context.ts';
import type { HandlerContext, Route } from '../context.ts';
import { cookieValue } from '../cookies.ts';
import { fromBatonError, HttpError, readFields } from '../respond.ts';

export function token(c: HandlerContext): Route {
  return {
    POST: async (request, ctx) => {
      const f = await readFields(request, c.maxBodyBytes);
      if (f.grant_type === undefined) throw new HttpError(400, 'invalid_request', 'grant_type is required');
      if (f.grant_type !== 'refresh_token') throw new HttpError(400, 'unsupported_grant_type', 'Only the refresh_token grant is supported');
      const client = await authenticateClient(c, request, f, ctx.ip ?? 'unknown');
      const fromCookie = f.refresh_token === undefined ? cookieValue(request.headers.get('cookie'), c.cookie.name) : undefined;
      const presented = f.refresh_token ?? fromCookie;
      if (!presented) throw new HttpError(400, 'invalid_request', 'refresh_token is required (in the body or the cookie)');
      if (fromCookie !== undefined) checkCsrf(c, request);
      try {
        const pair = await c.baton.refresh(presented, { clientId: client.id, ...(f.scope === undefined ? {} : { scope: f.scope }), ...(ctx.ip === undefined ? {} : { ip: ctx.ip }) });
        return tokenResponse(c, pair, fromCookie !== undefined);
      } catch (err) {
        const http = fromBatonError(err);
        // A dead refresh cookie is cleared; a store outage keeps it (nothing was lost).
        if (fromCookie !== undefined && http.error === 'invalid_grant') http.headers['set-cookie'] = clearCookie(c);
        throw http;
      }
    },
  };
}
