/**
 * Issuing: `login` opens a session and returns its first pair; `issuePair` mints the access
 * token (JWT, JWE or opaque) and the refresh token of a session's current generation.
 */
import { randomUUID } from 'node:crypto';
import { encryptJwe, hashToken, newOpaqueToken, signJwt } from './access-token.ts';
import type { AccessTokenClaims } from './access-token.ts';
import { BatonError } from './errors.ts';
import { argument } from './engine.ts';
import { spendLogin } from './login-budget.ts';
import type { Engine } from './engine.ts';
import { confirm, loginBinding, requestedKey, spendProof, thumbprint, tokenType } from '../dpop/binding.ts';
import type { PairBinding } from '../dpop/binding.ts';
import type { DpopProof } from '../dpop/proof.ts';
import type { RingKey } from './keys.ts';
import { audienceOf, parseResources } from './resource.ts';
import { parseScope } from './scope.ts';
import { isSessionIdOf, newSession } from './session-id.ts';
import type { DeviceInfo, SessionSummary } from './store.ts';

/** A token response, shaped as RFC 6749 §5.1, plus the session id. */
export interface TokenPair {
  access_token: string;
  /** `DPoP` for an access token bound to a DPoP key (RFC 9449 §5), else `Bearer`. */
  token_type: 'Bearer' | 'DPoP';
  /** Seconds until the access token expires: `accessTokenTtl`, or less when the session ends sooner (no token outlives its session). */
  expires_in: number;
  refresh_token: string;
  /** Seconds until the refresh token expires unless used (idle or absolute limit, the sooner). */
  refresh_expires_in: number;
  /** The access token's scope; absent when it has none (RFC 6749 §3.3 has no empty scope). */
  scope?: string;
  session_id: string;
}

/** Options of `login`. */
export interface LoginOptions {
  /** The OAuth client the session belongs to; refresh tokens are bound to it. Default `'default'`. */
  clientId?: string;
  device?: DeviceInfo;
  /**
   * The scope granted to the session, space-separated (RFC 6749 §3.3): what your server decided,
   * never what the client asked for unchecked. Default `defaultScope`.
   */
  scope?: string;
  /**
   * The resources (RFC 8707) the session's access tokens may be for, as your server granted them:
   * each token's `aud` is the one a refresh asks for, or all of them. Default none: `aud` is the
   * Baton's `audience` (the token service itself).
   */
  resource?: string | readonly string[];
  /**
   * The thumbprint of the DPoP key that signed the login request's proof (`checkProof`): the
   * session is bound to it for life (RFC 9449 §5) — each refresh needs a proof by that key — and
   * its access tokens carry it (`cnf.jkt`).
   */
  jkt?: string;
  /**
   * Instead of `jkt`: the login request's proof as `checkProof(…, { spend: false })` returned it.
   * It is spent here, once the login budget admitted the login and before anything is written, so
   * that a refused login spends nothing; its thumbprint binds the session.
   */
  proof?: DpopProof;
  /**
   * @internal The session's id, chosen by the caller: the authorization-code grant derives it
   * from the code, so that a second presentation of the code can revoke the session the first
   * one opened (RFC 6749 §4.1.2). It must have the session-id format and the user's tag
   * (`core/session-id.ts`), and be used once: a session of that id is replaced. Default: a new id.
   */
  sessionId?: string;
}

/** Options of `issueClientToken`. */
export interface ClientTokenOptions {
  /** The confidential client, authenticated by the caller; the token's `sub` and `client_id` (RFC 9068 §2.2). */
  clientId: string;
  /** The scope granted, space-separated: what your server decided. */
  scope?: string;
  /** The resources (RFC 8707) the token is for; default the Baton's `audience`. */
  resource?: string | readonly string[];
  /** The thumbprint of the DPoP key of the request's proof: the token is bound to it (`cnf.jkt`, RFC 9449 §6). */
  jkt?: string;
}

/** A `client_credentials` token response (RFC 6749 §4.4.3): no refresh token. */
export interface ClientTokenResponse {
  access_token: string;
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope?: string;
}

function key(e: Engine, use: 'sig' | 'enc'): RingKey {
  const active = e.o.ring.active(use);
  if (active === undefined)
    throw new BatonError('ERR_STORE_UNAVAILABLE', `no active ${use === 'sig' ? 'signing' : 'encryption'} key: the key ring is being reloaded`);
  return active;
}

/**
 * Throws unless this engine can issue an access token now; checked before a refresh rotates, so
 * that a rotation is never followed by a failure to issue its pair (the caller would lose the new
 * refresh token and trip reuse detection later).
 */
export function assertCanIssue(e: Engine): void {
  if (e.o.tokenFormat !== 'opaque') key(e, e.o.tokenFormat === 'jwe' ? 'enc' : 'sig');
  if (e.o.ring.active('refresh') === undefined) throw new BatonError('ERR_STORE_UNAVAILABLE', 'no active refresh-token key: the key ring is being reloaded');
}

/**
 * Mints an access token in the engine's format: for `sub`, of `clientId`, in session `sid` (if
 * any). A session's token expires no later than the session (`endsAt`, ms): a session that ends by
 * time holds no live token, so forgetting it (the per-user pruning of ended sessions, or a "log
 * out everywhere" that no longer finds it) leaves nothing to revoke.
 */
