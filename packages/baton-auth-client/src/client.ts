/**
 * The client SDK: keeps a user logged in against any OAuth 2.0 server (RFC 6749 §6 refresh grant,
 * RFC 7009 revocation, RFC 8414 discovery). Import from `baton-auth-client`; Node-only storage from
 * `baton-auth-client/node`.
 *
 * - proactive refresh a margin before expiry (with jitter), computed from `expires_in` and this
 *   machine's clock when the response arrived, never from the server's `exp`;
 * - refresh-and-retry once on 401;
 * - single-flight: one refresh at a time, every waiting request gets its result; across tabs or
 *   processes through the storage's lock, re-reading shared storage before refreshing;
 * - tokens only to the issuer's origin and `allowedOrigins`; discovery checks the metadata's issuer;
 * - only the server ends a session: `invalid_grant` → re-read shared storage (another tab or
 *   process may have rotated), then `sessionExpired` with the server's reason; a rejected client
 *   → `error`, tokens kept; 429, 5xx, network errors and non-OAuth answers → capped, jittered
 *   backoff honouring `Retry-After`, the session kept;
 * - timers on the monotonic and the wall clock, checked again on wake-up, focus and network return;
 * - DPoP (RFC 9449) when the server offers ES256: a proof on every token request and, for bound
 *   tokens, `Authorization: DPoP` with a proof on every request to the allowed origins; one retry
 *   on `use_dpop_nonce`; the key kept by the storage, so tabs and processes share it.
 *
 * @example
 * ```ts
 * import { createTokenClient, memoryStorage } from 'baton-auth-client';
 * const client = createTokenClient({ issuer: 'https://auth.example.com', clientId: 'web' });
 * await client.setTokens(await loginResponse.json());
 * const res = await client.fetch('https://api.example.com/orders');
 * client.on('sessionExpired', () => showLogin());
 * ```
 */

import { discover, isRedirect } from './discovery.ts';
import type { Endpoints } from './discovery.ts';
import { DPOP_ALG, DpopSigner, isDpopKeyPair, NonceBook } from './dpop.ts';
import { BatonClientError, SessionExpiredError, SignInError, TransientRefreshError } from './errors.ts';
import { authorizedFetch } from './fetch.ts';
import { absolute, originPolicy, requireSecure } from './origins.ts';
import { clientRequest, postToken, refreshGrant, retryAfterMs } from './refresher.ts';
import type { GrantResult, TokenDpop } from './refresher.ts';
import { Scheduler } from './schedule.ts';
import { memoryStorage } from './storage.ts';
import { refreshMargin, tokensFrom } from './tokens.ts';
import type { StoredTokens, TokenClientEvents, TokenClientOptions, TokenResponse, TokenStorage } from './types.ts';
import { authenticatedSocket } from './websocket.ts';
import type { AuthenticatedSocket, WebSocketOptions } from './websocket.ts';

type Listener<K extends keyof TokenClientEvents> = (payload: TokenClientEvents[K]) => void;

/** A refresh's outcome, shared by every client of one storage on this page or in this process. */
interface Refreshed {
  tokens: StoredTokens;
  /** False when another tab or process had refreshed already. */
  fresh: boolean;
  serverDate: number | undefined;
}

/**
 * Refreshes in flight, by storage — its `id` with the server and client id, else the storage
 * object itself: a second client on the same page (React Strict Mode mounts twice) joins the
 * first's refresh instead of racing it.
 */
const inflight = new Map<unknown, Promise<Refreshed>>();

/** A device clock further than this from the server's is worth a warning. */
const SKEW_WARNING_MS = 60_000;

/** The client. Create it with `createTokenClient`. */
export class TokenClient {
  readonly #o: TokenClientOptions;
  readonly #storage: TokenStorage;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #allowed: (origin: string) => boolean;
  readonly #scheduler: Scheduler;
  #endpoints: Promise<Endpoints> | undefined;
  readonly #listeners = new Map<keyof TokenClientEvents, Set<(p: never) => void>>();
  readonly #stops: (() => void)[] = [];
  #clockOffset = 0;
  readonly #sharingKey: unknown;
  /** The DPoP signer once made. */
  #dpop: Promise<TokenDpop> | undefined;
  readonly #nonces = new NonceBook();

