/**
 * The token engine: login, verify, refresh, revoke, introspect. Import from `baton-auth`.
 *
 * `Baton` is a facade: each verb lives in a file of its own (`issue.ts`, `verify.ts`,
 * `refresh.ts`, `revoke.ts`, `introspect.ts`, `sessions.ts`) and works on the engine's shared
 * state (`engine.ts`). It knows nothing of HTTP; every decision that must be atomic is one
 * store operation.
 */
import type { AccessTokenClaims } from './access-token.ts';
import { argument, Engine } from './engine.ts';
import type { VerifyStats } from './engine.ts';
import type { AuditInput } from './audit.ts';
import type { BatonEvent, BatonEventType } from './events.ts';
import { introspect } from './introspect.ts';
import type { IntrospectionResponse } from './introspect.ts';
import { issueClientToken, login } from './issue.ts';
import type { ClientTokenOptions, ClientTokenResponse, LoginOptions, TokenPair } from './issue.ts';
import type { KeyAlg, KeyRing, KeyUse, PublicJwk } from './keys.ts';
import type { BatonOptions } from './options.ts';
import { refresh } from './refresh.ts';
import type { RefreshOptions } from './refresh.ts';
import { revokeKey, rotateKeys } from './key-admin.ts';
import { revoke, revokeSession, revokeUserSessions } from './revoke.ts';
import type { RevokeOptions, SessionRevocation } from './revoke.ts';
import { listSessions, sessionHistory, sessionHistoryPage } from './sessions.ts';
import type { SessionHistoryEvent, SessionHistoryEvents, SessionInfo } from './sessions.ts';
import type { RevocationEvent } from './store.ts';
import { bearerOnly, verifyLocal, verifyPresented, verifySync } from './verify.ts';
import type { DpopProof, DpopRequest } from '../dpop/proof.ts';
import { checkRequestProof } from '../dpop/request-proof.ts';
import type { VerifyOptions } from './verify.ts';

export type { IntrospectionResponse } from './introspect.ts';
export type { ClientTokenOptions, ClientTokenResponse, LoginOptions, TokenPair } from './issue.ts';
export type { RefreshOptions } from './refresh.ts';
export type { RevokeOptions, SessionRevocation } from './revoke.ts';
export type { SessionHistoryEvent, SessionHistoryEvents, SessionHistoryType, SessionInfo } from './sessions.ts';
export type { VerifyOptions } from './verify.ts';
export type { VerifyStats } from './engine.ts';

/** The token engine. Create it with `createBaton`. */
export class Baton {
  readonly #e: Engine;

  constructor(options: BatonOptions) {
    this.#e = new Engine(options);
  }

  /** The `iss` of the tokens this engine issues. */
  get issuer(): string {
    return this.#e.o.issuer;
  }

  /** The `aud` of tokens issued without a resource, and what `verify` requires unless told another: the token service's own audience. */
  get audience(): string {
    return this.#e.o.audience;
  }

  /** `verify` checks DPoP proofs (`options.dpop`): guards accept the DPoP scheme (RFC 9449 §7). */
  readonly verifiesDpop = true;

  /** The key ring: add, rotate and list keys; `keys.jwks(now)` is the public JWKS. */
  get keys(): KeyRing {
    return this.#e.o.ring;
  }

  /** The engine's clock, in milliseconds since the epoch (the `now` option). */
  now(): number {
    return this.#e.now();
  }

  /**
   * Subscribes to the store's revocations and loads the ones in force. Called by every operation
   * on first use; call it at start-up to fail fast when the store is unreachable.
   */
  ready(): Promise<void> {
    return this.#e.ready();
  }

  /**
   * Listens to every revocation this instance learns of, its own and other instances' (through
   * the store): what long-lived connections need to close at once.
   */
  onRevocation(listener: (event: RevocationEvent) => void): () => void {
    this.#e.revocationListeners.add(listener);
    return () => this.#e.revocationListeners.delete(listener);
  }

  /**
   * The revocations still in force that happened at or after `since` (ms since the epoch), oldest
   * first: what a resource server that was away must catch up on (the service's revocation feed).
   */
  async revocationsSince(since: number): Promise<RevocationEvent[]> {
    await this.#e.ready();
    const events = await this.#e.store.revocationsSince(this.#e.now());
    return events.filter((e) => e.at >= since).sort((a, b) => a.at - b.at);
  }

  /**
   * The revocations logged after the cursor `after` (an event's `seq`; 0: from the start), in the
   * order the store committed them, at most `limit`, each with its `seq`: what the revocation
   * feed's followers resume from, whatever the clocks of the instances that revoked.
   */
  async revocationsAfter(after: number, limit = 1000): Promise<RevocationEvent[]> {
    await this.#e.ready();
    return this.#e.store.revocationsAfter(after, limit, this.#e.now());
  }

