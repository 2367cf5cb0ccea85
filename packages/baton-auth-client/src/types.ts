/**
 * The client SDK's shapes: tokens as kept, storages, token responses, events and options.
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
  /** `DPoP` when the server bound the access token to the client's key (RFC 9449 §5); absent for Bearer. */
  tokenType?: 'DPoP';
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
  /**
   * What the storage is shared as (a file path, a channel name): clients of one page or process
   * over storages of the same `id` share one refresh instead of racing. Default: the object itself.
   */
  readonly id?: string;
  /** Called with what the storage noticed and the app should hear (a stolen lease), if it can tell. */
  onWarning?(listener: (warning: ClientWarning) => void): () => void;
  /**
   * The DPoP key pair (RFC 9449) of whoever shares these tokens: ECDSA P-256, created on first use
   * and the same pair every time after, for every tab or process over this storage — the server
   * binds the session to it, so a refresh signed with another key ends the session. `scope` names
   * the server and client (`issuer\nclientId`) for storages that keep several. A storage without
   * it gets no DPoP unless the app gives a key pair (`dpop: { keyPair }`).
   */
  dpopKey?(scope: string): Promise<CryptoKeyPair>;
}

/**
 * Why a session ended: as the server said it (`session_end` of its `invalid_grant`, RFC 6749 §5.2
 * extension member), `reason: 'invalid_grant'` from a server that says no more, or
 * `signed_out_elsewhere` when another tab or process sharing the storage signed out. The payload of
 * the `sessionEnded` event and the `sessionEnd` of a `SessionEndedError`.
 */
export interface SessionEnd {
  /** `logout`, `logout_everywhere`, `kicked`, `evicted`, `reused`, `idle_timeout`, `absolute_timeout`, `key_revoked`, `password_changed`, `admin`, `signed_out_elsewhere`, or `invalid_grant`. */
  reason: string;
  /** When it ended, ms since the epoch (the server's clock). */
  at?: number;
  /** The session that ended this one (a new login, another device's "log out everywhere"). */
  by?: string;
  /** That session's device, as its login described it. */
  device?: { name?: string; userAgent?: string; ip?: string };
  /** For a reuse: the generation presented, when it was retired, the address it came from. */
  generation?: number;
  retiredAt?: number;
  ip?: string;
}

/** Something the app should know that ended nothing. */
export type ClientWarning =
  | { kind: 'clock_skew'; /** Server clock minus this device's, ms (from the `Date` of token responses). */ offsetMs: number; message: string }
  | { kind: 'lease_stolen'; /** Who held the refresh lock past its lease. */ holder: string; heldForMs: number; message: string }
  | { kind: 'dpop_key_in_memory'; /** Why the key could not be kept (IndexedDB unavailable: a private window). */ reason: string; message: string }
  | { kind: 'dpop_key_replaced'; /** What was wrong with the stored key (an extractable private key: planted by a script). */ reason: string; message: string };

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
  /** The session ended — the server said so (`invalid_grant`: a logout elsewhere, a kick, a reuse, a timeout), or another tab or process signed out: sign the user in again. */
  sessionEnded: SessionEnd;
  /** A refresh failed and the tokens were kept: a misconfigured client (`invalid_client`), a server down past the retries. */
  error: Error;
  /** A clock far from the server's, a refresh lock held too long. */
  warning: ClientWarning;
}

/** Options of `createTokenClient`. Times in milliseconds. */
export interface TokenClientOptions {
  /** The authorization server; endpoints come from its RFC 8414 metadata. */
  issuer?: string;
  /** Endpoints given directly (no discovery). */
  endpoints?: { token: string; revocation?: string };
  clientId?: string;
  /**
   * A confidential client (a backend holding users' tokens toward another API): its secret, sent
   * with `client_secret_basic` (RFC 6749 §2.3.1) on refresh and revocation. Needs `clientId`.
   */
  clientAuthentication?: { secret: string };
  /**
   * Where `client.fetch` and `client.websocket` send the access token besides the issuer's origin:
   * exact origins (`https://api.example.com`) or a function of the origin. Requests elsewhere go
   * without credentials, and their 401 never spends a refresh. Default: the issuer's origin only.
   */
  allowedOrigins?: readonly string[] | ((origin: string) => boolean);
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
  /**
   * Transient failures: attempts and backoff. Default 5 attempts, 250 ms doubling to 5 s; a
   * `Retry-After` is honoured up to `maxRetryAfterMs` (default 30 s), a longer one fails the refresh at once.
   */
  retry?: { attempts?: number; baseMs?: number; maxMs?: number; maxRetryAfterMs?: number };
  /** ky-style hooks. */
  hooks?: {
    beforeRequest?: ((request: Request) => Request | void | Promise<Request | void>)[];
    afterResponse?: ((request: Request, response: Response) => Response | void | Promise<Response | void>)[];
  };
  fetch?: typeof fetch;
  /**
   * DPoP (RFC 9449): tokens bound to a key this client holds, so a copied token is useless
   * without it. Default: on when the server's metadata lists `ES256` in
   * `dpop_signing_alg_values_supported` and the storage keeps a key (`memoryStorage`,
   * `browserStorage`, `fileStorage`); `true`: on without asking the metadata (endpoints given
   * directly); `{ keyPair }`: on, with this ECDSA P-256 key pair (a storage that keeps none, such
   * as `redisTokenStorage`); `false`: off, Bearer tokens as before.
   */
  dpop?: boolean | { keyPair: CryptoKeyPair };
  /** The wall clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** A monotonic clock in ms, for timers that must survive wall-clock jumps. Default `performance.now`. */
  monotonic?: () => number;
}