  constructor(options: TokenClientOptions) {
    if (!options.issuer && !options.endpoints) throw new TypeError('createTokenClient needs `issuer` (for RFC 8414 discovery) or `endpoints: { token }`.');
    if (options.clientAuthentication && options.clientId === undefined) throw new TypeError('`clientAuthentication` needs the `clientId` it authenticates.');
    if (options.endpoints) {
      // Resolved once, here: a relative endpoint of a web page, against the document's base URL.
      const token = requireSecure(options.endpoints.token, 'token endpoint').href;
      const revocation = options.endpoints.revocation === undefined ? undefined : requireSecure(options.endpoints.revocation, 'revocation endpoint').href;
      options = { ...options, endpoints: { token, ...(revocation === undefined ? {} : { revocation }) } };
    }
    if (typeof options.dpop === 'object' && !isDpopKeyPair(options.dpop.keyPair)) throw new TypeError('`dpop.keyPair` must be an ECDSA P-256 CryptoKeyPair (crypto.subtle.generateKey({ name: \'ECDSA\', namedCurve: \'P-256\' }, false, [\'sign\', \'verify\'])).');
    this.#o = options;
    this.#storage = options.storage ?? memoryStorage();
    if (options.dpop === true && this.#storage.dpopKey === undefined) throw new TypeError('`dpop: true` needs a storage that keeps a DPoP key (memoryStorage, browserStorage, fileStorage), or the key pair itself: `dpop: { keyPair }`.');
    this.#fetch = options.fetch ?? ((...args) => fetch(...args));
    this.#now = options.now ?? Date.now;
    this.#allowed = originPolicy(options);
    // Refreshes are shared by the clients of one storage for one server and client id.
    this.#sharingKey = this.#storage.id === undefined ? this.#storage : `${this.#storage.id}\n${options.issuer ?? options.endpoints?.token}\n${options.clientId ?? ''}`;
    const monotonic = options.monotonic ?? (() => performance.now());
    this.#scheduler = new Scheduler({ now: this.#now, monotonic }, (t) => refreshMargin(t, options), () => this.#check());
    if (options.background) {
      this.#scheduler.watch(() => this.#check());
      void this.#storage.get().then((t) => t && this.#schedule(t));
    }
    // Tokens cleared by another tab or process (a logout there): this one is signed out too.
    const unsubscribe = this.#storage.subscribe?.((tokens) => {
      if (tokens === null) {
        this.#held = false;
        this.#scheduler.unschedule();
        this.#emit('sessionExpired', { reason: 'signed_out_elsewhere' });
      } else this.#schedule(tokens);
    });
    const unwarn = this.#storage.onWarning?.((warning) => this.#emit('warning', warning));
    for (const stop of [unsubscribe, unwarn]) if (stop) this.#stops.push(stop);
  }

  /** Listens to an event; returns a function that stops listening. */
  on<K extends keyof TokenClientEvents>(event: K, listener: Listener<K>): () => void {
    let set = this.#listeners.get(event);
    if (set === undefined) this.#listeners.set(event, (set = new Set()));
    set.add(listener as (p: never) => void);
    return () => set.delete(listener as (p: never) => void);
  }

  #emit<K extends keyof TokenClientEvents>(event: K, payload: TokenClientEvents[K]): void {
    for (const l of this.#listeners.get(event) ?? []) {
      try {
        (l as Listener<K>)(payload);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  /** The server's clock minus this device's, in ms, as the `Date` of the last token response said (to a second). */
  get clockOffset(): number {
    return this.#clockOffset;
  }

  #endpointsOf(): Promise<Endpoints> {
    this.#endpoints ??= (this.#o.endpoints ? Promise.resolve(this.#o.endpoints) : discover(this.#o.issuer as string, this.#fetch)).catch((err: unknown) => {
      this.#endpoints = undefined;
      throw err;
    });
    return this.#endpoints;
  }

  /**
   * DPoP's signer, made once: with the app's key pair, or the storage's key; none with
   * `dpop: false` or a storage that cannot share a key with its tokens.
   */
  #signer(): Promise<TokenDpop | undefined> {
    const option = this.#o.dpop;
    const keep = this.#storage.dpopKey?.bind(this.#storage);
    if (option === false || (typeof option !== 'object' && keep === undefined)) return Promise.resolve(undefined);
    this.#dpop ??= (async (): Promise<TokenDpop> => {
      const pair = typeof option === 'object' ? option.keyPair : await (keep as NonNullable<typeof keep>)(`${this.#o.issuer ?? this.#o.endpoints?.token}\n${this.#o.clientId ?? ''}`);
      // iat on the server's clock, as far as the `Date` of its token responses told.
      return {
        signer: new DpopSigner(pair, () => this.#now() + this.#clockOffset),
        nonces: this.#nonces,
        clock: (serverDate, receivedAt) => this.#noteServerDate(serverDate, receivedAt),
      };
    })().catch((err: unknown) => {
      this.#dpop = undefined;
      throw err;
    });
    return this.#dpop;
  }

  /**
   * Whether requests sign with DPoP: for a `bound` session always (whatever the metadata says now —
   * an old document, a rolled-back configuration — its tokens never go out as Bearer; without a key,
   * `ERR_DPOP_KEY_MISSING`), else with the app's key pair, `dpop: true`, or metadata listing ES256.
   */
  async #dpopOf(bound = false): Promise<TokenDpop | undefined> {
    const option = this.#o.dpop;
    const offered = bound || typeof option === 'object' || option === true || (option !== false && (await this.#endpointsOf()).dpopAlgs?.includes(DPOP_ALG) === true);
    const dpop = offered ? await this.#signer() : undefined;
    if (bound && dpop === undefined) throw new BatonClientError('ERR_DPOP_KEY_MISSING', 'The session is bound to a DPoP key and this client has none (dpop: false, or a storage that keeps no key): give it the storage that holds the key, or dpop: { keyPair }.');
    return dpop;
  }

  /**
   * The RFC 7638 thumbprint of this client's DPoP key (what the server binds the session to), or
   * undefined when DPoP is off. Every tab or process sharing the storage has the same one.
   */
  async dpopThumbprint(): Promise<string | undefined> {
    return (await this.#dpopOf())?.signer.thumbprint();
  }

  /**
   * Signs in: POSTs `fields` form-encoded to `url` (the server's login endpoint, e.g. Baton's
   * `/auth/login` with `username` and `password`), with `client_id` (or the client's secret) and,
   * with DPoP, a proof — once more with the server's nonce if it asks (`use_dpop_nonce`), so the
   * session is bound to this client's key — then stores the tokens it answers. In cookie mode the
   * request carries credentials, so the refresh cookie is kept. Throws `SignInError`
   * (`ERR_SIGN_IN_REFUSED`, with the server's OAuth `error`) when refused, `TransientRefreshError`
   * when the server cannot be reached.
   *
   * @example
   * ```ts
   * await client.signIn('/auth/login', { username, password, refresh_token_delivery: 'cookie' });
   * ```
   */
  async signIn(url: string | URL, fields: Record<string, string>): Promise<StoredTokens> {
    const endpoint = requireSecure(String(url), 'sign-in endpoint').href;
    // The clock follows the authorization server only: a sign-in endpoint elsewhere (a page's own
    // backend) does not date the proofs the server checks.
    const ours = absolute(endpoint).origin === absolute((await this.#endpointsOf()).token).origin;
    const signer = await this.#dpopOf();
    const dpop = signer === undefined || ours ? signer : { ...signer, clock: () => undefined };
    const { body, headers } = clientRequest(fields, this.#o.clientId, this.#o.clientAuthentication?.secret);
    let answer;
    try {
      answer = await postToken(this.#fetch, endpoint, body, headers, { cookie: this.#o.mode === 'cookie', dpop, now: this.#now });
    } catch (err) {
      throw new TransientRefreshError(`The sign-in endpoint could not be reached: ${(err as Error).message}`, { cause: err });
    }
    const receivedAt = this.#now();
    const { res, json } = answer;
    if (isRedirect(res)) throw new SignInError(`The sign-in endpoint ${endpoint} redirects (HTTP ${res.status}); credentials are never sent after a redirect.`, { status: res.status });
    const r = json as (TokenResponse & { error?: unknown; error_description?: unknown }) | undefined;
    if (res.ok && typeof r?.access_token === 'string') {
      if (ours) this.#noteServerDate(Date.parse(res.headers.get('date') ?? ''), receivedAt);
      return this.setTokens(r, receivedAt);
    }
    const error = typeof r?.error === 'string' ? r.error : undefined;
    const description = typeof r?.error_description === 'string' ? r.error_description : undefined;
    throw new SignInError(`Sign-in refused (HTTP ${res.status}${error === undefined ? '' : `, ${error}`})${description === undefined ? '' : `: ${description}`}`, {
      status: res.status, error, errorDescription: description, retryAfterMs: retryAfterMs(res.headers.get('retry-after'), this.#now()),
    });
  }

  /** Stores tokens from a token response (after login); expiry is measured from now on this clock. */
  async setTokens(response: TokenResponse, receivedAt = this.#now()): Promise<StoredTokens> {
    const tokens = tokensFrom(response, receivedAt, undefined, this.#o.mode);
    await this.#storage.set(tokens);
    this.#held = true;
    this.#schedule(tokens);
    return tokens;
  }

  #needsRefresh(tokens: StoredTokens): boolean {
    return tokens.expiresAt - this.#now() <= refreshMargin(tokens, this.#o);
  }

  /** A valid access token, refreshed first if it is within the margin of expiry. */
  async getAccessToken(): Promise<string> {
    return (await this.#validTokens()).accessToken;
  }

  /**
   * Whether this client saw a session in its storage that it has not ended itself: tokens gone
   * from a storage that tells no one (a token file shared by processes) then mean another tab or
   * process signed out, and the first call that finds them gone says so once.
   */
  #held = false;

  /**
   * The storage has no tokens: `signed_out_elsewhere` (once) when this client held a session, else
   * not signed in. `emit`: say so here (a refresh's failure is told by `refresh` itself).
   */
  #none(emit: boolean): SessionExpiredError {
    if (!this.#held) return new SessionExpiredError('Not signed in', 'ERR_NOT_SIGNED_IN');
    this.#held = false;
    this.#scheduler.unschedule();
    const end = { reason: 'signed_out_elsewhere' };
    if (emit) this.#emit('sessionExpired', end);
    return new SessionExpiredError('Signed out in another tab or process', 'ERR_SESSION_ENDED', end);
  }

  async #validTokens(): Promise<StoredTokens> {
    const tokens = await this.#storage.get();
    if (tokens === null) throw this.#none(true);
    this.#held = true;
    if (!this.#needsRefresh(tokens)) return tokens;
    try {
      return await this.refresh(tokens.accessToken);
    } catch (err) {
      // A failed refresh that ended nothing while the current token still works: use it and try again later.
      if (err instanceof BatonClientError && !(err instanceof SessionExpiredError) && tokens.expiresAt > this.#now()) return tokens;
      throw err;
    }
  }

  /** The headers that carry `tokens` on a `method` request to `url`: Bearer, or DPoP with a fresh proof for a bound token. */
  async #authorization(method: string, url: string, tokens: StoredTokens): Promise<Record<string, string>> {
    if (tokens.tokenType !== 'DPoP') return { authorization: `Bearer ${tokens.accessToken}` };
    const dpop = await this.#dpopOf(true) as TokenDpop;
    return {
      authorization: `DPoP ${tokens.accessToken}`,
      dpop: await dpop.signer.proof(method, url, { nonce: this.#nonces.get(url), accessToken: tokens.accessToken }),
    };
  }

  /**
   * The headers that carry the access token on a `method` request to `url`, for HTTP clients
   * other than `client.fetch`: `authorization` (`Bearer …`, or `DPoP …` for a DPoP-bound token,
   * with a fresh proof in `dpop`). Refreshes first near expiry. Throws `ERR_ORIGIN_NOT_ALLOWED`
   * for a URL the client does not send tokens to.
   */
  async authorizationHeaders(method: string, url: string | URL): Promise<Record<string, string>> {
    const href = absolute(String(url)).href;
    if (!this.sendsTokenTo(href)) throw new BatonClientError('ERR_ORIGIN_NOT_ALLOWED', `Access tokens are not sent to ${new URL(href).origin}: add it to the client's allowedOrigins if it is your API.`);
    return this.#authorization(method, href, await this.#validTokens());
  }

  /**
   * Remembers a `DPoP-Nonce` header's value from a response of `url` (RFC 9449 §8, §9) for the
   * next proof to its origin, for HTTP clients other than `client.fetch`, which does it itself.
   */
  noteDpopNonce(url: string | URL, nonce: string | null | undefined): void {
    this.#nonces.set(absolute(String(url)).href, nonce);
  }

  /** The background check: refresh if due, else set the timer again; failures are reported as events, never thrown. */
  #check(): void {
    void this.#storage.get().then(async (t) => {
      if (t === null) return;
      if (this.#needsRefresh(t)) await this.getAccessToken();
      else this.#schedule(t);
    }).catch(() => undefined);
  }

  /**
   * Refreshes the tokens: at most one refresh in flight for a storage on this page or in this
   * process (every caller, of every client over it, shares it); across tabs or processes the
   * storage's lock is held around read → refresh → write, and a refresh someone else already made
   * is used instead of spending the refresh token again. `seenAccessToken` is the access token the
   * caller found stale; if the stored one differs, it is already new.
   */
  refresh(seenAccessToken?: string): Promise<StoredTokens> {
    const key = this.#sharingKey;
    let shared = inflight.get(key);
    if (shared === undefined) {
      const run = () => this.#refreshLocked(seenAccessToken);
      shared = (this.#storage.withLock ? this.#storage.withLock(run) : run()).finally(() => inflight.delete(key));
      inflight.set(key, shared);
    }
    return shared.then((r) => this.#refreshed(r), (err: unknown) => {
      if (err instanceof SessionExpiredError) {
        this.#scheduler.unschedule();
        this.#held = false;
        if (err.end !== undefined) this.#emit('sessionExpired', err.end);
      } else this.#emit('error', err as Error);
      throw err;
    });
  }

  #refreshed({ tokens, fresh, serverDate }: Refreshed): StoredTokens {
    this.#schedule(tokens);
    if (!fresh) return tokens;
    if (serverDate !== undefined) this.#noteServerDate(serverDate, tokens.receivedAt);
    this.#emit('refreshed', tokens);
    return tokens;
  }

  /** The clock offset from a token response's `Date` (ms, NaN when absent), with a warning when it is large. */
  #noteServerDate(serverDate: number, receivedAt: number): void {
    if (Number.isNaN(serverDate)) return;
    const offset = serverDate - receivedAt;
    if (Math.abs(offset) > SKEW_WARNING_MS && Math.abs(this.#clockOffset) <= SKEW_WARNING_MS) {
      const minutes = Math.round(Math.abs(offset) / 60_000);
      this.#emit('warning', { kind: 'clock_skew', offsetMs: offset, message: `This device's clock is ${minutes} min ${offset > 0 ? 'behind' : 'ahead of'} the server's; tokens are timed from the server's lifetimes, so sessions still refresh on time.` });
    }
    this.#clockOffset = offset;
  }

  async #refreshLocked(seenAccessToken: string | undefined): Promise<Refreshed> {
    const stored = await this.#storage.get();
    // In cookie mode a page that has no tokens yet (a reload) may still hold the refresh cookie.
    if (stored === null && this.#o.mode !== 'cookie') throw this.#none(false);
    const current: StoredTokens = stored ?? { accessToken: '', receivedAt: 0, expiresAt: 0 };
    if (seenAccessToken !== undefined && current.accessToken !== seenAccessToken && !this.#needsRefresh(current)) {
      return { tokens: current, fresh: false, serverDate: undefined }; // another tab or process refreshed while we waited for the lock
    }
    const { token } = await this.#endpointsOf();
    const dpop = await this.#dpopOf(current.tokenType === 'DPoP');
    const result: GrantResult = await refreshGrant({
      endpoint: token, refreshToken: current.refreshToken, clientId: this.#o.clientId, clientSecret: this.#o.clientAuthentication?.secret,
      cookie: this.#o.mode === 'cookie', retry: this.#o.retry, fetch: this.#fetch, now: this.#now, dpop,
    });
    if (result.ok) {
      const tokens = tokensFrom(result.response, result.receivedAt, current, this.#o.mode, dpop !== undefined);
      await this.#storage.set(tokens); // persisted before anyone uses it
      this.#held = true;
      return { tokens, fresh: true, serverDate: result.serverDate };
    }
    // invalid_grant: maybe another tab or process rotated meanwhile.
    const again = await this.#storage.get();
    if (again !== null && again.refreshToken !== current.refreshToken && again.accessToken !== current.accessToken) return { tokens: again, fresh: false, serverDate: undefined };
    await this.#storage.clear();
    this.#held = false;
    throw new SessionExpiredError(`The session ended (${result.end.reason})`, 'ERR_SESSION_ENDED', result.end);
  }

  /**
   * `fetch` with `Authorization: Bearer` (or `DPoP` and a proof, for a DPoP-bound token) for the
   * issuer's origin and `allowedOrigins`: refreshes first when the token is about to expire, and
   * once more then retries once on a 401 (a 401 `use_dpop_nonce` is retried once with the
   * server's nonce instead). Any other origin is fetched as it is, without a token, and its 401
   * refreshes nothing. A request whose body cannot be replayed is not retried.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    return authorizedFetch({
      tokens: () => this.#validTokens(),
      refresh: (seen) => this.refresh(seen),
      sendsTokenTo: (url) => this.sendsTokenTo(url),
      authorization: (method, url, tokens) => this.#authorization(method, url, tokens),
      noteNonce: (url, response) => this.#nonces.note(url, response),
    }, this.#fetch, this.#o.hooks, new Request(input, init));
  }

  /** Whether this client sends its access token to `url`: the issuer's origin and `allowedOrigins` only. */
  sendsTokenTo(url: string | URL): boolean {
    try {
      return this.#allowed(absolute(String(url)).origin);
    } catch {
      return false;
    }
  }

  /**
   * Revokes the refresh token at the server (RFC 7009) and clears the tokens. With DPoP the
   * request carries a proof by the session's key (RFC 7009 asks none; one that is sent must be by
   * the token's key).
   */
  async logout(): Promise<void> {
    const tokens = await this.#storage.get();
    this.#scheduler.unschedule();
    await this.#storage.clear();
    this.#held = false;
    const { revocation } = await this.#endpointsOf().catch(() => ({ revocation: undefined }));
    const token = tokens?.refreshToken ?? tokens?.accessToken;
    if (revocation && token) {
      const { body, headers } = clientRequest({ token, token_type_hint: tokens?.refreshToken ? 'refresh_token' : 'access_token' }, this.#o.clientId, this.#o.clientAuthentication?.secret);
      const dpop = await this.#dpopOf(tokens?.tokenType === 'DPoP').catch(() => undefined);
      await postToken(this.#fetch, revocation, body, headers, { cookie: false, dpop, now: this.#now }).catch(() => undefined);
    }
  }

  #schedule(tokens: StoredTokens): void {
    if (this.#o.background) this.#scheduler.schedule(tokens);
  }

  /**
   * A WebSocket that stays authenticated (the server side is `baton-auth/ws`): it connects with the
   * current access token as a subprotocol, answers `token_expiring` with a `reauth` carrying a
   * token from the same single-flight refresh, and reconnects with a fresh token if the server
   * closes with 4401. Application messages go to `onMessage`. Only to the issuer's origin and
   * `allowedOrigins` (`ERR_ORIGIN_NOT_ALLOWED` otherwise).
   */
  websocket(url: string, options: WebSocketOptions = {}): AuthenticatedSocket {
    const source = {
      tokens: () => this.#validTokens(),
      refresh: (seen?: string) => this.refresh(seen),
      // A bound token's proof for the socket (RFC 9449 §4.2: htm GET, htu the ws: URL, ath the token).
      proof: async (socketUrl: string, tokens: StoredTokens) => tokens.tokenType === 'DPoP' ? (await this.#dpopOf(true))?.signer.proof('GET', socketUrl, { accessToken: tokens.accessToken }) : undefined,
    };
    return authenticatedSocket(source, url, options, (origin) => this.#allowed(origin), (err) => this.#emit('error', err));
  }

  /** Stops background work (timers, listeners, the storage subscription). */
  close(): void {
    this.#scheduler.close();
    for (const stop of this.#stops) stop();
  }
}

/** Creates a client. */
export function createTokenClient(options: TokenClientOptions): TokenClient {
  return new TokenClient(options);
}

