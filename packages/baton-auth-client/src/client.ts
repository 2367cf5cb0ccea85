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
 * - `invalid_grant` → re-read shared storage (another tab or process may have rotated), then
 *   `sessionExpired`; 429, 503 and network errors → capped, jittered backoff, the session kept.
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

/** Tokens as the client keeps them. `expiresAt` is in this machine's clock (ms). */
export interface StoredTokens {
  accessToken: string;
  /** When the token response arrived, in this machine's clock (ms). */
  receivedAt: number;
  /** Absent in cookie mode: the server keeps the refresh token in an HttpOnly cookie. */
  refreshToken?: string;
  expiresAt: number;
  /** When the refresh token stops working, if the server said (`refresh_expires_in`). */
  refreshExpiresAt?: number;
  scope?: string;
  sessionId?: string;
}

/** Where tokens live; shared storages also coordinate refreshes between tabs or processes. */
export interface TokenStorage {
  get(): Promise<StoredTokens | null>;
  /** Persists tokens before they are used. */
  set(tokens: StoredTokens): Promise<void>;
  clear(): Promise<void>;
  /** Runs `fn` while holding the storage's refresh lock (cross-process or cross-tab); default: no lock. */
  withLock?<T>(fn: () => Promise<T>): Promise<T>;
  /** Called when another tab or process changed the tokens, if the storage can tell. */
  subscribe?(listener: (tokens: StoredTokens | null) => void): () => void;
}

/** A token response (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  token_type?: string;
  expires_in?: number;
  refresh_token?: string;
  refresh_expires_in?: number;
  scope?: string;
  session_id?: string;
}

/** Events of the client. */
export interface TokenClientEvents {
  refreshed: StoredTokens;
  /** The session cannot be refreshed any more (`invalid_grant`): sign the user in again. */
  sessionExpired: { reason: string };
  error: Error;
}

/** Options of `createTokenClient`. Times in milliseconds. */
export interface TokenClientOptions {
  /** The authorization server; endpoints come from its RFC 8414 metadata. */
  issuer?: string;
  /** Endpoints given directly (no discovery). */
  endpoints?: { token: string; revocation?: string };
  clientId?: string;
  /** Default `memoryStorage()`. */
  storage?: TokenStorage;
  /** `cookie`: the refresh token is an HttpOnly cookie the client never sees (browser apps). Default `tokens`. */
  mode?: 'tokens' | 'cookie';
  /** Refresh this long before expiry. Default 60 s (or a fifth of a shorter lifetime). */
  refreshMargin?: number;
  /** Random extra margin, up to this fraction of the margin, so many clients don't refresh together. Default 0.2. */
  jitter?: number;
  /** Refresh in the background before expiry even without requests (and on wake, focus, online). */
  background?: boolean;
  /** Transient failures: attempts and backoff. Default 5 attempts, 250 ms doubling to 5 s. */
  retry?: { attempts?: number; baseMs?: number; maxMs?: number };
  /** ky-style hooks. */
  hooks?: {
    beforeRequest?: ((request: Request) => Request | void | Promise<Request | void>)[];
    afterResponse?: ((request: Request, response: Response) => Response | void | Promise<Response | void>)[];
  };
  fetch?: typeof fetch;
  now?: () => number;
}

/** The session ended: sign in again. */
export class SessionExpiredError extends Error {
  override name = 'SessionExpiredError';
  readonly code = 'ERR_SESSION_EXPIRED';
}

/** The server could not be reached or asked to wait; the session is kept. */
export class TransientRefreshError extends Error {
  override name = 'TransientRefreshError';
  readonly code = 'ERR_REFRESH_UNAVAILABLE';
}

/** Tokens in memory, for one page or process. */
export function memoryStorage(initial: StoredTokens | null = null): TokenStorage {
  let tokens = initial;
  return {
    get: async () => tokens,
    set: async (t) => void (tokens = t),
    clear: async () => void (tokens = null),
  };
}

type Listener<K extends keyof TokenClientEvents> = (payload: TokenClientEvents[K]) => void;

/** The client. Create it with `createTokenClient`. */
export class TokenClient {
  readonly #o: TokenClientOptions;
  readonly #storage: TokenStorage;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  #endpoints: Promise<{ token: string; revocation?: string }> | undefined;
  #refreshing: Promise<StoredTokens> | undefined;
  readonly #listeners = new Map<keyof TokenClientEvents, Set<(p: never) => void>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #cooldownUntil = 0;
  #stopBackground: (() => void) | undefined;
  #stopSubscription: (() => void) | undefined;

