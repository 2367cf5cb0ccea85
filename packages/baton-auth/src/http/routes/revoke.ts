/**
 * `POST /oauth/revoke` (RFC 7009): 200 for any token, unknown ones included (§2.2); a refresh
 * token ends its session, an access token its `jti`. The client must be the one the token was
 * issued to (§2.1).
 */
import { authenticateClient } from '../client-auth.ts';
import type { HandlerContext, Route } from '../context.ts';
import { revocationProofKey } from '../dpop.ts';
import { HttpError, readFields } from '../respond.ts';

export function revoke(c: HandlerContext): Route {
  return {
    POST: async (request, ctx) => {
      const f = await readFields(request, c.maxBodyBytes);
      const client = await authenticateClient(c, request, f, ctx.ip ?? 'unknown');
      if (!f.token) throw new HttpError(400, 'invalid_request', 'token is required');
      // A bound refresh token is revoked only with a proof by its key; no nonce is asked for here.
      const jkt = await revocationProofKey(c, request, client, ctx.ip ?? 'unknown');
      await c.baton.revoke(f.token, { clientId: client.id, ...(jkt === undefined ? {} : { jkt }) });
      return new Response(null, { status: 200, headers: { 'cache-control': 'no-store' } });
    },
  };
}