  /** The largest cursor the store's log has handed out, or undefined when the store does not say (`RevocationLog.revocationHead`). */
  async revocationHead(): Promise<number | undefined> {
    await this.#e.ready();
    return this.#e.store.revocationHead?.();
  }

  /**
   * Records a security event in the audit trail (the `audit` option's sink; without one, nothing
   * happens): stamped with the schema version, the engine's time (or `at`) and its outcome. Only
   * the schema's fields are kept (`AuditEvent`). The HTTP handler and the authorization server
   * record theirs here; an application records its own (`user.created`, `password.changed`, …).
   *
   * @example
   * baton.audit({ type: 'password.changed', user: user.id, actor: 'self' });
   */
  audit(event: AuditInput): void {
    this.#e.audit(event);
  }

  /** Listens to one event type, or to all with `'*'`. Returns a function that stops listening. */
  on(type: BatonEventType | '*', listener: (event: BatonEvent) => void): () => void {
    const wrapped = (event: BatonEvent): void => {
      if (type === '*' || event.type === type) listener(event);
    };
    this.#e.listeners.add(wrapped);
    return () => this.#e.listeners.delete(wrapped);
  }

  /**
   * Opens a session for `userId` and returns its first token pair. With `maxSessionsPerUser`,
   * the user's oldest sessions are evicted atomically and their access tokens stop verifying.
   * Past `loginRateLimit` (per user) it throws `ERR_RATE_LIMITED` with `retryAfterMs`, writing nothing.
   * @example
   * ```ts
   * const pair = await baton.login('user-42', { clientId: 'web', scope: 'orders:read', device: { userAgent } });
   * ```
   */
  login(userId: string, options: LoginOptions = {}): Promise<TokenPair> {
    return login(this.#e, userId, options);
  }

  /**
   * Issues an access token to a confidential client acting for itself (RFC 6749 §4.4,
   * `client_credentials`): `sub` and `client_id` are the client (RFC 9068 §2.2), no session, no
   * refresh token; revocable by its `jti` (`revoke`). Authenticate the client first.
   * @example
   * ```ts
   * const { access_token } = await baton.issueClientToken({ clientId: 'reports', scope: 'orders:read', resource: 'https://api.example.com' });
   * ```
   */
  issueClientToken(options: ClientTokenOptions): Promise<ClientTokenResponse> {
    return issueClientToken(this.#e, options);
  }

  /**
   * Verifies an access token of any format and returns its claims, or rejects with a
   * `BatonError` (`ERR_TOKEN_INVALID`, `ERR_TOKEN_EXPIRED`, `ERR_TOKEN_NOT_YET_VALID`,
   * `ERR_TOKEN_REVOKED`, `ERR_SESSION_REVOKED`, `ERR_TOKEN_REPLAYED`, `ERR_STORE_UNAVAILABLE`)
   * and never with anything else. JWTs are verified in-process (no store round trip) unless
   * `oneTime` is set.
   * @example
   * ```ts
   * const claims = await baton.verify(bearerToken);           // claims.sub, claims.scope
   * await baton.verify(bearerToken, { oneTime: true });        // replay guard
   * await baton.verify(dpopToken, { dpop: { proof: req.headers.dpop, method: req.method, url } }); // RFC 9449 §7
   * ```
   * A token bound to a DPoP key (`cnf.jkt`) verifies only with `dpop` and a proof by that key
   * (`ERR_DPOP_INVALID`, `ERR_DPOP_NONCE` otherwise); without `dpop` it is refused (RFC 9449 §7.1).
   */
  verify(token: string, options?: VerifyOptions): Promise<Readonly<AccessTokenClaims>> {
    return verifyPresented(this.#e, token, options);
  }

  /**
   * Checks the `DPoP` header of a request to a token endpoint (RFC 9449 §4.3): a `dpop+jwt`
   * signed by the public key in its header with ES256, EdDSA, RS256 or PS256, for this method and
   * URL, recent, never seen before (its `jti` is spent in the store), with a current nonce (§8)
   * unless `requireNonce` (default the option `dpop.requireNonce`) is false. Resolves to the key's thumbprint (`jkt`) to give
   * `login`, `refresh`, `issueClientToken` or `revoke`; rejects with `ERR_DPOP_INVALID`, or
   * `ERR_DPOP_NONCE` whose `nonce` the client must use (send it as `DPoP-Nonce`). With
   * `spend: false` the `jti` is not spent yet: give the proof to `refresh` (`proof`), which spends
   * it once the refresh is otherwise sound, so that a refused request writes nothing.
   *
   * The signature is checked last, and only for a request worth it: with `refreshToken` (the one
   * the request presents), its MAC is checked with the proof's key first — a forged token, or one
   * bound to another key, is refused as `refresh` would refuse it (`ERR_REFRESH_INVALID`) with no
   * signature checked; `beforeSignature` is called with the proof's key thumbprint once every
   * cheap check passed, and what it throws refuses the request likewise.
   */
  checkProof(
    proof: string | null | undefined,
    request: Pick<DpopRequest, 'method' | 'url' | 'requireNonce'> & {
      spend?: boolean;
      refreshToken?: string;
      beforeSignature?: (jkt: string) => void | Promise<void>;
    },
  ): Promise<DpopProof> {
    return checkRequestProof(this.#e, proof, request);
  }

  /** Spends a proof `checkProof` checked with `spend: false`, once the request it came with is otherwise sound; `ERR_DPOP_INVALID` if it was spent already. */
  spendProof(proof: DpopProof): Promise<void> {
    return this.#e.dpop.spend(proof);
  }

  /**
   * Spends the one-time id `id` until `expiresAt` (ms since the epoch) in the store's ledger, the
   * one DPoP proofs are spent in: true for the first caller on any instance, false for every later
   * one until then. The authorization-code grant spends each code with it (RFC 6749 §4.1.2).
   */
  async spendOnce(id: string, expiresAt: number): Promise<boolean> {
    argument(typeof id === 'string' && id.length > 0 && id.length <= 200, 'spendOnce needs an id of 1 to 200 characters.');
    await this.#e.ready();
    return this.#e.store.consumeJti(`once:${id}`, expiresAt, this.#e.now());
  }

  /** The DPoP nonce clients should use now (the `DPoP-Nonce` header, RFC 9449 §8), the same on every instance. */
  dpopNonce(): string {
    return this.#e.dpop.nonce();
  }

  /**
   * Verifies a JWT access token synchronously, from the verified-token cache or the `node:crypto`
   * fast path, with revocations from the in-process cache. Call `ready()` once before using it.
   * Throws a `BatonError`, never anything else.
   */
  verifyLocal(token: string, options?: Pick<VerifyOptions, 'audience'>): Readonly<AccessTokenClaims> {
    return bearerOnly(verifyLocal(this.#e, token, options?.audience ?? this.#e.o.audience));
  }

  /**
   * `verify` without a promise when it needs nothing asynchronous (a JWT, the engine ready, no
   * replay guard): the claims, or a thrown `BatonError`; `undefined` when `verify` must be
   * awaited. What middleware uses to pass a request on in the same tick.
   */
  verifySync(token: string, options?: VerifyOptions): Readonly<AccessTokenClaims> | undefined {
    return verifySync(this.#e, token, options);
  }

  /**
   * Exchanges a refresh token for a new pair (RFC 6749 §6), rotating it. A token of the current
   * generation advances the session; a retired one inside the grace window gets the current
   * pair (racing tabs, lost responses); a retired one outside it revokes the whole session
   * (`ERR_REFRESH_REUSED`, event `refresh.reused`). A session that ended — signed out, revoked,
   * kicked, timed out — is `ERR_SESSION_ENDED` with its `sessionEnd`. Other failures:
   * `ERR_REFRESH_INVALID` (not a token of a session here), `ERR_INVALID_SCOPE`, `ERR_RATE_LIMITED`,
   * `ERR_STORE_UNAVAILABLE` (nothing changed).
   */
  refresh(refreshToken: string, options: RefreshOptions = {}): Promise<TokenPair> {
    return refresh(this.#e, refreshToken, options);
  }

  /**
   * Revokes a refresh token (its whole session, RFC 7009 §2.1) or an access token (its `jti`,
   * until it expires). Unknown, invalid or expired tokens are not an error (RFC 7009 §2.2). With
   * `clientId`, a token issued to another client is refused (`ERR_INVALID_ARGUMENT`) and stays valid.
   * No DPoP proof is needed, bound tokens included; with `jkt` (a proof was sent), a token bound to
   * another key is refused (`ERR_DPOP_INVALID`) and stays valid.
   */
  revoke(token: string, options: RevokeOptions = {}): Promise<void> {
    return revoke(this.#e, token, options);
  }

  /**
   * Revokes one session: its refresh token stops working and its access tokens stop verifying,
   * on every instance. The reason (a `SessionEndReason`, or a string as before) and the session
   * that did it (`by`) are recorded and told to the holder of the session's tokens.
   * @example
   * ```ts
   * await baton.revokeSession(victimId, { reason: 'kicked', by: currentSessionId });
   * ```
   */
  revokeSession(sessionId: string, options: SessionRevocation | string = {}): Promise<boolean> {
    return revokeSession(this.#e, sessionId, typeof options === 'string' ? { reason: options } : options);
  }

  /** Revokes every session of `userId` but `except` (log out everywhere, or everywhere else), with a reason and who did it. */
  revokeUserSessions(userId: string, options: SessionRevocation & { except?: string } = {}): Promise<string[]> {
    return revokeUserSessions(this.#e, userId, options);
  }

  /**
   * After a password change: ends the user's other sessions (all of them without `except`) with
   * the reason `password_changed`, so that a device signed in with the old password is signed out
   * and told why.
   */
  passwordChanged(userId: string, options: { except?: string } = {}): Promise<string[]> {
    return revokeUserSessions(this.#e, userId, { ...options, reason: 'password_changed', ...(options.except === undefined ? {} : { by: options.except }) });
  }

  /** The user's active sessions (devices), oldest first. */
  listSessions(userId: string): Promise<SessionInfo[]> {
    return listSessions(this.#e, userId);
  }

  /**
   * The user's security history, newest first (at most 200 events): logins, rotation counts,
   * grace answers, reuse, and how each session ended and by whom — from the sessions the store
   * keeps (ended ones for a week, the 100 most recently ended). The first page of `sessionHistoryPage`.
   */
  sessionHistory(userId: string): Promise<SessionHistoryEvent[]> {
    return sessionHistory(this.#e, userId);
  }

  /**
   * One page of the user's security history: the events of up to 50 sessions, newest sessions
   * first, and `next` when older ones may follow (give it as `before`). Each page is one bounded
   * store read.
   */
  sessionHistoryPage(userId: string, options: { before?: string } = {}): Promise<SessionHistoryEvents> {
    return sessionHistoryPage(this.#e, userId, options);
  }

  /**
   * RFC 7662 introspection of an access or refresh token. Anything not currently valid is
   * `{ active: false }`, with no reason given (RFC 7662 §2.2).
   */
  introspect(token: string): Promise<IntrospectionResponse> {
    return introspect(this.#e, token);
  }

  /** The public JWKS document (RFC 7517 §5) of the asymmetric signing keys that still verify. */
  jwks(): { keys: PublicJwk[] } {
    return this.#e.o.ring.jwks(this.#e.now());
  }

  /**
   * Rotates the keys of one use — signing (default, of the active key's algorithm or `alg`),
   * encryption (`'enc'`) or refresh tokens (`'refresh'`): the pre-published key starts, the old
   * one retires but keeps verifying for as long as a token it made can live, a new key is
   * published for next time, and keys past that leave the ring. Then `persistKeys` saves it.
   */
  rotateKeys(use: KeyUse = 'sig', alg?: KeyAlg): Promise<{ active: string; next: string; dropped: string[] }> {
    return rotateKeys(this.#e, use, alg);
  }

  /**
   * Takes a key out of service at once, on every instance (a compromised key): tokens it signed
   * stop verifying, cached ones included; an active key is first replaced by its published
   * successor. `persistKeys` saves the ring before the removal travels through the store's
   * revocation feed; an instance that learns of it never takes the key back from a saved copy.
   * Keys from your configuration must leave it too. False when the ring has no such key.
   */
  revokeKey(kid: string): Promise<boolean> {
    return revokeKey(this.#e, kid);
  }

  /** Verifications since the engine started: by outcome, and how many the verified-token cache answered. */
  stats(): { verify: VerifyStats } {
    const { ok, cacheHits, byError } = this.#e.stats;
    return { verify: { ok, cacheHits, byError: { ...byError } } };
  }

  /**
   * Deletes what expired from the store (sessions, one-time ledger, opaque tokens, revocation
   * log, counters). Call it every few minutes; the standalone service does, every
   * `BATON_SWEEP_INTERVAL`.
   */
  sweep(): Promise<number> {
    return this.#e.store.sweep(this.#e.now());
  }

  /** Stops listening to the store's revocations. The store itself stays open (it is the caller's). */
  async close(): Promise<void> {
    this.#e.close();
  }
}

/**
 * Creates the token engine. Options are validated now: a mistake throws a `BatonConfigError`
 * whose message says what to change.
 * @example
 * ```ts
 * import { createBaton, generateKey } from 'baton-auth';
 * import { memoryStore } from 'baton-auth/stores/memory';
 * const baton = createBaton({
 *   issuer: 'https://auth.example.com',
 *   keys: [generateKey('EdDSA')],
 *   refreshTokenSecret: process.env.REFRESH_SECRET!,
 *   store: memoryStore(),
 * });
 * ```
 */
export function createBaton(options: BatonOptions): Baton {
  return new Baton(options);
}
