/**
 * `POST /auth/login`: a username and password (JSON or form) → a token pair. The server decides
 * the scope (RFC 6749 §3.3): what was asked for, within what the user may have and what the
 * client may ask for; asking for more is `invalid_scope`.
 */
import { grantScope, parseScope } from '../../core/scope.ts';
import { authenticateClient } from '../client-auth.ts';
import { checkCsrf, tokenResponse } from '../context.ts';
import type { HandlerContext, Route } from '../context.ts';
import { HttpError, readFields } from '../respond.ts';

export function login(c: HandlerContext): Route {
  return {
    POST: async (request, ctx) => {
      const f = await readFields(request, c.maxBodyBytes);
      if (!f.username || !f.password) throw new HttpError(400, 'invalid_request', 'username and password are required');
      const client = await authenticateClient(request, f, c.clients, c.defaultClientId);
      const ip = ctx.ip ?? 'unknown';
      const userKey = f.username.toLowerCase().slice(0, 256);
      try {
        await Promise.all([c.limiters.username.consume(userKey), c.limiters.ip.consume(ip)]);
      } catch (rejection) {
        const ms = (rejection as { msBeforeNext?: number }).msBeforeNext;
        if (ms === undefined) throw rejection;
        c.log?.warn({ event: 'login.rate_limited', ip }, 'login rate limit');
        throw new HttpError(429, 'slow_down', 'Too many login attempts; try again later', { 'retry-after': String(Math.ceil(ms / 1000)) });
      }
      const who = await c.authenticate(f.username, f.password);
      if (who === null) {
        c.log?.info({ event: 'login.failed', ip }, 'login failed');
        throw new HttpError(401, 'invalid_grant', 'Wrong username or password');
      }
      await c.limiters.username.delete(userKey).catch(() => undefined);
      const scope = grantScope(f.scope, parseScope(who.scope ?? ''), client.scopes);
      const viaCookie = f.refresh_token_delivery === 'cookie';
      if (viaCookie) checkCsrf(c, request);
      const pair = await c.baton.login(who.userId, {
        clientId: client.id,
        scope,
        device: { userAgent: (request.headers.get('user-agent') ?? '').slice(0, 256), ip },
      });
      c.log?.info({ event: 'login', sid: pair.session_id, client: client.id }, 'login');
      return tokenResponse(c, pair, viaCookie);
    },
  };
}
