/**
 * The token engine: login, verify, refresh, revoke, introspect. Import from `baton-auth`.
 *
 * It knows nothing of HTTP; every decision that must be atomic is one store operation.
 */
import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import {
  checkClaims, decryptJwe, encryptJwe, hashToken, isOpaqueToken, JwtVerifier, newOpaqueToken, signJwt,
} from './access-token.ts';
import type { AccessTokenClaims, ClaimPolicy } from './access-token.ts';
import { BatonError, isBatonError } from './errors.ts';
import type { BatonEvent, BatonEventType } from './events.ts';
import type { KeyAlg, KeyRing, KeyUse, PublicJwk } from './keys.ts';
import { resolveOptions } from './options.ts';
import type { BatonOptions, ResolvedOptions } from './options.ts';
import { RefreshTokenCodec } from './refresh-token.ts';
import { RevocationCache } from './revocation-cache.ts';
import { outside, parseScope } from './scope.ts';
import { newSession } from './session-id.ts';
import type { DeviceInfo, RevocationEvent, SessionRecord, SessionSummary } from '../stores/types.ts';

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

/** Options of `refresh`. */
export interface RefreshOptions {
  /**
   * The client presenting the token (authenticated by the caller when it is confidential). A
   * session of any other client is refused with nothing changed (RFC 6749 §6, §10.4). Default
   * `'default'`, the client `login` assumes.
   */
  clientId?: string;
  /** A narrower scope for this access token (RFC 6749 §6); the session keeps its grant. More than the session's: `ERR_INVALID_SCOPE`. */
  scope?: string;
}

/** Options of `revoke`. */
export interface RevokeOptions {
  /** The client asking; a token issued to another client is refused and stays valid (RFC 7009 §2.1). Default: any client. */
  clientId?: string;
}

/** Options of `verify`. */
export interface VerifyOptions {
  /** Replay guard: accept this token once; a second use fails with `ERR_TOKEN_REPLAYED`. */
  oneTime?: boolean;
}

/** A session as shown to its user. Times are milliseconds since the epoch. */
export interface SessionInfo {
  id: string;
  clientId: string;
  device: DeviceInfo;
  scope: string;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number;
}

/** RFC 7662 §2.2 introspection response. */
export interface IntrospectionResponse {
  active: boolean;
  scope?: string;
  client_id?: string;
  username?: string;
  token_type?: string;
  exp?: number;
  iat?: number;
  nbf?: number;
  sub?: string;
  aud?: string | string[];
  iss?: string;
  jti?: string;
  sid?: string;
}

/** A verified token, its claims and the instant (ms) from which `exp` refuses it. */
interface CachedClaims {
  readonly token: string;
  readonly claims: Readonly<AccessTokenClaims>;
  readonly validUntilMs: number;
}

function unavailable(cause: unknown): BatonError {
  return isBatonError(cause) ? cause : new BatonError('ERR_STORE_UNAVAILABLE', 'the store did not answer', { cause });
}

/** A compact JWS has two dots (a JWE four); checked without allocating. */
function isThreeSegments(token: unknown): token is string {
  if (typeof token !== 'string') return false;
  const second = token.indexOf('.', token.indexOf('.') + 1);
  return second > 0 && token.indexOf('.', second + 1) === -1;
}

function argument(ok: boolean, message: string): void {
  if (!ok) throw new BatonError('ERR_INVALID_ARGUMENT', message);
}

