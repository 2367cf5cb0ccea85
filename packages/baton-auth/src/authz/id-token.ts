/**
 * The ID token of an authorization code exchange with `openid` in its scope (OpenID Connect
 * Core 1.0 §2, §3.1.3.3). The code grant (`code-grant.ts`) calls `idToken` and puts the result in
 * the token answer's `id_token`.
 */
import { BatonError } from '../core/errors.ts';
import { idTokenKey, signIdToken } from '../core/id-token.ts';
import type { IdTokenClaims } from '../core/id-token.ts';
import type { HandlerContext } from '../http/context.ts';

/**
 * How long an ID token is valid, in seconds: 5 minutes. An ID token is read once, by the client,
 * from the token answer that carries it (OIDC Core §3.1.3.7); it opens no API and no refresh gives
 * a new one here, so its `exp` only bounds what a copy of it is good for (a relying party that
 * wrongly takes ID tokens as sign-in credentials), while 5 minutes leaves room for the client's
 * clock to differ from ours (oauth4webapi and openid-client allow 30 s by default). Signing out
 * with it as `id_token_hint` (`end-session.ts`) works after it expired (RP-Initiated Logout §2).
 */
export const ID_TOKEN_TTL_SECONDS = 300;

/** What an ID token says: see `idToken`. */
export interface IdTokenInput {
  /** The user: the token's `sub`. */
  userId: string;
  /** The client the code was issued to: the token's `aud`. */
  clientId: string;
  /** The authorization request's `nonce`, echoed when it had one (OIDC Core §3.1.2.1, §3.1.3.7 rule 11). */
  nonce?: string | undefined;
  /** When the user signed in, in seconds since the epoch (`auth_time`). */
  authTime: number;
  /** The Baton session the exchange opened (`sid`): what `end-session` revokes. */
  sid: string;
  /** The granted scope; it must hold `openid` (an ID token is OpenID Connect's answer, OIDC Core §3.1.2.1). */
  scope: readonly string[];
}

function argument(ok: boolean, message: string): void {
  if (!ok) throw new BatonError('ERR_INVALID_ARGUMENT', message);
}

/**
 * Signs the ID token of a code exchange with the key ring's active signing key (header
 * `typ: JWT` and its `kid`): `iss` (the handler's issuer, the discovery document's), `sub`,
 * `aud` = the client id, `exp` (`ID_TOKEN_TTL_SECONDS` after `iat`), `iat`, `auth_time`, `nonce`
 * when the request had one, `sid`. No `at_hash`: OPTIONAL when the ID token comes from the token
 * endpoint (OIDC Core §3.1.3.6). The user's claims are served by `/oauth/userinfo` (§5.4: in the
 * ID token only when no access token is issued). Throws `ERR_CONFIG` when the active signing key
 * is HS256 (`idTokenKey`).
 * @example
 * ```ts
 * const id_token = await idToken(c, { userId, clientId, nonce, authTime, sid: pair.session_id, scope });
 * ```
 */
export async function idToken(c: HandlerContext, o: IdTokenInput): Promise<string> {
  argument(typeof o.userId === 'string' && o.userId !== '' && o.userId.length <= 256, 'idToken needs the user id: a string of 1 to 256 characters.');
  argument(typeof o.clientId === 'string' && o.clientId !== '' && o.clientId.length <= 256, 'idToken needs the client id: a string of 1 to 256 characters.');
  argument(typeof o.sid === 'string' && o.sid !== '', 'idToken needs the session id (sid).');
  argument(Number.isSafeInteger(o.authTime) && o.authTime > 0, 'idToken needs authTime: whole seconds since the epoch.');
  argument(o.nonce === undefined || (typeof o.nonce === 'string' && o.nonce.length <= 256), 'nonce must be a string of at most 256 characters.');
  argument(Array.isArray(o.scope) && o.scope.includes('openid'), 'An ID token is issued only for a scope holding openid (OIDC Core §3.1.2.1).');
  const key = idTokenKey(c.baton.keys);
  const iat = Math.floor(c.baton.now() / 1000);
  const claims: IdTokenClaims = {
    iss: c.issuer,
    sub: o.userId,
    aud: o.clientId,
    exp: iat + ID_TOKEN_TTL_SECONDS,
    iat,
    auth_time: o.authTime,
    ...(o.nonce === undefined || o.nonce === '' ? {} : { nonce: o.nonce }),
    sid: o.sid,
  };
  return signIdToken(claims, key);
}
