/**
 * Revoking: a token (RFC 7009), a session, all of a user's sessions, a key. Each revocation is
 * recorded in the store, which publishes it to every instance, and applied here at once.
 */
import { hashToken, isOpaqueToken } from './access-token.ts';
import type { AccessTokenClaims } from './access-token.ts';
import { BatonError, isBatonError } from './errors.ts';
import { argument } from './engine.ts';
import type { Engine } from './engine.ts';
import { thumbprint } from '../dpop/binding.ts';
import { assertRefreshTokenKey, assertTokenKey, claimedKeyProof, liveTokenProofKey, refreshTokenProofKey } from '../dpop/revocation.ts';
import { hasCounters, userKey } from './login-budget.ts';
import { RefreshTokenCodec } from './refresh-token.ts';
import { tagOfSession } from './session-id.ts';
import type { Revocation } from './store.ts';
import { ANY_AUDIENCE, verify } from './verify.ts';

/** Why a session is revoked, and by which session (kicked, logged out from another device). */
export interface SessionRevocation {
  /** A `SessionEndReason` (`logout`, `logout_everywhere`, `kicked`, `password_changed`, `admin`, …). Default `'revoked'`. */
  reason?: string;
  /** The session that ended this one; its device is recorded with the reason. */
  by?: string;
  /**
   * The session is named by a token this call verified (a logout, a revocation): if the store no
   * longer has it at all — the store lost its data, as a Redis restarted without persistence does —
   * the revocation is logged and published all the same, so that every instance refuses the
   * session's tokens, rather than answering "nothing to revoke" while they keep working (#22).
   */
  named?: boolean;
}

/** Options of `revoke`. */
export interface RevokeOptions {
  /** The client asking; a token issued to another client is refused and stays valid (RFC 7009 §2.1). Default: any client. */
  clientId?: string;
  /**
   * The thumbprint of the DPoP key of the request's proof (`checkProof`), if it carried one.
   * Revocation takes no proof (RFC 7009 §2.1 asks none, RFC 9449 defines none for it), so that a
   * standard client always logs out; a bound refresh token is then checked against its session's
   * key. What a holder of a copied token without the key can do here is end that token early, never
   * use it. A proof that is sent must be by the token's key: a bound token with a proof by another
   * key is refused (`ERR_DPOP_INVALID`) and stays valid.
   */
  jkt?: string;
  /**
   * The request's DPoP proof, unchecked, instead of `jkt`: looked at only for a token worth it, and
   * its signature checked last. A junk, unknown or dead token is answered without it (nothing to
   * revoke); a bound refresh token's MAC, or a JWT access token's unverified `cnf.jkt`, is compared
   * with the proof's key before anything about the token's state is read — another key is
   * `ERR_DPOP_INVALID` whether the token is live or not — and a live access token whose proof fails
   * later (its signature, or an opaque token's key) is answered as an unknown one: nothing revoked.
   */
  dpop?: { proof: string; method: string; url: string | readonly string[] };
}

/**
 * Access tokens of one session revoked one by one, at most, per revocation lifetime; the next
 * revokes the session instead (RFC 7009 §2.1: the server MAY revoke the grant of a revoked access
 * token). Each revocation is an event every instance and every follower of the feed keeps until
 * it expires: a user minting tokens (grace answers) and revoking each must not be able to flood
 * them. With this, one session causes at most 9 events.
 */
export const TOKEN_REVOCATIONS_PER_SESSION = 8;

/**
 * Access tokens of one user revoked one by one, at most, per revocation lifetime (a fixed window
 * in the store's counters, where it has them); the next revokes its session instead. Bounds what a
 * user with many sessions (`loginRateLimit` apart) causes: #21 round 3, B1.
 */
export const TOKEN_REVOCATIONS_PER_USER = 16;

/** Counts one token revocation of `sub` in the store's counters; false past the budget (true without counters). */
async function userTokenRevocation(e: Engine, sub: string, now: number): Promise<boolean> {
  if (!hasCounters(e.store)) return true;
  const { count } = await e.store.hitCounter(`baton-token-revocations:${userKey(sub)}`, 1, e.revocationTtlMs, now);
  return count <= TOKEN_REVOCATIONS_PER_USER;
}

/**
 * Takes one of the session's token-revocation slots in the one-time ledger (shared by every
 * instance, one atomic operation each); false when all are taken.
 */