/** The token engine. Create it with `createBaton`. */
export class Baton {
  readonly #o: ResolvedOptions;
  readonly #policy: ClaimPolicy;
  readonly #jwt: JwtVerifier;
  readonly #refresh: RefreshTokenCodec;
  readonly #revoked = new RevocationCache();
  readonly #cache: LRUCache<string, CachedClaims> | undefined;
  readonly #listeners = new Set<(event: BatonEvent) => void>();
  readonly #revocationListeners = new Set<(event: RevocationEvent) => void>();
  #ready = false;
  #starting: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(options: BatonOptions) {
    this.#o = resolveOptions(options);
    this.#policy = { issuer: this.#o.issuer, audience: this.#o.audience, leewaySec: this.#o.leewaySec };
    this.#jwt = new JwtVerifier(this.#o.ring);
    this.#refresh = new RefreshTokenCodec(this.#o.ring);
    this.#cache = this.#o.cacheMax > 0 ? new LRUCache({ max: this.#o.cacheMax }) : undefined;
    // A key that leaves the ring takes its verified tokens with it.
    this.#o.ring.onRemove(() => this.#cache?.clear());
    if (this.#o.onEvent) this.#listeners.add(this.#o.onEvent);
  }

  /** The `iss` of the tokens this engine issues. */
  get issuer(): string {
    return this.#o.issuer;
  }

  /** The engine's clock, in ms since the epoch: the `now` option (default `Date.now`), for helpers that must agree with it. */
  now(): number {
    return this.#o.now();
  }

  /** The key ring: add, rotate and list keys; `keys.jwks()` is the public JWKS. */
  get keys(): KeyRing {
    return this.#o.ring;
  }

