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
 *   process may have rotated), then `sessionEnded` with the server's reason; a rejected client
 *   → `error`, tokens kept; 429, 5xx, network errors and non-OAuth answers → capped, jittered
 *   backoff honouring `Retry-After`, the session kept;
 * - timers on the monotonic and the wall clock, checked again on wake-up, focus and network return;
 * - DPoP (RFC 9449) when the server offers ES256, kept by one `DpopKeeper` (the key, the nonces,
 *   the proof clock) that every transport asks for its headers.
 *
 * @example
 * ```ts
 * import { createTokenClient, memoryStorage } from 'baton-auth-client';
 * const client = createTokenClient({ issuer: 'https://auth.example.com', clientId: 'web' });
 * await client.setTokens(await loginResponse.json());
 * const res = await client.fetch('https://api.example.com/orders');
 * client.on('sessionEnded', () => showLogin());
 * ```
 */

import { endpointsOnce } from './discovery.ts';
import type { Endpoints } from './discovery.ts';
import { DpopKeeper } from './dpop-keeper.ts';
import { Emitter } from './events.ts';
import { linkParts } from './internals.ts';
import type { Listener } from './events.ts';
import { authorizedFetch, requestOf } from './fetch.ts';
import type { FetchSource } from './fetch.ts';
import { checkOptions } from './options.ts';
import { absolute, originNotAllowed, originPolicy, requireSecure, urlOf } from './origins.ts';
import { revokeTokens } from './revocation.ts';
import { Scheduler } from './schedule.ts';
import { ClientSession } from './session.ts';
import { signInRequest } from './sign-in.ts';
import { memoryStorage } from './storage.ts';
import { refreshMargin, tokensFrom } from './tokens.ts';
import type { StoredTokens, TokenClientEvents, TokenClientOptions, TokenResponse, TokenStorage } from './types.ts';
import { authenticatedSocket } from './websocket.ts';
import type { AuthenticatedSocket, TokenSource, WebSocketOptions } from './websocket.ts';

/** The client. Create it with `createTokenClient`. */
export class TokenClient {
  readonly #o: TokenClientOptions;
  readonly #storage: TokenStorage;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #allowed: (origin: string) => boolean;
  readonly #scheduler: Scheduler;
  readonly #events = new Emitter();
  readonly #dpop: DpopKeeper;
  readonly #session: ClientSession;
  /** What the transports (`fetch`, the WebSocket) ask of the client: valid tokens, the shared refresh, where tokens go, DPoP. */
  readonly #transport: FetchSource & TokenSource;
  readonly #stops: (() => void)[] = [];
  readonly #endpointsOf: () => Promise<Endpoints>;

