/**
 * The authentication of a `baton-auth/ws` socket, at connect (a Bearer or DPoP token, RFC 9449)
 * and on re-authentication (`reauth`), and its end when the session, the token or its signing key
 * is revoked.
 */
import type { AccessTokenClaims } from '../core/access-token.ts';
import type { Baton } from '../core/baton.ts';
import { BatonError, isBatonError } from '../core/errors.ts';
import type { Connection } from './connection.ts';
import type { Tables } from './tables.ts';
import { CLOSE, send } from './wire.ts';

/**
 * Verifies `token` for `connection`: `proof` undefined, the Bearer scheme; else the DPoP proof that
 * came with the token (for `GET` and the socket's URLs). At connect a failure closes the socket
 * (4401); on re-authentication it is told (`reauth_failed`) and keeps its identity until `exp`.
 */
export async function authenticate(
  baton: Baton,
  tables: Tables<Connection>,
  connection: Connection,
  token: unknown,
  reauth: boolean,
  proof?: unknown,
): Promise<void> {
  let claims: Readonly<AccessTokenClaims>;
  try {
    if (typeof token !== 'string') throw new BatonError('ERR_TOKEN_INVALID', 'no token');
    if (proof !== undefined && typeof proof !== 'string') throw new BatonError('ERR_DPOP_INVALID', 'no proof');
    claims = await baton.verify(token, proof === undefined ? undefined : { dpop: { proof, method: 'GET', url: connection.urls } });
  } catch (err) {
    const reason = isBatonError(err) ? err.message : 'An access token is required';
    if (reauth) return send(connection.socket, { type: 'reauth_failed', error: 'invalid_token', error_description: reason });
    return connection.shut(CLOSE.UNAUTHORIZED, reason.slice(0, 120));
  }
  // Closed (revoked, too fast, gone) while the token was being verified: it accepts nothing more.
  if (!connection.open) return;
  const before = connection.claims;
  // Whatever raced (a reauth against an auth), a socket never changes user or session: its count is that session's.
  if (before !== undefined && (before.sub !== claims.sub || before.sid !== claims.sid)) {
    return connection.shut(CLOSE.FORBIDDEN, 'a re-authentication must keep the same user and session');
  }
  const tooMany = before === undefined ? tables.overAccount(claims.sid, claims.sub) : undefined;
  if (tooMany !== undefined) return connection.shut(CLOSE.TOO_MANY, tooMany);
  connection.accept(claims, token, reauth ? 'reauth_ok' : 'authenticated');
}

/** Closes the sockets a revocation ends, on this instance; returns the function that stops listening. */
export function closeOnRevocation(baton: Baton, live: ReadonlySet<Connection>): () => void {
  return baton.onRevocation((event) => {
    for (const c of live) {
      if ((event.kind === 'session' && c.claims?.sid === event.id) || (event.kind === 'token' && c.claims?.jti === event.id)) {
        c.shut(CLOSE.UNAUTHORIZED, event.kind === 'session' ? `session revoked (${event.reason})` : 'access token revoked');
      } else if (event.kind === 'key' && c.token !== undefined) {
        // The engine dropped the key before telling us: a token it signed no longer verifies
        // (asked of the token alone: a bound one's proof was spent at connect).
        baton.introspect(c.token).then(
          (seen) => seen.active || c.shut(CLOSE.UNAUTHORIZED, 'signing key revoked'),
          () => undefined,
        );
      }
    }
  });
}