  constructor(options: TokenClientOptions) {
    if (!options.issuer && !options.endpoints) throw new TypeError('createTokenClient needs `issuer` (for RFC 8414 discovery) or `endpoints: { token }`.');
    this.#o = options;
    this.#storage = options.storage ?? memoryStorage();
    this.#fetch = options.fetch ?? ((...args) => fetch(...args));
    this.#now = options.now ?? Date.now;
    if (options.background) this.#startBackground();
    // Tokens cleared by another tab or process (a logout there): this one is signed out too.
    this.#stopSubscription = this.#storage.subscribe?.((tokens) => {
      if (tokens === null) {
        this.#unschedule();
        this.#emit('sessionExpired', { reason: 'signed out elsewhere' });
      } else this.#schedule(tokens);
    });
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

  #endpointsOf(): Promise<{ token: string; revocation?: string }> {
    this.#endpoints ??= (async () => {
      if (this.#o.endpoints) return this.#o.endpoints;
      const issuer = (this.#o.issuer as string).replace(/\/$/, '');
      // RFC 8414 §3 first; OpenID Connect Discovery's document (same fields) for servers that only have that.
      let res = await this.#fetch(`${issuer}/.well-known/oauth-authorization-server`);
      if (res.status === 404) res = await this.#fetch(`${issuer}/.well-known/openid-configuration`);
      if (!res.ok) throw new TransientRefreshError(`Discovery failed with HTTP ${res.status}`);
      const meta = (await res.json()) as { token_endpoint?: string; revocation_endpoint?: string };
      if (!meta.token_endpoint) throw new TypeError('The server metadata has no token_endpoint.');
      return { token: meta.token_endpoint, ...(meta.revocation_endpoint ? { revocation: meta.revocation_endpoint } : {}) };
    })().catch((err: unknown) => {
      this.#endpoints = undefined;
      throw err;
    });
    return this.#endpoints;
  }

  /** Stores tokens from a token response (after login); expiry is measured from now on this clock. */
  async setTokens(response: TokenResponse, receivedAt = this.#now()): Promise<StoredTokens> {
    const tokens = this.#fromResponse(response, receivedAt, undefined);
    await this.#storage.set(tokens);
    this.#schedule(tokens);
    return tokens;
  }

  #fromResponse(r: TokenResponse, receivedAt: number, previous: StoredTokens | undefined): StoredTokens {
    if (typeof r.access_token !== 'string') throw new TransientRefreshError('The token response has no access_token');
    const tokens: StoredTokens = { accessToken: r.access_token, receivedAt, expiresAt: receivedAt + (r.expires_in ?? 3600) * 1000 };
    // RFC 6749 §6: a server that does not rotate keeps the old refresh token.
    const refreshToken = r.refresh_token ?? previous?.refreshToken;
    if (refreshToken !== undefined && this.#o.mode !== 'cookie') tokens.refreshToken = refreshToken;
    if (r.refresh_expires_in !== undefined) tokens.refreshExpiresAt = receivedAt + r.refresh_expires_in * 1000;
    if (r.scope !== undefined) tokens.scope = r.scope;
    if (r.session_id !== undefined) tokens.sessionId = r.session_id;
    return tokens;
  }

  /** How long before expiry to refresh: the configured margin (or a fifth of a short lifetime), plus jitter. */
  #margin(tokens: StoredTokens): number {
    const base = this.#o.refreshMargin ?? Math.min(60_000, (tokens.expiresAt - tokens.receivedAt) / 5);
    return base * (1 + Math.random() * (this.#o.jitter ?? 0.2));
  }

  #needsRefresh(tokens: StoredTokens): boolean {
    return tokens.expiresAt - this.#now() <= this.#margin(tokens);
  }

  /** A valid access token, refreshed first if it is within the margin of expiry. */
  async getAccessToken(): Promise<string> {
    const tokens = await this.#storage.get();
    if (tokens === null) throw new SessionExpiredError('Not signed in');
    if (!this.#needsRefresh(tokens)) return tokens.accessToken;
    try {
      return (await this.refresh(tokens.accessToken)).accessToken;
    } catch (err) {
      // A transient failure while the current token still works: use it and try again later.
      if (err instanceof TransientRefreshError && tokens.expiresAt > this.#now()) return tokens.accessToken;
      throw err;
    }
  }

  /**
   * Refreshes the tokens: at most one refresh in flight (every caller shares it); across tabs or
   * processes the storage's lock is held around read → refresh → write, and a refresh someone
   * else already made is used instead of spending the refresh token again. `seenAccessToken` is
   * the access token the caller found stale; if the stored one differs, it is already new.
   */
  refresh(seenAccessToken?: string): Promise<StoredTokens> {
    this.#refreshing ??= (async () => {
      try {
        const run = () => this.#refreshLocked(seenAccessToken);
        return await (this.#storage.withLock ? this.#storage.withLock(run) : run());
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  async #refreshLocked(seenAccessToken: string | undefined): Promise<StoredTokens> {
    const stored = await this.#storage.get();
    // In cookie mode a page that has no tokens yet (a reload) may still hold the refresh cookie.
    if (stored === null && this.#o.mode !== 'cookie') throw new SessionExpiredError('Not signed in');
    const current: StoredTokens = stored ?? { accessToken: '', receivedAt: 0, expiresAt: 0 };
    if (seenAccessToken !== undefined && current.accessToken !== seenAccessToken && !this.#needsRefresh(current)) {
      return current; // another tab or process refreshed while we waited for the lock
    }
    const { token } = await this.#endpointsOf();
    const attempts = this.#o.retry?.attempts ?? 5;
    let lastError: Error = new TransientRefreshError('The token endpoint did not answer');
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await this.#backoff(attempt);
      const body = new URLSearchParams({ grant_type: 'refresh_token' });
      if (current.refreshToken !== undefined) body.set('refresh_token', current.refreshToken);
      if (this.#o.clientId !== undefined) body.set('client_id', this.#o.clientId);
      let res: Response;
      try {
        res = await this.#fetch(token, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body,
          ...(this.#o.mode === 'cookie' ? { credentials: 'include' as const } : {}),
        });
      } catch (err) {
        lastError = new TransientRefreshError(`The token endpoint could not be reached: ${(err as Error).message}`);
        continue;
      }
      const receivedAt = this.#now();
      if (res.ok) {
        const tokens = this.#fromResponse((await res.json()) as TokenResponse, receivedAt, current);
        await this.#storage.set(tokens); // persisted before anyone uses it
        this.#schedule(tokens);
        this.#emit('refreshed', tokens);
        return tokens;
      }
      const error = ((await res.json().catch(() => ({}))) as { error?: string }).error;
      if (res.status === 429 || res.status >= 500) {
        lastError = new TransientRefreshError(`The token endpoint answered ${res.status}${error ? ` (${error})` : ''}`);
        const retryAfter = Number(res.headers.get('retry-after'));
        if (retryAfter > 0) this.#cooldownUntil = this.#now() + retryAfter * 1000;
        continue;
      }
      // invalid_grant (or any other refusal): maybe another tab or process rotated meanwhile.
      const again = await this.#storage.get();
      if (again !== null && again.refreshToken !== current.refreshToken && again.accessToken !== current.accessToken) return again;
      await this.#storage.clear();
      this.#unschedule();
      this.#emit('sessionExpired', { reason: error ?? `HTTP ${res.status}` });
      throw new SessionExpiredError(`The session ended (${error ?? res.status})`);
    }
    this.#emit('error', lastError);
    throw lastError;
  }

  async #backoff(attempt: number): Promise<void> {
    const base = this.#o.retry?.baseMs ?? 250;
    const max = this.#o.retry?.maxMs ?? 5000;
    const delay = Math.max(this.#cooldownUntil - this.#now(), Math.random() * Math.min(max, base * 2 ** attempt));
    await new Promise((r) => setTimeout(r, delay));
  }

  /**
   * `fetch` with `Authorization: Bearer`: refreshes first when the token is about to expire, and
   * once more then retries once on a 401. A request whose body cannot be replayed is not retried.
   */
  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    let request = new Request(input, init);
    for (const hook of this.#o.hooks?.beforeRequest ?? []) request = (await hook(request)) ?? request;
    const replay = request.clone(); // tees the body, so the retry can send it again
    let token = await this.getAccessToken();
    let response = await this.#send(request, token);
    if (response.status === 401) {
      const fresh = await this.refresh(token).catch((err: unknown) => {
        if (err instanceof SessionExpiredError) return null;
        throw err;
      });
      if (fresh !== null && fresh.accessToken !== token) {
        token = fresh.accessToken;
        response = await this.#send(replay, token);
      }
    }
    for (const hook of this.#o.hooks?.afterResponse ?? []) response = (await hook(request, response)) ?? response;
    return response;
  }

  #send(request: Request, token: string): Promise<Response> {
    const headers = new Headers(request.headers);
    headers.set('authorization', `Bearer ${token}`);
    return this.#fetch(new Request(request, { headers }));
  }

  /** Revokes the refresh token at the server (RFC 7009) and clears the tokens. */
  async logout(): Promise<void> {
    const tokens = await this.#storage.get();
    this.#unschedule();
    await this.#storage.clear();
    const { revocation } = await this.#endpointsOf().catch(() => ({ revocation: undefined }));
    const token = tokens?.refreshToken ?? tokens?.accessToken;
    if (revocation && token) {
      const body = new URLSearchParams({ token, token_type_hint: tokens?.refreshToken ? 'refresh_token' : 'access_token' });
      if (this.#o.clientId) body.set('client_id', this.#o.clientId);
      await this.#fetch(revocation, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }).catch(() => undefined);
    }
  }

  #schedule(tokens: StoredTokens): void {
    if (!this.#o.background) return;
    this.#unschedule();
    const delay = Math.max(0, tokens.expiresAt - this.#now() - this.#margin(tokens));
    this.#timer = setTimeout(() => void this.getAccessToken().catch((err: Error) => this.#emit('error', err)), delay);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  #unschedule(): void {
    clearTimeout(this.#timer);
  }

  #startBackground(): void {
    // Timers do not run while a laptop sleeps: check again on wake-up, focus and network return.
    const check = (): void => {
      this.#storage.get().then(async (t) => {
        if (t !== null && this.#needsRefresh(t)) await this.getAccessToken();
      }).catch(() => undefined);
    };
    const g = globalThis as { addEventListener?: (e: string, f: () => void) => void; removeEventListener?: (e: string, f: () => void) => void; document?: { addEventListener: (e: string, f: () => void) => void; removeEventListener: (e: string, f: () => void) => void } };
    for (const e of ['focus', 'online']) g.addEventListener?.(e, check);
    g.document?.addEventListener('visibilitychange', check);
    void this.#storage.get().then((t) => t && this.#schedule(t));
    this.#stopBackground = () => {
      for (const e of ['focus', 'online']) g.removeEventListener?.(e, check);
      g.document?.removeEventListener('visibilitychange', check);
    };
  }

  /**
   * A WebSocket that stays authenticated (the server side is `baton-auth/ws`): it connects with the
   * current access token as a subprotocol, answers `token_expiring` with a `reauth` carrying a
   * token from the same single-flight refresh, and reconnects with a fresh token if the server
   * closes with 4401. Application messages go to `onMessage`.
   */
  websocket(url: string, options: { onMessage?: (data: unknown) => void; WebSocket?: typeof WebSocket } = {}): { send(data: string): void; close(): void; readonly current: WebSocket | undefined } {
    const Impl = options.WebSocket ?? globalThis.WebSocket;
    let socket: WebSocket | undefined;
    let closed = false;
    let failures = 0;
    const open = async (): Promise<void> => {
      if (closed) return;
      let token: string;
      try {
        token = await this.getAccessToken();
      } catch (err) {
        if (err instanceof SessionExpiredError) return;
        setTimeout(() => void open(), Math.min(10_000, 250 * 2 ** failures++));
        return;
      }
      const ws = new Impl(url, ['baton.v1', `baton.bearer.${token}`]);
      socket = ws;
      ws.onmessage = (event: MessageEvent) => {
        let message: { type?: string } | undefined;
        try {
          message = JSON.parse(String(event.data)) as { type?: string };
        } catch {
          message = undefined;
        }
        if (message?.type === 'token_expiring') {
          void this.refresh(token).then((t) => {
            token = t.accessToken;
            ws.send(JSON.stringify({ type: 'reauth', access_token: t.accessToken }));
          }, (err: Error) => this.#emit('error', err));
        } else if (message?.type === 'authenticated' || message?.type === 'reauth_ok') {
          failures = 0;
        } else if (message?.type !== 'reauth_failed') {
          options.onMessage?.(event.data);
        }
      };
      ws.onclose = (event: CloseEvent) => {
        if (closed) return;
        // 4401: the token ran out or the session was revoked; a fresh token decides which.
        const retry = event.code === 4401 ? this.refresh(token).then(() => undefined) : Promise.resolve();
        retry.then(
          () => setTimeout(() => void open(), Math.min(10_000, 100 * 2 ** failures++)),
          () => undefined, // session expired: stay closed
        );
      };
    };
    void open();
    return {
      send: (data) => socket?.send(data),
      close: () => {
        closed = true;
        socket?.close(1000);
      },
      get current() {
        return socket;
      },
    };
  }

  /** Stops background work (timers, listeners, the storage subscription). */
  close(): void {
    this.#unschedule();
    this.#stopBackground?.();
    this.#stopSubscription?.();
  }
}

/** Creates a client. */
export function createTokenClient(options: TokenClientOptions): TokenClient {
  return new TokenClient(options);
}
