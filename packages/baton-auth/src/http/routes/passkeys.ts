/**
 * Passkeys over HTTP (`createAuthHandler`'s `passkeys` option, made by `baton-auth/passkeys`).
 * A signed-in user's own, with a Bearer (or DPoP) access token of the account's apps:
 * `GET /auth/passkeys`, `POST /auth/passkeys/registration-options` and `/auth/passkeys/registration`,
 * `PATCH` and `DELETE /auth/passkeys/{id}`. Anyone's: `POST /auth/passkeys/sign-in-options` (writes
 * nothing) and `POST /auth/passkeys/sign-in` (a token pair, as `/auth/login` answers).
 *
 * Each ceremony's state (its sealed challenge) is kept in an HttpOnly, SameSite=Strict cookie of
 * this host, so an answer counts only from the browser that asked. Every route here is refused
 * cross-site by the handler (`refuseCrossSite`); the user's own need the access token in a
 * header, which no other site's page can send.
 */
import { isThirdParty } from '../clients.ts';
import { accountBearer, checkCsrf, tokenResponse } from '../context.ts';
import type { HandlerContext, RequestContext, Route } from '../context.ts';
import { cookieValue } from '../cookies.ts';
import { authenticateClient } from '../client-auth.ts';
import { grantScope } from '../../core/scope.ts';
import { BatonError, isBatonError } from '../../core/errors.ts';
import { grantedResources } from '../grant.ts';
import { tooManyAttempts } from '../login-protection.ts';
import type { LoginAttempt } from '../login-protection.ts';
import { HttpError, json, readFields } from '../respond.ts';
import { nonceHeaders } from '../../dpop/token-endpoint.ts';
import { pageCookie, pageCookieName } from '../../authz/transaction.ts';
import { countedProof } from './login.ts';
import type { Passkeys } from '../../passkeys/types.ts';

/** The cookie of a ceremony's state: `__Host-baton_webauthn` (or `baton_webauthn` on a plain-http loopback issuer). */
const STATE = 'baton_webauthn';

/** `Set-Cookie` of a ceremony's state, for as long as its challenge lives (5 minutes at most matters: the seal expires on its own). */
export const stateCookie = (c: HandlerContext, state: string): string => pageCookie(c, STATE, state, { sameSite: 'Strict', maxAgeSec: 600 });
export const clearStateCookie = (c: HandlerContext): string => pageCookie(c, STATE, '', { sameSite: 'Strict', maxAgeSec: 0 });
export const stateOf = (c: HandlerContext, request: Request): string => cookieValue(request.headers.get('cookie'), pageCookieName(c, STATE)) ?? '';

/**
 * The name passkey sign-ins are counted under, per address, by the login protection: no username
 * can be it (`#`), so a user's password failures and passkey failures never share a count.
 */
export const PASSKEY_ATTEMPTS = '#passkey';

/**
 * The name an answer's attempt is counted under: `#passkey:<user id>` for the user its user handle
 * names, as a password's is under its username — so failures from an address many people share
 * (a carrier's NAT, an office) block that user's passkeys there, not everyone's; `#passkey` for an
 * answer without a user handle. The address's own budget bounds them all.
 */
export function passkeyAttemptName(response: unknown): string {
  const handle = (response as { response?: { userHandle?: unknown } } | null)?.response?.userHandle;
  if (typeof handle !== 'string' || handle.length > 172) return PASSKEY_ATTEMPTS;
  const id = Buffer.from(handle, 'base64url').toString('utf8');
  return /^[\x21-\x7e]{1,128}$/.test(id) ? `${PASSKEY_ATTEMPTS}:${id}` : PASSKEY_ATTEMPTS;
}

/** The browser's answer, posted as a JSON string in the field `credential`. */
export function credentialOf(f: Record<string, string>): unknown {
  if (f.credential === undefined) throw new HttpError('ERR_INVALID_REQUEST', 'credential is required: the browser’s answer, as JSON');
  try {
    return JSON.parse(f.credential);
  } catch {
    throw new HttpError('ERR_INVALID_REQUEST', 'credential must be the browser’s answer as JSON');
  }
}