async function mintAccessToken(
  e: Engine,
  t: { sub: string; clientId: string; sid?: string; endsAt?: number; scope: string; aud: string | string[]; jkt: string | undefined },
  now: number,
): Promise<{ token: string; claims: AccessTokenClaims }> {
  const iat = Math.floor(now / 1000);
  // Rounded down: `exp * 1000` is never past the end. Never below `iat`: a session is issued for only while it lasts (`now` < its end).
  const exp = Math.min(
    iat + Math.floor(e.o.accessTokenTtlMs / 1000),
    t.endsAt === undefined ? Number.POSITIVE_INFINITY : Math.max(iat, Math.floor(t.endsAt / 1000)),
  );
  const claims: AccessTokenClaims = {
    iss: e.o.issuer,
    sub: t.sub,
    aud: t.aud,
    exp,
    iat,
    jti: randomUUID(),
    ...(t.sid === undefined ? {} : { sid: t.sid }),
    client_id: t.clientId,
  };
  if (t.scope !== '') claims.scope = t.scope;
  confirm(claims, t.jkt);
  if (e.o.tokenFormat === 'jwt') return { token: signJwt(claims, key(e, 'sig')), claims };
  if (e.o.tokenFormat === 'jwe') return { token: await encryptJwe(claims, key(e, 'enc')), claims };
  const token = newOpaqueToken();
  // Present: the options refuse `tokenFormat: 'opaque'` with a store that keeps no opaque tokens.
  await e.store.saveOpaqueToken?.(hashToken(token), { claims, expiresAt: claims.exp * 1000 }, now);
  return { token, claims };
}

/**
 * The pair of `session`'s current generation, the access token carrying `scope` and, as `aud`,
 * `resources` (among the session's) or all the session's resources; bound as `binding` says.
 */
export async function issuePair(
  e: Engine,
  session: SessionSummary,
  scope: string,
  now: number,
  resources: readonly string[] | undefined,
  binding: PairBinding,
): Promise<TokenPair> {
  const aud = audienceOf(session.resource, resources, e.o.audience);
  const endsAt = Math.min(session.expiresAt, session.idleExpiresAt);
  const { token, claims } = await mintAccessToken(
    e,
    { sub: session.userId, clientId: session.clientId, sid: session.id, endsAt, scope, aud, jkt: binding.access },
    now,
  );
  const pair: TokenPair = {
    access_token: token,
    token_type: tokenType(binding.access),
    expires_in: claims.exp - claims.iat,
    refresh_token: e.refreshCodec.mint(session.id, session.generation, binding.session),
    refresh_expires_in: Math.max(0, Math.floor((endsAt - now) / 1000)),
    session_id: session.id,
  };
  if (scope !== '') pair.scope = scope;
  return pair;
}

/** Opens a session for `userId`: see `Baton.login`. */
export async function login(e: Engine, userId: string, options: LoginOptions): Promise<TokenPair> {
  argument(typeof userId === 'string' && userId.length > 0 && userId.length <= 256, 'login needs a user id: a string of 1 to 256 characters.');
  const clientId = options.clientId ?? 'default';
  argument(typeof clientId === 'string' && clientId.length > 0 && clientId.length <= 256, 'clientId must be a string of 1 to 256 characters.');
  const scope = parseScope(options.scope ?? e.o.defaultScope).join(' ');
  const resource = parseResources(options.resource).join(' ');
  const jkt = requestedKey(options);
  argument(
    options.sessionId === undefined || isSessionIdOf(options.sessionId, userId),
    "sessionId must be a session id of this user: 22 base64url characters starting with the user's tag.",
  );
  await e.ready();
  const now = e.now();
  await spendLogin(e, userId, now); // before anything is written
  await spendProof(e.dpop, options);
  const session = newSession({
    ...(options.sessionId === undefined ? {} : { id: options.sessionId }),
    userId,
    clientId,
    scope,
    resource,
    ...(jkt === undefined ? {} : { jkt }),
    device: options.device ?? {},
    now,
    maxAgeMs: e.o.sessionMaxAgeMs,
    idleMs: e.o.refreshTokenTtlMs,
  });
  const { evicted } = await e.store.createSession(session, { maxSessionsPerUser: e.o.maxSessionsPerUser, now, revocationTtlMs: e.revocationTtlMs });
  e.emit({ type: 'session.created', at: now, sessionId: session.id, userId, clientId });
  for (const id of evicted) {
    e.revokedLocally(id, now, 'evicted');
    e.emit({ type: 'session.evicted', at: now, sessionId: id, userId, by: session.id });
  }
  return issuePair(e, session, session.scope, now, undefined, loginBinding(jkt));
}

/** A token for a client acting for itself (RFC 6749 §4.4): see `Baton.issueClientToken`. */
export async function issueClientToken(e: Engine, options: ClientTokenOptions): Promise<ClientTokenResponse> {
  const clientId = options.clientId;
  argument(
    typeof clientId === 'string' && clientId.length > 0 && clientId.length <= 256,
    'issueClientToken needs the clientId: a string of 1 to 256 characters.',
  );
  const scope = parseScope(options.scope ?? '').join(' ');
  const aud = audienceOf(parseResources(options.resource).join(' '), undefined, e.o.audience);
  const jkt = thumbprint(options.jkt);
  await e.ready();
  const now = e.now();
  const { token, claims } = await mintAccessToken(e, { sub: clientId, clientId, scope, aud, jkt }, now);
  e.emit({ type: 'client_token.issued', at: now, clientId, jti: claims.jti });
  const out: ClientTokenResponse = { access_token: token, token_type: tokenType(jkt), expires_in: claims.exp - claims.iat };
  if (scope !== '') out.scope = scope;
  return out;
}
