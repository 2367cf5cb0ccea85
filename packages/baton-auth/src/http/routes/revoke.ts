/**
 * `POST /oauth/revoke` (RFC 7009): 200 for any token, unknown ones included (§2.2); a refresh
 * token ends its session, an access token its `jti`. Only the client the token was issued to
 * revokes it (§2.1); another client's token is answered as an unknown one — 200, nothing revoked —
 * so that the answer does not tell whether a token is live. No DPoP proof is needed, bound tokens
 * included (RFC 7009 asks none, and standard clients send none); with one that is not valid or not
 * by the token's key nothing is revoked. The answer is 200 in every case (§2.2): a refusal of the
 * proof would tell a genuine token, live or not, from a forged one, and the caller's own client
 * learns nothing it needs from it (a client with its key always succeeds).
 */
import { isBatonError } from '../../core/errors.ts';
import { readClientFields } from '../../authz/client-origin.ts';
import { authenticateClient } from '../client-auth.ts';
import type { HandlerContext, Route } from '../context.ts';
import { serviceUrls } from '../urls.ts';
import { HttpError } from '../respond.ts';

export function revoke(c: HandlerContext): Route {
  return {
    POST: async (request, ctx) => {
      const f = await readClientFields(c, request);
      const client = await authenticateClient(c, request, f, ctx.ip ?? 'unknown');
      if (!f.token) throw new HttpError('ERR_INVALID_REQUEST', 'token is required');
      // The engine looks at a proof only for a token worth it, and at its signature last.
      const proof = request.headers.get('dpop');
      try {
        await c.baton.revoke(f.token, {
          clientId: client.id,
          ...(proof === null ? {} : { dpop: { proof, method: request.method, url: serviceUrls(c, request) } }),
        });
      } catch (err) {
        // Another client's token (ERR_INVALID_ARGUMENT) and a proof that is not the token's
        // (ERR_DPOP_INVALID) revoke nothing and are answered as an unknown token (§2.2).
        if (!isBatonError(err) || (err.code !== 'ERR_INVALID_ARGUMENT' && err.code !== 'ERR_DPOP_INVALID')) throw err;
      }
      return new Response(null, { status: 200, headers: { 'cache-control': 'no-store' } });
    },
  };
}
