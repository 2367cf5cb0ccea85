/** Introspection (RFC 7662) of an access or a refresh token. */
import type { AccessTokenClaims } from './access-token.ts';
import { isBatonError } from './errors.ts';
import type { Engine } from './engine.ts';
import { RefreshTokenCodec } from './refresh-token.ts';
import { ANY_AUDIENCE, verify } from './verify.ts';

/** RFC 7662 §2.2 introspection response. */
export interface IntrospectionResponse {
  active: boolean;
  scope?: string;
  client_id?: string;
  /** `Bearer` or `DPoP` (RFC 9449 §6.2) for an access token; absent for a refresh token (RFC 7662 §2.2 names access-token types). */
  token_type?: string;
  exp?: number;
  iat?: number;
  nbf?: number;
  sub?: string;
  aud?: string | string[];
  iss?: string;
  jti?: string;
  sid?: string;
  /** The DPoP key the token (or the refresh token's session) is bound to (RFC 9449 §6.2). */
  cnf?: { jkt: string };
}

const INACTIVE: IntrospectionResponse = Object.freeze({ active: false });

async function refreshToken(e: Engine, token: string): Promise<IntrospectionResponse> {
  const now = e.now();
  const named = RefreshTokenCodec.sessionOf(token);
  // An unbound token's MAC is checked before the store is read; a bound one's covers its session's key, read first.
  if (named === undefined || (!named.bound && e.refreshCodec.parse(token, now) === undefined)) return { ...INACTIVE };
  const session = await e.store.getSession(named.sessionId);
  const parsed = session === null ? undefined : e.refreshCodec.parse(token, now, session.jkt);
  if (session === null || parsed === undefined || session.generation !== parsed.generation || session.revokedAt !== null) return { ...INACTIVE };
  const end = Math.min(session.expiresAt, session.idleExpiresAt);
  if (now >= end) return { ...INACTIVE };
  // RFC 7662 §2.2: `token_type` is an access token's type (RFC 6749 §5.1), so a refresh token has
  // none; `username` is a human-readable name, which Baton does not know (`sub` is the user id).
  return {
    active: true,
    client_id: session.clientId,
    sub: session.userId,
    ...(session.scope === '' ? {} : { scope: session.scope }),
    iss: e.o.issuer,
    exp: Math.floor(end / 1000),
    iat: Math.floor(session.rotatedAt / 1000),
    sid: session.id,
    ...(session.jkt === undefined ? {} : { cnf: { jkt: session.jkt } }),
  };
}

function accessToken(c: Readonly<AccessTokenClaims>): IntrospectionResponse {
  const out: IntrospectionResponse = {
    active: true,
    token_type: c.cnf === undefined ? 'Bearer' : 'DPoP',
    client_id: c.client_id,
    sub: c.sub,
    aud: c.aud,
    iss: c.iss,
    exp: c.exp,
    iat: c.iat,
    jti: c.jti,
  };
  if (c.sid !== undefined) out.sid = c.sid;
  if (c.scope !== undefined) out.scope = c.scope;
  if (c.nbf !== undefined) out.nbf = c.nbf;
  if (c.cnf !== undefined) out.cnf = { jkt: c.cnf.jkt };
  return out;
}

/** See `Baton.introspect`. */
export async function introspect(e: Engine, token: string): Promise<IntrospectionResponse> {
  if (typeof token !== 'string') return { ...INACTIVE };
  if (RefreshTokenCodec.looksLike(token)) return refreshToken(e, token);
  try {
    return accessToken(await verify(e, token, undefined, ANY_AUDIENCE));
  } catch (err) {
    if (isBatonError(err) && err.code === 'ERR_STORE_UNAVAILABLE') throw err;
    return { ...INACTIVE };
  }
}