  constructor(options: TokenClientOptions) {
    const o = checkOptions(options);
    this.#o = o;
    this.#storage = o.storage ?? memoryStorage();
    this.#fetch = o.fetch ?? ((...args) => fetch(...args));
    this.#now = o.now ?? Date.now;
    this.#allowed = originPolicy(o);
    this.#endpointsOf = endpointsOnce(o, this.#fetch);
    const server = `${o.issuer ?? o.endpoints?.token}\n${o.clientId ?? ''}`;
    this.#dpop = new DpopKeeper({
      option: o.dpop,
      storage: this.#storage,
      scope: server,
      now: this.#now,
      algorithms: async () => (await this.#endpointsOf()).dpopAlgs,
      warn: (w) => this.#events.emit('warning', w),
    });
    this.#scheduler = new Scheduler(
      { now: this.#now, monotonic: o.monotonic ?? (() => performance.now()) },
      (t) => refreshMargin(t, o),
      () => this.#check(),
    );
    this.#session = new ClientSession({
      options: o,
      storage: this.#storage,
      fetch: this.#fetch,
      now: this.#now,
      endpoints: () => this.#endpointsOf(),
      dpop: this.#dpop,
      events: this.#events,
      // Refreshes are shared by the clients of one storage for one server and client id.
      sharingKey: this.#storage.id === undefined ? this.#storage : `${this.#storage.id}\n${server}`,
      schedule: (tokens) => (tokens === null ? this.#scheduler.unschedule() : this.#schedule(tokens)),
    });
    const sendsTokenTo = (url: string | URL) => this.sendsTokenTo(url);
    this.#transport = { tokens: () => this.#session.valid(), refresh: (seen) => this.refresh(seen), sendsTokenTo, dpop: this.#dpop };
    if (o.background) {
      this.#scheduler.watch(() => this.#check());
      void this.#storage.get().then((t) => t && this.#schedule(t));
    }
    // Tokens cleared by another tab or process (a logout there): this one is signed out too.
    const unsubscribe = this.#storage.subscribe?.((tokens) => {
      if (tokens === null) this.#session.endedElsewhere();
      else this.#schedule(tokens);
    });
    const unwarn = this.#storage.onWarning?.((warning) => this.#events.emit('warning', warning));
    for (const stop of [unsubscribe, unwarn]) if (stop) this.#stops.push(stop);
    const setTokens = (r: TokenResponse, at: number) => this.setTokens(r, at);
    linkParts(this, { options: o, fetch: this.#fetch, now: this.#now, endpoints: this.#endpointsOf, dpop: this.#dpop, setTokens });
  }

  /** Listens to an event; returns a function that stops listening. */
  on<K extends keyof TokenClientEvents>(event: K, listener: Listener<K>): () => void {
    return this.#events.on(event, listener);
  }

  /** The server's clock minus this device's, in ms, as the `Date` of the last token response said (to a second). */
  get clockOffset(): number {
    return this.#dpop.clockOffset;
  }

  /**
   * The RFC 7638 thumbprint of this client's DPoP key (what the server binds the session to), or
   * undefined when DPoP is off. Every tab or process sharing the storage has the same one.
   */
  dpopThumbprint(): Promise<string | undefined> {
    return this.#dpop.thumbprint();
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
    const answer = await signInRequest({
      endpoint,
      fields,
      clientId: this.#o.clientId,
      clientSecret: this.#o.clientAuthentication?.secret,
      cookie: this.#o.mode === 'cookie',
      fetch: this.#fetch,
      now: this.#now,
      dpop: await this.#dpop.forTokenRequests(false, ours),
    });
    if (ours) this.#dpop.noteServerDate(answer.serverDate, answer.receivedAt);
    return this.setTokens(answer.response, answer.receivedAt);
  }

  /** Stores tokens from a token response (after login); expiry is measured from now on this clock. */
  async setTokens(response: TokenResponse, receivedAt = this.#now()): Promise<StoredTokens> {
    const tokens = tokensFrom(response, receivedAt, undefined, this.#o.mode);
    await this.#session.set(tokens);
    return tokens;
  }

  /** A valid access token, refreshed first if it is within the margin of expiry. */
  async getAccessToken(): Promise<string> {
    return (await this.#session.valid()).accessToken;
  }

  /**
   * The headers that carry the access token on a `method` request to `url`, for HTTP clients
   * other than `client.fetch`: `authorization` (`Bearer …`, or `DPoP …` for a DPoP-bound token,
   * with a fresh proof in `dpop`). Refreshes first near expiry. Throws `ERR_ORIGIN_NOT_ALLOWED`
   * for a URL the client does not send tokens to.
   */
  async authorizationHeaders(method: string, url: string | URL): Promise<Record<string, string>> {
    const target = urlOf(url, 'authorizationHeaders');
    if (!this.sendsTokenTo(target.href)) throw originNotAllowed(target.origin);
    return this.#dpop.authorization(method, target.href, await this.#session.valid());
  }

  /**
   * Remembers a `DPoP-Nonce` header's value from a response of `url` (RFC 9449 §8, §9) for the
   * next proof to its origin, for HTTP clients other than `client.fetch`, which does it itself.
   */
  noteDpopNonce(url: string | URL, nonce: string | null | undefined): void {
    this.#dpop.noteNonce(urlOf(url, 'noteDpopNonce').href, nonce);
  }

  /** The background check: refresh if due, else set the timer again; failures are reported as events, never thrown. */
  #check(): void {
    void this.#storage
      .get()
      .then(async (t) => {
        if (t === null) return;
        if (this.#session.needsRefresh(t)) await this.getAccessToken();
        else this.#schedule(t);
      })
      .catch(() => undefined);
  }

  /**
   * Refreshes the tokens: at most one refresh in flight for a storage on this page or in this
   * process (every caller, of every client over it, shares it); across tabs or processes the
   * storage's lock is held around read → refresh → write, and a refresh someone else already made
   * is used instead of spending the refresh token again. `seenAccessToken` is the access token the
   * caller found stale; if the stored one differs, it is already new.
   */
  refresh(seenAccessToken?: string): Promise<StoredTokens> {
    return this.#session.refresh(seenAccessToken);
  }

  /**
   * `fetch` with `Authorization: Bearer` (or `DPoP` and a proof, for a DPoP-bound token) for the
   * issuer's origin and `allowedOrigins`: refreshes first when the token is about to expire, and
   * once more then retries once on a 401 (a 401 `use_dpop_nonce` is retried once with the
   * server's nonce instead). Any other origin is fetched as it is, without a token, and its 401
   * refreshes nothing. A request whose body cannot be replayed is not retried. A request that
   * cannot be made (a URL that does not parse) rejects with `ERR_INVALID_ARGUMENT`; the network's
   * own failures reject as the platform's `fetch` rejects.
   */
  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    return authorizedFetch(this.#transport, this.#fetch, this.#o.hooks, requestOf(input, init));
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
    this.#session.forget();
    await this.#storage.clear();
    const { revocation } = await this.#endpointsOf().catch(() => ({ revocation: undefined }));
    const { clientId, clientAuthentication } = this.#o;
    await revokeTokens({
      endpoint: revocation,
      tokens,
      clientId,
      clientSecret: clientAuthentication?.secret,
      fetch: this.#fetch,
      now: this.#now,
      dpop: this.#dpop,
    });
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
    const onError = (err: Error) => this.#events.emit('error', err);
    return authenticatedSocket(this.#transport, urlOf(url, 'websocket').href, options, (origin) => this.#allowed(origin), onError);
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