async function tokenRevocationSlot(e: Engine, sid: string, now: number): Promise<boolean> {
  for (let i = 0; i < TOKEN_REVOCATIONS_PER_SESSION; i++) {
    // '~' is not in a jti's alphabet (base64url): no token's jti can take a slot.
    if (await e.store.consumeJti(`~revoked:${sid}:${i}`, now + e.revocationTtlMs, now)) return true;
  }
  return false;
}

function sameClient(owner: string, caller: string | undefined): void {
  if (caller !== undefined && owner !== caller) throw new BatonError('ERR_INVALID_ARGUMENT', 'The token was not issued to this client');
}

/** A refresh token's revocation: its session's, once the token is authentic (and by the proof's key, if one was sent). */
async function revokeRefreshToken(e: Engine, token: string, options: RevokeOptions, given: string | undefined, now: number): Promise<void> {
  let jkt = given;
  const dpop = options.dpop;
  const shape = RefreshTokenCodec.sessionOf(token);
  if (shape === undefined) return;
  if (dpop !== undefined) {
    const key = refreshTokenProofKey(e, token, shape.bound, dpop, now);
    if (key === null) return;
    jkt = key;
  }
  // Without a proof, a bound token's MAC is checked with its session's key (one read).
  const session = shape.bound && jkt === undefined ? await e.store.getSession(shape.sessionId) : undefined;
  const parsed = e.refreshCodec.parse(token, now, jkt ?? session?.jkt);
  if (parsed === undefined) {
    assertRefreshTokenKey(shape.bound, jkt); // a forged one is answered alike
    return;
  }
  if (options.clientId !== undefined) {
    // A session the store no longer has (it lost its data) cannot say its client: its refresh
    // token refreshes nothing any more, so ending its access tokens for whoever holds an
    // authentic one only protects (#22), and answering "nothing to revoke" would leave them live.
    const owner = session ?? (await e.store.getSession(parsed.sessionId));
    if (owner !== null) sameClient(owner.clientId, options.clientId);
  }
  await revokeSession(e, parsed.sessionId, { reason: 'logout', named: true });
}

/** See `Baton.revoke`. */
export async function revoke(e: Engine, token: string, options: RevokeOptions): Promise<void> {
  if (typeof token !== 'string') return;
  const now = e.now();
  let jkt = thumbprint(options.jkt);
  const dpop = options.dpop;
  if (RefreshTokenCodec.looksLike(token)) return revokeRefreshToken(e, token, options, jkt, now);
  const pending = claimedKeyProof(e, token, options.clientId, dpop);
  let claims: Readonly<AccessTokenClaims>;
  try {
    claims = await verify(e, token, undefined, ANY_AUDIENCE); // a token for any API of this issuer
  } catch (err) {
    if (isBatonError(err) && err.code === 'ERR_STORE_UNAVAILABLE') throw err;
    return;
  }
  sameClient(claims.client_id, options.clientId);
  if (dpop !== undefined) {
    const key = liveTokenProofKey(e, claims, dpop, pending);
    if (key === null) return;
    jkt = key;
  }
  assertTokenKey(claims, jkt);
  if (claims.sid !== undefined && !((await tokenRevocationSlot(e, claims.sid, now)) && (await userTokenRevocation(e, claims.sub, now)))) {
    // One event for the session (and its every token) rather than one more per token.
    if (isOpaqueToken(token)) await e.store.deleteOpaqueToken?.(hashToken(token));
    await revokeSession(e, claims.sid, { reason: 'revoked', named: true });
    return;
  }
  // A client's own tokens (client_credentials) have no session to revoke instead: past the same
  // budget per client, a revocation is refused for now (the token is short-lived), so that one
  // client cannot flood the log either.
  if (claims.sid === undefined && !(await userTokenRevocation(e, `client\u0000${claims.client_id}`, now))) {
    throw new BatonError(
      'ERR_RATE_LIMITED',
      `too many token revocations by this client: at most ${TOKEN_REVOCATIONS_PER_USER} per ${Math.ceil(e.revocationTtlMs / 1000)} s`,
      { retryAfterMs: e.revocationTtlMs, public: true },
    );
  }
  const until = (claims.exp + e.o.leewaySec) * 1000;
  if (isOpaqueToken(token)) await e.store.deleteOpaqueToken?.(hashToken(token));
  await e.store.denyJti(claims.jti, until, now);
  e.applyRevocation({ kind: 'token', id: claims.jti, at: now, expiresAt: until, reason: 'revoked' });
  e.emit({ type: 'token.revoked', at: now, jti: claims.jti, ...(claims.sid === undefined ? {} : { sessionId: claims.sid }) });
}