  /** How long verifiers must remember a revocation: no token issued before it outlives this. */
  get #revocationTtlMs(): number {
    return this.#o.accessTtlMs + this.#o.leewaySec * 1000 + 60_000;
  }

  /**
   * Subscribes to the store's revocations and loads the ones in force. Called by every operation
   * on first use; call it at start-up to fail fast when the store is unreachable.
   */
  ready(): Promise<void> {
    if (this.#ready) return Promise.resolve();
    this.#starting ??= (async () => {
      try {
        this.#unsubscribe = await this.#o.store.subscribe((event) => this.#applyRevocation(event));
        for (const event of await this.#o.store.revocationsSince(this.#o.now())) {
          if (event.kind === 'key') this.#o.ring.drop(event.id);
          this.#revoked.apply(event);
        }
        this.#ready = true;
      } catch (cause) {
        this.#starting = undefined;
        throw unavailable(cause);
      }
    })();
    return this.#starting;
  }

  #applyRevocation(event: RevocationEvent): void {
    if (event.kind === 'key') this.#o.ring.drop(event.id);
    this.#revoked.apply(event);
    this.#revoked.prune(this.#o.now());
    for (const listener of this.#revocationListeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not stop the others.
      }
    }
  }

  /**
   * Listens to every revocation this instance learns of, its own and other instances' (through
   * the store): what long-lived connections need to close at once.
   */
  onRevocation(listener: (event: RevocationEvent) => void): () => void {
    this.#revocationListeners.add(listener);
    return () => this.#revocationListeners.delete(listener);
  }

  /** Listens to one event type, or to all with `'*'`. Returns a function that stops listening. */
  on(type: BatonEventType | '*', listener: (event: BatonEvent) => void): () => void {
    const wrapped = (event: BatonEvent): void => {
      if (type === '*' || event.type === type) listener(event);
    };
    this.#listeners.add(wrapped);
    return () => this.#listeners.delete(wrapped);
  }

  #emit(event: BatonEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not fail a token operation.
      }
    }
  }

  // ---- login ---------------------------------------------------------------------------------

  /**
   * Opens a session for `userId` and returns its first token pair. With `maxSessionsPerUser`,
   * the user's oldest sessions are evicted atomically and their access tokens stop verifying.
   * @example
   * ```ts
   * const pair = await baton.login('user-42', { clientId: 'web', device: { userAgent } });
   * ```
   */
  async login(userId: string, options: LoginOptions = {}): Promise<TokenPair> {
    argument(typeof userId === 'string' && userId.length > 0 && userId.length <= 256, 'login needs a user id: a string of 1 to 256 characters.');
    const clientId = options.clientId ?? 'default';
    argument(typeof clientId === 'string' && clientId.length > 0 && clientId.length <= 256, 'clientId must be a string of 1 to 256 characters.');
    const scope = parseScope(options.scope ?? this.#o.defaultScope).join(' ');
    await this.ready();
    const now = this.#o.now();
    const session = newSession({
      userId, clientId, scope, device: options.device ?? {}, now, maxAgeMs: this.#o.sessionMaxAgeMs, idleMs: this.#o.refreshTtlMs,
    });
    let evicted: string[];
    try {
      ({ evicted } = await this.#o.store.createSession(session, {
        maxSessionsPerUser: this.#o.maxSessionsPerUser,
        now,
        revocationTtlMs: this.#revocationTtlMs,
      }));
    } catch (cause) {
      throw unavailable(cause);
    }
    this.#emit({ type: 'session.created', at: now, sessionId: session.id, userId, clientId });
    for (const id of evicted) {
      this.#revokedLocally(id, now, 'evicted');
      this.#emit({ type: 'session.evicted', at: now, sessionId: id, userId });
    }
    return this.#issue(session, session.scope, now);
  }

  #revokedLocally(sessionId: string, now: number, reason: string): void {
    this.#applyRevocation({ kind: 'session', id: sessionId, at: now, expiresAt: now + this.#revocationTtlMs, reason });
  }

  async #issue(session: SessionSummary, scope: string, now: number): Promise<TokenPair> {
    const iat = Math.floor(now / 1000);
    const claims: AccessTokenClaims = {
      iss: this.#o.issuer,
      sub: session.userId,
      aud: this.#o.audience,
      exp: iat + Math.floor(this.#o.accessTtlMs / 1000),
      iat,
      jti: randomUUID(),
      sid: session.id,
      client_id: session.clientId,
    };
    if (scope !== '') claims.scope = scope;
    let accessToken: string;
    if (this.#o.tokenFormat === 'jwt') {
      accessToken = signJwt(claims, this.#o.ring.active('sig') as NonNullable<ReturnType<KeyRing['active']>>);
    } else if (this.#o.tokenFormat === 'jwe') {
      accessToken = await encryptJwe(claims, this.#o.ring.active('enc') as NonNullable<ReturnType<KeyRing['active']>>);
    } else {
      accessToken = newOpaqueToken();
      try {
        await this.#o.store.saveOpaqueToken(hashToken(accessToken), { claims, expiresAt: claims.exp * 1000 }, now);
      } catch (cause) {
        throw unavailable(cause);
      }
    }
    const pair: TokenPair = {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: claims.exp - iat,
      refresh_token: this.#refresh.mint(session.id, session.generation),
      refresh_expires_in: Math.max(0, Math.floor((Math.min(session.expiresAt, session.idleExpiresAt) - now) / 1000)),
      session_id: session.id,
    };
    if (scope !== '') pair.scope = scope;
    return pair;
  }

  // ---- verify --------------------------------------------------------------------------------

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
   * ```
   */
  verify(token: string, options?: VerifyOptions): Promise<Readonly<AccessTokenClaims>> {
    if (this.#ready && options?.oneTime !== true && isThreeSegments(token)) {
      try {
        return Promise.resolve(this.verifyLocal(token));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    return this.#verifySlow(token, options);
  }

  async #verifySlow(token: string, options: VerifyOptions | undefined): Promise<Readonly<AccessTokenClaims>> {
    try {
      await this.ready();
      const now = this.#o.now();
      let claims: Readonly<AccessTokenClaims>;
      if (typeof token === 'string' && isOpaqueToken(token)) {
        claims = await this.#verifyOpaque(token, now);
      } else if (typeof token === 'string' && token.length <= this.#o.maxTokenLength && token.split('.').length === 5) {
        claims = this.#checkRevoked(this.#lookup(token, now) ?? this.#remember(token, await decryptJwe(token, this.#o.ring, this.#policy, now)), now);
      } else {
        claims = this.verifyLocal(token);
      }
      if (options?.oneTime === true) {
        let first: boolean;
        try {
          first = await this.#o.store.consumeJti(claims.jti, (claims.exp + this.#o.leewaySec) * 1000, now);
        } catch (cause) {
          throw unavailable(cause);
        }
        if (!first) throw new BatonError('ERR_TOKEN_REPLAYED', 'the jti was already consumed');
      }
      return claims;
    } catch (err) {
      if (isBatonError(err)) throw err;
      throw new BatonError('ERR_TOKEN_INVALID', 'verification failed', { cause: err });
    }
  }

  /**
   * Verifies a JWT access token synchronously, from the verified-token cache or the `node:crypto`
   * fast path, with revocations from the in-process cache. Call `ready()` once before using it.
   * Throws a `BatonError`, never anything else.
   */
  verifyLocal(token: string): Readonly<AccessTokenClaims> {
    const now = this.#o.now();
    if (typeof token !== 'string') throw new BatonError('ERR_TOKEN_INVALID', 'the token is not a string');
    // Refused by length before any parsing or crypto: a megabyte of token costs nothing.
    if (token.length > this.#o.maxTokenLength) throw new BatonError('ERR_TOKEN_INVALID', 'the token is too long');
    if (this.#cache === undefined) return this.#checkRevoked(this.#jwt.verify(token, this.#policy, now), now);
    return this.#checkRevoked(this.#lookup(token, now) ?? this.#remember(token, this.#jwt.verify(token, this.#policy, now)), now);
  }

  /**
   * The verified-token cache is keyed by the token's last segment (its signature or tag): short,
   * so cheap to hash on every request; the entry holds the whole token, compared on every hit.
   */
  #lookup(token: string, now: number): Readonly<AccessTokenClaims> | undefined {
    const key = token.slice(token.lastIndexOf('.') + 1);
    const hit = this.#cache?.get(key);
    if (hit === undefined || hit.token !== token) return undefined;
    if (now >= hit.validUntilMs) {
      this.#cache?.delete(key);
      throw new BatonError('ERR_TOKEN_EXPIRED', 'exp is in the past');
    }
    return hit.claims;
  }

  #remember(token: string, claims: AccessTokenClaims): Readonly<AccessTokenClaims> {
    const frozen = Object.freeze(claims);
    this.#cache?.set(token.slice(token.lastIndexOf('.') + 1), { token, claims: frozen, validUntilMs: (claims.exp + this.#o.leewaySec) * 1000 });
    return frozen;
  }

  #checkRevoked<T extends Readonly<AccessTokenClaims>>(claims: T, now: number): T {
    if (this.#revoked.isSessionRevoked(claims.sid, now)) throw new BatonError('ERR_SESSION_REVOKED', 'the session is revoked');
    if (this.#revoked.isTokenRevoked(claims.jti, now)) throw new BatonError('ERR_TOKEN_REVOKED', 'the jti is on the denylist');
    return claims;
  }

  async #verifyOpaque(token: string, now: number): Promise<Readonly<AccessTokenClaims>> {
    let record;
    try {
      // Opaque tokens fail closed: no store, no answer.
      record = await this.#o.store.findOpaqueToken(hashToken(token), now);
    } catch (cause) {
      throw unavailable(cause);
    }
    if (record === null) throw new BatonError('ERR_TOKEN_INVALID', 'no such opaque token');
    return this.#checkRevoked(checkClaims(record.claims, this.#policy, now), now);
  }

  // ---- refresh -------------------------------------------------------------------------------

  /**
   * Exchanges a refresh token for a new pair (RFC 6749 §6), rotating it. A token of the current
   * generation advances the session; a retired one inside the grace window gets the current
   * pair (racing tabs, lost responses); a retired one outside it revokes the whole session
   * (`ERR_REFRESH_REUSED`, event `refresh.reused`). Other failures: `ERR_REFRESH_INVALID`,
   * `ERR_SESSION_EXPIRED`, `ERR_RATE_LIMITED`, `ERR_STORE_UNAVAILABLE` (nothing changed).
   */
  async refresh(refreshToken: string, options: RefreshOptions = {}): Promise<TokenPair> {
    const now = this.#o.now();
    const parsed = this.#refresh.parse(refreshToken, now);
    if (parsed === undefined) throw new BatonError('ERR_REFRESH_INVALID', 'malformed or forged refresh token');
    const clientId = options.clientId ?? 'default';
    argument(typeof clientId === 'string' && clientId.length > 0, 'clientId must be a non-empty string.');
    const narrowed = options.scope === undefined ? undefined : parseScope(options.scope);
    await this.ready();
    // A session's scope never changes, so a wider request is refused before anything rotates:
    // a failed refresh leaves the session as it was (RFC 6749 §6: no scope beyond the original grant).
    if (narrowed !== undefined) await this.#checkNarrower(parsed.sessionId, narrowed);
    let result;
    try {
      result = await this.#o.store.rotate({
        sessionId: parsed.sessionId,
        generation: parsed.generation,
        clientId,
        now,
        graceMs: this.#o.graceMs,
        idleTtlMs: this.#o.refreshTtlMs,
        revocationTtlMs: this.#revocationTtlMs,
        ...(this.#o.rateLimit === undefined ? {} : { rateLimit: this.#o.rateLimit }),
        graceLimit: this.#o.graceLimit,
      });
    } catch (cause) {
      throw unavailable(cause);
    }
    const session = result.session;
    switch (result.status) {
      case 'rotated':
      case 'replayed_in_grace': {
        const s = session as SessionSummary;
        this.#emit({ type: 'refresh.rotated', at: now, sessionId: s.id, userId: s.userId, generation: s.generation, inGrace: result.status !== 'rotated' });
        return this.#issue(s, narrowed === undefined ? s.scope : narrowed.join(' '), now);
      }
      case 'reused':
        this.#revokedLocally(parsed.sessionId, now, 'reused');
        this.#emit({ type: 'refresh.reused', at: now, sessionId: parsed.sessionId, userId: session?.userId ?? '', presentedGeneration: parsed.generation });
        this.#emit({ type: 'session.revoked', at: now, sessionId: parsed.sessionId, reason: 'reused' });
        throw new BatonError('ERR_REFRESH_REUSED', `generation ${parsed.generation} was retired; the session is revoked`);
      case 'expired':
        throw new BatonError('ERR_SESSION_EXPIRED', 'the session reached its idle or absolute lifetime');
      case 'rate_limited':
        throw new BatonError('ERR_RATE_LIMITED', 'refresh rate limit of the session', { retryAfterMs: result.retryAfterMs ?? 1000 });
      case 'revoked':
        throw new BatonError('ERR_REFRESH_INVALID', 'the session is revoked');
      default:
        throw new BatonError('ERR_REFRESH_INVALID', 'no such session for this client, or a generation ahead of it');
    }
  }

  async #checkNarrower(sessionId: string, requested: string[]): Promise<void> {
    let session: SessionRecord | null;
    try {
      session = await this.#o.store.getSession(sessionId);
    } catch (cause) {
      throw unavailable(cause);
    }
    if (session !== null && outside(requested, parseScope(session.scope)).length > 0) throw new BatonError('ERR_INVALID_SCOPE', 'scope wider than the session');
  }

  // ---- revoke --------------------------------------------------------------------------------

  /**
   * Revokes a refresh token (its whole session, RFC 7009 §2.1) or an access token (its `jti`,
   * until it expires). Unknown, invalid or expired tokens are not an error (RFC 7009 §2.2). With
   * `clientId`, a token issued to another client is refused (`ERR_INVALID_ARGUMENT`) and stays valid.
   */
  async revoke(token: string, options: RevokeOptions = {}): Promise<void> {
    if (typeof token !== 'string') return;
    const now = this.#o.now();
    if (RefreshTokenCodec.looksLike(token)) {
      const parsed = this.#refresh.parse(token, now);
      if (parsed === undefined) return;
      if (options.clientId !== undefined) {
        let session: SessionRecord | null;
        try {
          session = await this.#o.store.getSession(parsed.sessionId);
        } catch (cause) {
          throw unavailable(cause);
        }
        if (session === null) return;
        this.#sameClient(session.clientId, options.clientId);
      }
      await this.revokeSession(parsed.sessionId, 'revoked');
      return;
    }
    let claims: Readonly<AccessTokenClaims>;
    try {
      claims = await this.verify(token);
    } catch (err) {
      if (isBatonError(err) && err.code === 'ERR_STORE_UNAVAILABLE') throw err;
      return;
    }
    if (options.clientId !== undefined) this.#sameClient(claims.client_id, options.clientId);
    await this.ready();
    const until = (claims.exp + this.#o.leewaySec) * 1000;
    try {
      if (isOpaqueToken(token)) await this.#o.store.deleteOpaqueToken(hashToken(token));
      await this.#o.store.denyJti(claims.jti, until, now);
    } catch (cause) {
      throw unavailable(cause);
    }
    this.#applyRevocation({ kind: 'token', id: claims.jti, at: now, expiresAt: until, reason: 'revoked' });
    this.#emit({ type: 'token.revoked', at: now, jti: claims.jti, sessionId: claims.sid });
  }

  #sameClient(owner: string, caller: string): void {
    if (owner !== caller) throw new BatonError('ERR_INVALID_ARGUMENT', 'The token was not issued to this client');
  }

  /** Revokes one session: its refresh token stops working and its access tokens stop verifying. */
  async revokeSession(sessionId: string, reason = 'revoked'): Promise<boolean> {
    argument(typeof sessionId === 'string' && sessionId.length > 0, 'revokeSession needs a session id.');
    await this.ready();
    const now = this.#o.now();
    let revoked: boolean;
    try {
      revoked = await this.#o.store.revokeSession(sessionId, { now, reason, revocationTtlMs: this.#revocationTtlMs });
    } catch (cause) {
      throw unavailable(cause);
    }
    if (revoked) {
      this.#revokedLocally(sessionId, now, reason);
      this.#emit({ type: 'session.revoked', at: now, sessionId, reason });
    }
    return revoked;
  }

  /** Revokes every session of `userId` but `except` (log out everywhere, or everywhere else). */
  async revokeUserSessions(userId: string, options: { except?: string; reason?: string } = {}): Promise<string[]> {
    argument(typeof userId === 'string' && userId.length > 0, 'revokeUserSessions needs a user id.');
    await this.ready();
    const now = this.#o.now();
    const reason = options.reason ?? 'revoked';
    let ids: string[];
    try {
      ids = await this.#o.store.revokeUserSessions(userId, {
        now,
        reason,
        revocationTtlMs: this.#revocationTtlMs,
        ...(options.except === undefined ? {} : { except: options.except }),
      });
    } catch (cause) {
      throw unavailable(cause);
    }
    for (const id of ids) {
      this.#revokedLocally(id, now, reason);
      this.#emit({ type: 'session.revoked', at: now, sessionId: id, reason });
    }
    return ids;
  }

  /** The user's active sessions (devices), oldest first. */
  async listSessions(userId: string): Promise<SessionInfo[]> {
    argument(typeof userId === 'string' && userId.length > 0, 'listSessions needs a user id.');
    await this.ready();
    let sessions: SessionRecord[];
    try {
      sessions = await this.#o.store.listSessions(userId, this.#o.now());
    } catch (cause) {
      throw unavailable(cause);
    }
    return sessions.map((s) => ({
      id: s.id,
      clientId: s.clientId,
      device: s.device,
      scope: s.scope,
      createdAt: s.createdAt,
      lastUsedAt: s.lastUsedAt,
      expiresAt: Math.min(s.expiresAt, s.idleExpiresAt),
    }));
  }

  // ---- introspect ----------------------------------------------------------------------------

  /**
   * RFC 7662 introspection of an access or refresh token. Anything not currently valid is
   * `{ active: false }`, with no reason given (RFC 7662 §2.2).
   */
  async introspect(token: string): Promise<IntrospectionResponse> {
    if (typeof token !== 'string') return { active: false };
    if (RefreshTokenCodec.looksLike(token)) {
      const parsed = this.#refresh.parse(token, this.#o.now());
      if (parsed === undefined) return { active: false };
      let session: SessionRecord | null;
      try {
        session = await this.#o.store.getSession(parsed.sessionId);
      } catch (cause) {
        throw unavailable(cause);
      }
      const now = this.#o.now();
      if (session === null || session.generation !== parsed.generation || session.revokedAt !== null) return { active: false };
      const end = Math.min(session.expiresAt, session.idleExpiresAt);
      if (now >= end) return { active: false };
      return {
        active: true,
        token_type: 'refresh_token',
        client_id: session.clientId,
        sub: session.userId,
        username: session.userId,
        scope: session.scope,
        iss: this.#o.issuer,
        exp: Math.floor(end / 1000),
        iat: Math.floor(session.rotatedAt / 1000),
        sid: session.id,
      };
    }
    try {
      const c = await this.verify(token);
      const out: IntrospectionResponse = {
        active: true,
        token_type: 'Bearer',
        client_id: c.client_id,
        sub: c.sub,
        username: c.sub,
        aud: c.aud,
        iss: c.iss,
        exp: c.exp,
        iat: c.iat,
        jti: c.jti,
        sid: c.sid,
      };
      if (c.scope !== undefined) out.scope = c.scope;
      if (c.nbf !== undefined) out.nbf = c.nbf;
      return out;
    } catch (err) {
      if (isBatonError(err) && err.code === 'ERR_STORE_UNAVAILABLE') throw err;
      return { active: false };
    }
  }

  // ---- keys and housekeeping -----------------------------------------------------------------

  /** The public JWKS document (RFC 7517 §5) of the asymmetric signing keys that still verify. */
  jwks(): { keys: PublicJwk[] } {
    return this.#o.ring.jwks(this.#o.now());
  }

  /**
   * Rotates the keys of one use — signing (default, of the active key's algorithm or `alg`),
   * encryption (`'enc'`) or refresh tokens (`'refresh'`): the pre-published key starts, the old
   * one retires but keeps verifying for as long as a token it made can live, a new key is
   * published for next time, and keys past that leave the ring.
   */
  rotateKeys(use: KeyUse = 'sig', alg?: KeyAlg): { active: string; next: string; dropped: string[] } {
    const current = this.#o.ring.active(use);
    const { active, next, dropped } = this.#o.ring.rotate(alg ?? current?.alg ?? (use === 'enc' ? 'dir' : 'HS256'), this.#o.now(), use);
    return { active: active.kid, next: next.kid, dropped };
  }

  /**
   * Takes a key out of service at once, on every instance (a compromised key): tokens it signed
   * stop verifying, cached ones included; an active key is first replaced by its published
   * successor. The removal travels through the store's revocation feed; an instance that learns
   * of it never takes the key back from a saved copy. `persist` saves the ring where the other
   * instances read it (the standalone service's sealed ring) before they hear of the removal;
   * keys from your configuration must leave it too. False when the ring has no such key.
   */
  async revokeKey(kid: string, options: { persist?: (ring: KeyRing) => Promise<void> } = {}): Promise<boolean> {
    await this.ready();
    const now = this.#o.now();
    if (!this.#o.ring.remove(kid, now)) return false;
    await options.persist?.(this.#o.ring);
    try {
      await this.#o.store.announce({ kind: 'key', id: kid, at: now, expiresAt: now + this.#revocationTtlMs, reason: 'key_revoked' });
    } catch (cause) {
      throw unavailable(cause);
    }
    return true;
  }

  /** Deletes expired sessions, denylist entries and revocations from the store. */
  async sweep(): Promise<number> {
    try {
      return await this.#o.store.sweep(this.#o.now());
    } catch (cause) {
      throw unavailable(cause);
    }
  }

  /** Stops listening to the store's revocations. The store itself stays open (it is the caller's). */
  async close(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#ready = false;
    this.#starting = undefined;
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
