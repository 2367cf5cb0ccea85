/**
 * `GET|POST /oauth/userinfo` (OpenID Connect Core 1.0 §5.3): the claims about the user that the
 * access token's scope grants, to the client that holds the token.
 */
import { bearer } from '../http/context.ts';
import { checkTokenClientOrigin, refuseNonClientOrigin } from './client-origin.ts';
import type { HandlerContext, Route } from '../http/context.ts';
import { isDpopScheme } from '../dpop/scheme.ts';
import { challenge } from '../http/refusal.ts';
import { json } from '../http/respond.ts';

/** The application's claims of a user for the granted scopes (`AuthorizationOptions.claims`). */
export type ClaimsSource = (userId: string, scope: readonly string[]) => Promise<Record<string, unknown>>;

/** The scheme the request presented its token with: a refusal's challenge must be of that scheme (RFC 9449 §7.1). */
function schemeOf(request: Request): { scheme?: 'DPoP' } {
  const authorization = request.headers.get('authorization') ?? '';
  const space = authorization.indexOf(' ');
  return isDpopScheme(space < 0 ? authorization : authorization.slice(0, space)) ? { scheme: 'DPoP' } : {};
}

/**
 * The UserInfo endpoint. The access token is taken as `/auth/me` takes it (`bearer`: the
 * `Authorization` header, Bearer or DPoP with its proof, a user's session; never from the query
 * or the body); a token without `openid` in its scope is 403 `insufficient_scope` (OIDC Core
 * §5.3.3, RFC 6750 §3.1). The answer is `{ sub, ...claims }` (§5.3.2), `claims` being what
 * `claims(userId, scope)` returns for the token's scope; it never replaces `sub`, which must be
 * the ID token's (§5.3.4). `Cache-Control: no-store`: the answer is personal.
 */
export function userinfo(c: HandlerContext, claims: ClaimsSource | undefined): Route {
  const serve = async (request: Request): Promise<Response> => {
    refuseNonClientOrigin(c, request);
    const token = await bearer(c, request);
    if (token instanceof Response) return token;
    await checkTokenClientOrigin(c, request, token.client_id);
    const scope = (token.scope ?? '').split(' ').filter((s) => s !== '');
    if (!scope.includes('openid')) {
      const refusal = challenge(403, 'insufficient_scope', 'The UserInfo endpoint needs an access token with the scope openid', {
        scope: 'openid',
        ...schemeOf(request),
      });
      return json(refusal.body, refusal.status, refusal.headers);
    }
    const extra = claims === undefined ? {} : await claims(token.sub, scope);
    const body: Record<string, unknown> = typeof extra === 'object' && extra !== null && !Array.isArray(extra) ? { ...extra } : {};
    delete body.sub;
    return json({ sub: token.sub, ...body });
  };
  return { GET: serve, POST: serve };
}
