/**
 * Issuing: `login` opens a session and returns its first pair; `issuePair` mints the access
 * token (JWT, JWE or opaque) and the refresh token of a session's current generation.
 */
import { randomUUID } from 'node:crypto';
import { encryptJwe, hashToken, newOpaqueToken, signJwt } from './access-token.ts';
import type { AccessTokenClaims } from './access-token.ts';
import { BatonError } from './errors.ts';
import { argument } from './engine.ts';
import type { Engine } from './engine.ts';
import type { RingKey } from './keys.ts';
import { parseScope } from './scope.ts';
import { newSession } from './session-id.ts';
import type { DeviceInfo, SessionSummary } from './store.ts';

/** A token response, shaped as RFC 6749 §5.1, plus the session id. */
export interface TokenPair {
  access_token: string;
  token_type: 'Bearer';
  /** Seconds until the access token expires. */
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
}

function key(e: Engine, use: 'sig' | 'enc'): RingKey {
  const active = e.o.ring.active(use);
  if (active === undefined) throw new BatonError('ERR_STORE_UNAVAILABLE', `no active ${use === 'sig' ? 'signing' : 'encryption'} key: the key ring is being reloaded`);
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

/** The pair of `session`'s current generation, the access token carrying `scope`. */
export async function issuePair(e: Engine, session: SessionSummary, scope: string, now: number): Promise<TokenPair> {
  const iat = Math.floor(now / 1000);
  const claims: AccessTokenClaims = {
    iss: e.o.issuer,
    sub: session.userId,
    aud: e.o.audience,
    exp: iat + Math.floor(e.o.accessTtlMs / 1000),
    iat,
    jti: randomUUID(),
    sid: session.id,
    client_id: session.clientId,
  };
  if (scope !== '') claims.scope = scope;
  let accessToken: string;
  if (e.o.tokenFormat === 'jwt') {
    accessToken = signJwt(claims, key(e, 'sig'));
  } else if (e.o.tokenFormat === 'jwe') {
    accessToken = await encryptJwe(claims, key(e, 'enc'));
  } else {
    accessToken = newOpaqueToken();
    // Present: the options refuse `tokenFormat: 'opaque'` with a store that keeps no opaque tokens.
    await e.store.saveOpaqueToken?.(hashToken(accessToken), { claims, expiresAt: claims.exp * 1000 }, now);
  }
  const pair: TokenPair = {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: claims.exp - iat,
    refresh_token: e.refreshCodec.mint(session.id, session.generation),
    refresh_expires_in: Math.max(0, Math.floor((Math.min(session.expiresAt, session.idleExpiresAt) - now) / 1000)),
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
  await e.ready();
  const now = e.now();
  const session = newSession({ userId, clientId, scope, device: options.device ?? {}, now, maxAgeMs: e.o.sessionMaxAgeMs, idleMs: e.o.refreshTtlMs });
  const { evicted } = await e.store.createSession(session, { maxSessionsPerUser: e.o.maxSessionsPerUser, now, revocationTtlMs: e.revocationTtlMs });
  e.emit({ type: 'session.created', at: now, sessionId: session.id, userId, clientId });
  for (const id of evicted) {
    e.revokedLocally(id, now, 'evicted');
    e.emit({ type: 'session.evicted', at: now, sessionId: id, userId });
  }
  return issuePair(e, session, session.scope, now);
}