/** The revocation the store is told: reason, time, and who did it with their device (read from the store). */
async function revocation(e: Engine, options: SessionRevocation): Promise<Revocation> {
  const r: Revocation = { now: e.now(), reason: options.reason ?? 'revoked', revocationTtlMs: e.revocationTtlMs };
  if (options.by !== undefined) {
    const by = await e.store.getSession(options.by);
    r.detail = by === null ? { by: options.by } : { by: options.by, byDevice: by.device };
  }
  return r;
}

/** What revoking `ids` under `r` changes here: the in-process view at once, and the events. */
function revokedHere(e: Engine, ids: string[], r: Revocation, userId?: string): void {
  for (const id of ids) {
    e.applyRevocation({ kind: 'session', id, at: r.now, expiresAt: r.now + r.revocationTtlMs, reason: r.reason, ...(r.detail ? { detail: r.detail } : {}) });
    e.emit({
      type: 'session.revoked',
      at: r.now,
      sessionId: id,
      reason: r.reason,
      ...(r.detail?.by === undefined ? {} : { by: r.detail.by }),
      ...(userId === undefined ? {} : { userId }),
    });
  }
}

/** See `Baton.revokeSession`. */
export async function revokeSession(e: Engine, sessionId: string, options: SessionRevocation): Promise<boolean> {
  argument(typeof sessionId === 'string' && sessionId.length > 0, 'revokeSession needs a session id.');
  await e.ready();
  const r = await revocation(e, options);
  const revoked = await e.store.revokeSession(sessionId, r);
  if (revoked) revokedHere(e, [sessionId], r);
  else if (options.named === true && (await e.store.getSession(sessionId)) === null) {
    // A live token names it, yet the store has no record (not even an ended one, kept a week past
    // the session's end, longer than any of its tokens lives): the store lost it. One event per
    // session per revocation lifetime (a one-time slot in the ledger, '~' being in no jti's
    // alphabet), and at most TOKEN_REVOCATIONS_PER_USER per user tag (the session id's first
    // characters; the user is unknown with the record gone), so that stale refresh tokens of
    // sessions swept long ago cannot flood the log either: past it, 429 rather than a 200 that
    // revoked nothing. The same session revoked again (a replay, by its user or by a thief) counts
    // once: already in force here, it is done; its slot taken by a call still at work or refused, 429.
    const tooMany = () =>
      new BatonError(
        'ERR_RATE_LIMITED',
        `too many revocations of sessions the store no longer has: at most ${TOKEN_REVOCATIONS_PER_USER} per ${Math.ceil(e.revocationTtlMs / 1000)} s`,
        { retryAfterMs: e.revocationTtlMs, public: true },
      );
    if (e.revoked.sessionRevocation(sessionId, r.now) !== undefined) return true;
    if (!(await e.store.consumeJti(`~lost:${sessionId}`, r.now + r.revocationTtlMs, r.now))) throw tooMany();
    if (hasCounters(e.store)) {
      const { count } = await e.store.hitCounter(`baton-lost-revocations:${tagOfSession(sessionId)}`, 1, e.revocationTtlMs, r.now);
      if (count > TOKEN_REVOCATIONS_PER_USER) throw tooMany();
    }
    await e.store.announce({ kind: 'session', id: sessionId, at: r.now, expiresAt: r.now + r.revocationTtlMs, reason: r.reason });
    revokedHere(e, [sessionId], r);
    return true;
  }
  return revoked;
}

/** See `Baton.revokeUserSessions`. */
export async function revokeUserSessions(e: Engine, userId: string, options: SessionRevocation & { except?: string }): Promise<string[]> {
  argument(typeof userId === 'string' && userId.length > 0, 'revokeUserSessions needs a user id.');
  await e.ready();
  const r = await revocation(e, options);
  const ids = await e.store.revokeUserSessions(userId, { ...r, ...(options.except === undefined ? {} : { except: options.except }) });
  revokedHere(e, ids, r, userId);
  return ids;
}