/** The passkeys, or 404 when the handler has none. */
function on(c: HandlerContext): Passkeys {
  if (c.passkeys === undefined) throw new HttpError('ERR_NOT_FOUND', 'No such endpoint');
  return c.passkeys;
}

/** `GET /auth/passkeys`: the user's passkeys. */
export function passkeyList(c: HandlerContext): Route {
  return {
    GET: async (request) => {
      const claims = await accountBearer(c, request);
      if (claims instanceof Response) return claims;
      return json({ passkeys: await on(c).list(claims.sub), max: on(c).maxPerUser });
    },
  };
}

/** `POST /auth/passkeys/registration-options`: options for `startRegistration`, the state in a cookie bound to this session. */
export function registrationOptions(c: HandlerContext): Route {
  return {
    POST: async (request) => {
      const claims = await accountBearer(c, request);
      if (claims instanceof Response) return claims;
      const name = (await c.username?.(claims.sub)) ?? claims.sub;
      const { options, state } = await on(c).registrationOptions({ id: claims.sub, name }, claims.sid);
      return json(options, 200, { 'set-cookie': stateCookie(c, state) });
    },
  };
}

/** `POST /auth/passkeys/registration`: `credential` (the browser's answer, JSON) and `name` → the new passkey. */
export function registration(c: HandlerContext): Route {
  return {
    POST: async (request, ctx) => {
      const claims = await accountBearer(c, request);
      if (claims instanceof Response) return claims;
      const f = await readFields(request, c.maxBodyBytes);
      const passkey = await on(c).register({ id: claims.sub }, credentialOf(f), stateOf(c, request), {
        bind: claims.sid,
        ...(f.name ? { name: f.name } : {}),
        ...(ctx.ip ? { ip: ctx.ip } : {}),
      });
      return json(passkey, 201, { 'set-cookie': clearStateCookie(c) });
    },
  };
}

/** `PATCH /auth/passkeys/{id}` (`name`) and `DELETE /auth/passkeys/{id}`. */
export function passkey(c: HandlerContext): Route {
  return {
    PATCH: async (request, _ctx, [id]) => {
      const claims = await accountBearer(c, request);
      if (claims instanceof Response) return claims;
      const f = await readFields(request, c.maxBodyBytes);
      return json(await on(c).rename(claims.sub, id ?? '', f.name ?? ''));
    },
    DELETE: async (request, _ctx, [id]) => {
      const claims = await accountBearer(c, request);
      if (claims instanceof Response) return claims;
      if (!(await on(c).remove(claims.sub, id ?? ''))) throw new HttpError('ERR_NOT_FOUND', 'There is no such passkey');
      return new Response(null, { status: 204 });
    },
  };
}

/** `POST /auth/passkeys/sign-in-options`: options for `startAuthentication`, the state in a cookie; no row is written. */
export function signInOptions(c: HandlerContext): Route {
  return {
    POST: async () => {
      const { options, state } = await on(c).signInOptions();
      return json(options, 200, { 'set-cookie': stateCookie(c, state) });
    },
  };
}

/**
 * Checks a passkey sign-in's answer under the handler's login protection: failures counted per
 * address (as a username's are at `/auth/login`), a blocked address refused before any signature
 * is checked. The user whose passkey signed it, or a `BatonError`.
 */
export async function passkeySignIn(
  c: HandlerContext,
  request: Request,
  f: Record<string, string>,
  ip: string,
  client: string,
  counted?: LoginAttempt,
): Promise<string> {
  const passkeys = on(c);
  const response = credentialOf(f);
  // One attempt, counted once (`/auth/passkeys/sign-in` counted it with its DPoP proof).
  const attempt = counted ?? (await c.loginProtection.check(passkeyAttemptName(response), ip));
  if (attempt.retryAfterMs > 0) {
    c.baton.audit({ type: 'login.throttled', client, ip, reason: 'too_many_failures', method: 'passkey' });
    throw tooManyAttempts(attempt.retryAfterMs);
  }
  try {
    const { userId } = await passkeys.signIn(response, stateOf(c, request), { ip });
    // A passkey whose user is gone (removed while it was in use, or by an app that forgot its
    // passkeys) opens no session: `userScope` answers undefined for a user it does not know.
    if (c.userScope !== undefined && (await c.userScope(userId)) === undefined)
      throw new BatonError('ERR_PASSKEY_REFUSED', 'This passkey’s account no longer exists: sign in another way.');
    await attempt.succeeded();
    return userId;
  } catch (err) {
    if (!isBatonError(err) || err.code !== 'ERR_PASSKEY_REFUSED') throw err;
    c.log?.info({ event: 'login.failed', ip }, 'passkey sign-in failed');
    c.baton.audit({ type: 'login.failed', client, ip, reason: 'bad_passkey', method: 'passkey' });
    const blocked = await attempt.failed();
    if (blocked > 0) throw tooManyAttempts(blocked);
    throw err;
  }
}

