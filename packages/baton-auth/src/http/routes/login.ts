/**
 * `POST /auth/login`: a username and password (JSON or form) → a token pair. The server decides
 * the scope (RFC 6749 §3.3): what was asked for, within what the user may have and what the
 * client may ask for; asking for more is `invalid_scope`. `resource` (RFC 8707) names the APIs the
 * session's tokens are for, among those the service knows and the client may ask for.
 */
import { grantScope, parseScope } from '../../core/scope.ts';
import { authenticateClient } from '../client-auth.ts';
import { isThirdParty } from '../clients.ts';
import type { ClientRecord } from '../clients.ts';
import type { DpopProof } from '../../dpop/proof.ts';
import { isBatonError } from '../../core/errors.ts';
import { loginProof, nonceHeaders } from '../../dpop/token-endpoint.ts';
import { grantedResources } from '../grant.ts';
import { checkCsrf, tokenResponse } from '../context.ts';
import { tooManyAttempts } from '../login-protection.ts';
import type { LoginAttempt } from '../login-protection.ts';
import type { HandlerContext, Route } from '../context.ts';
import { HttpError, readFields } from '../respond.ts';

export function login(c: HandlerContext): Route {
  return {
    /**
     * `HEAD /auth/login`: 204 with the DPoP nonce to sign the login's proof with (RFC 9449 §8.2: a
     * server may give a nonce in any answer, a successful one too). A browser page asks for it first,
     * so that its sign-in is not refused once with `use_dpop_nonce` (a 400 every console logs).
     */
    HEAD: async () => new Response(null, { status: 204, headers: { 'dpop-nonce': c.baton.dpopNonce(), 'cache-control': 'no-store' } }),
    POST: async (request, ctx) => {
      const f = await readFields(request, c.maxBodyBytes);
      if (!f.username || !f.password) throw new HttpError('ERR_INVALID_REQUEST', 'username and password are required');
      const client = await authenticateClient(c, request, f, ctx.ip ?? 'unknown');
      // RFC 9700 §2.4: a password is never handed to a third-party app — nor may one skip its consent
      // page through here. A client registered as one (redirect URIs and not first-party, dynamic
      // registration, a client ID metadata document, `firstParty: false`) signs users in with the
      // authorization code flow, on this service's own page.
      if (client.firstParty === false || isThirdParty(client))
        throw new HttpError('ERR_CLIENT_UNAUTHORIZED', `Client ${client.id.slice(0, 100)} is a third-party client: it signs users in through /oauth/authorize`);
      const ip = ctx.ip ?? 'unknown';
      const { proof, attempt } = await countedProof(c, request, client, f.username.toLowerCase(), ip);
      const who = await c.authenticate(f.username, f.password);
      if (who === null) {
        c.log?.info({ event: 'login.failed', ip }, 'login failed');
        c.baton.audit({ type: 'login.failed', username: f.username, client: client.id, ip, reason: 'bad_credentials' });
        const blocked = await attempt.failed();
        if (blocked > 0) throw tooManyAttempts(blocked);
        // RFC 9110 §15.5.2: a 401 carries a challenge. Not `Basic`, which would make a browser prompt.
        throw new HttpError('ERR_LOGIN_FAILED', 'Wrong username or password', { headers: { 'www-authenticate': 'Password realm="baton"' } });
      }
      await attempt.succeeded();
      const scope = grantScope(f.scope, parseScope(who.scope ?? ''), client.scopes);
      const resource = grantedResources(c, client, f.resource);
      const viaCookie = f.refresh_token_delivery === 'cookie';
      if (viaCookie) checkCsrf(c, request);
      // The proof is spent by the engine once everything else about the login is right, the per-user login budget included.
      const jkt = proof?.jkt;
      const pair = await c.baton.login(who.userId, {
        clientId: client.id,
        ...(proof === undefined ? {} : { proof }),
        scope,
        resource,
        device: { userAgent: (request.headers.get('user-agent') ?? '').slice(0, 256), ip, method: 'password' },
      });
      c.log?.info({ event: 'login', sid: pair.session_id, client: client.id }, 'login');
      c.baton.audit({
        type: 'login.succeeded',
        user: who.userId,
        username: f.username,
        session: pair.session_id,
        client: client.id,
        ip,
        scope,
        method: 'password',
      });
      return tokenResponse(c, pair, viaCookie, nonceHeaders(c, jkt));
    },
  };
}

/**
 * The login's DPoP proof (if any) and its attempt, counted against the login budget. The proof
 * before the password: its cheap checks (the nonce round) first, its signature only once the
 * attempt is counted, and a proof that fails then is a failed login — no hash.
 */
export async function countedProof(
  c: HandlerContext,
  request: Request,
  client: ClientRecord,
  username: string,
  ip: string,
  method: 'password' | 'passkey' = 'password',
): Promise<{ proof: DpopProof | undefined; attempt: LoginAttempt }> {
  // Only failures count, per username and address and per address; a refused attempt writes nothing.
  const count = async (): Promise<LoginAttempt> => {
    const attempt = await c.loginProtection.check(username, ip);
    if (attempt.retryAfterMs > 0) {
      c.log?.warn({ event: 'login.rate_limited', ip }, 'login rate limit');
      // A passkey's attempts are counted under a name of their own, which is no user's: not recorded as one.
      c.baton.audit({ type: 'login.throttled', ...(method === 'password' ? { username } : {}), client: client.id, ip, reason: 'too_many_failures', method });
      throw tooManyAttempts(attempt.retryAfterMs);
    }
    return attempt;
  };
  let counted: LoginAttempt | undefined;
  let proof: DpopProof | undefined;
  try {
    proof = await loginProof(c, request, client, async () => {
      counted = await count();
    });
  } catch (err) {
    if (counted === undefined || !isBatonError(err) || err.code !== 'ERR_DPOP_INVALID') throw err;
    const blocked = await counted.failed();
    throw blocked > 0 ? tooManyAttempts(blocked) : err;
  }
  return { proof, attempt: counted ?? (await count()) };
}