/** `POST /auth/passkeys/sign-in`: `credential` (JSON), as `/auth/login` takes a password: a session of the client, its pair (DPoP-bound with a proof). */
export function passkeySignInRoute(c: HandlerContext): Route {
  return {
    POST: async (request: Request, ctx: RequestContext) => {
      const ip = ctx.ip ?? 'unknown';
      const f = await readFields(request, c.maxBodyBytes);
      const client = await authenticateClient(c, request, f, ip);
      if (client.firstParty === false || isThirdParty(client))
        throw new HttpError('ERR_CLIENT_UNAUTHORIZED', `Client ${client.id.slice(0, 100)} is a third-party client: it signs users in through /oauth/authorize`);
      // The state cookie is this browser's: a cookie-authenticated request, checked as one.
      checkCsrf(c, request);
      // A credential that is not JSON is refused before anything is counted.
      const { proof, attempt } = await countedProof(c, request, client, passkeyAttemptName(credentialOf(f)), ip, 'passkey');
      const userId = await passkeySignIn(c, request, f, ip, client.id, attempt);
      const allowed = (await c.userScope?.(userId)) ?? '';
      const scope = grantScope(f.scope, allowed.split(' ').filter(Boolean), client.scopes);
      const viaCookie = f.refresh_token_delivery === 'cookie';
      const pair = await c.baton.login(userId, {
        clientId: client.id,
        ...(proof === undefined ? {} : { proof }),
        scope,
        resource: grantedResources(c, client, f.resource),
        device: { userAgent: (request.headers.get('user-agent') ?? '').slice(0, 256), ip, method: 'passkey' },
      });
      c.log?.info({ event: 'login', sid: pair.session_id, client: client.id }, 'passkey login');
      c.baton.audit({ type: 'login.succeeded', user: userId, session: pair.session_id, client: client.id, ip, scope, method: 'passkey' });
      const response = tokenResponse(c, pair, viaCookie, nonceHeaders(c, proof?.jkt));
      response.headers.append('set-cookie', clearStateCookie(c));
      return response;
    },
  };
}

/** The passkey options of `createAuthHandler` (`AuthHandlerOptions` extends these). */
export interface PasskeyHandlerOptions {
  /**
   * Passkeys (`createPasskeys` of `baton-auth/passkeys`): the `/auth/passkeys` endpoints (a user's
   * list, registration, renaming, deletion; sign-in) and a passkey sign-in on the hosted page. Off when absent.
   */
  passkeys?: Passkeys;
  /**
   * The scopes a user may have (space-separated) when they sign in without a password (a passkey),
   * or undefined when there is no such user (removed): that passkey sign-in is then refused. Absent:
   * every passkey's user exists, with no scope.
   */
  userScope?: (userId: string) => Promise<string | undefined>;
}

/** The handler context's part of the passkey options. */
export const passkeyContext = (o: PasskeyHandlerOptions): Pick<HandlerContext, 'passkeys' | 'userScope'> =>
  o.passkeys === undefined ? {} : { passkeys: o.passkeys, userScope: o.userScope };

/** The routes of passkeys, when the handler has them. */
export function passkeyRoutes(c: HandlerContext): Record<string, Route> {
  if (c.passkeys === undefined) return {};
  return {
    '/auth/passkeys': passkeyList(c),
    '/auth/passkeys/registration-options': registrationOptions(c),
    '/auth/passkeys/registration': registration(c),
    '/auth/passkeys/sign-in-options': signInOptions(c),
    '/auth/passkeys/sign-in': passkeySignInRoute(c),
    '/auth/passkeys/*': passkey(c),
  };
}
