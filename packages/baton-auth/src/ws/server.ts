/**
 * WebSocket re-authentication on `ws`, attachable to any `node:http` server. Import from
 * `baton-auth/ws`.
 *
 * A connection authenticates at connect, with the access token as a `Sec-WebSocket-Protocol`
 * value (`baton.v1, baton.bearer.<token>`) or in a first message `{ "type": "auth",
 * "access_token": "…" }` — never in the URL. A DPoP-bound token (RFC 9449) comes with a proof by
 * its key for `GET` and the socket's URL (`ws:`/`wss:`, or its `http:`/`https:` form) and the
 * token's `ath`: `baton.v1, baton.dpop.<token>, baton.proof.<proof>`, or `"dpop": "<proof>"` in
 * the `auth` and `reauth` messages; as Bearer it is refused. A configurable time before the token's `exp` the
 * server sends `{ "type": "token_expiring", "expires_in": N }`; the client answers
 * `{ "type": "reauth", "access_token": "…" }` on the same socket, and the connection lives on if
 * the new token is valid and of the same user and session. No valid re-auth by `exp`: close 4401.
 * A revoked session (logout, kick, reuse) closes its sockets at once, on every instance, and so
 * does a signing key taken out of service (`revokeKey`) for the sockets its tokens opened.
 * Sockets are capped in all (`maxSockets`), per session and per address, fewer of them before they
 * authenticate, so no one holds an unbounded number open, and each socket's cost is bounded too:
 * its incoming messages per second (close 1008), the size of one (`maxPayload`, close 1009) and
 * the frames it comes in (64, close 1008), and what waits in memory for a client that does not
 * read (close 1008). A socket the server closes delivers nothing more and is cut off if its client does not
 * answer the close frame within `closeGraceMs`.
 *
 * @example
 * ```ts
 * import { attachWebSocketAuth } from 'baton-auth/ws';
 * attachWebSocketAuth({ baton, server, path: '/ws', onMessage: (socket, data) => socket.send(data) });
 * ```
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import type { AccessTokenClaims } from '../core/access-token.ts';
import { BatonConfigError, BatonError, isBatonError } from '../core/errors.ts';
import type { Baton } from '../core/baton.ts';
import { sameMachine as loopbackNames, validHost } from '../http/urls.ts';
import { budgetAddress, canonicalAddress } from '../http/login-protection.ts';
import { checkOrigins } from '../http/cors.ts';

/**
 * Close codes: 4000–4999 are the application's (RFC 6455 §7.4.2); POLICY (1008, §7.4.1) closes a
 * socket that sends too many messages or leaves too much unread, and ws closes one whose message
 * is over `maxPayload` with 1009.
 */
export const CLOSE = { UNAUTHORIZED: 4401, FORBIDDEN: 4403, TOO_MANY: 4429, POLICY: 1008 } as const;

/** A socket with the identity it authenticated as. */
export interface AuthenticatedSocket {
  socket: WebSocket;
  claims: Readonly<AccessTokenClaims>;
}

/** Options of `attachWebSocketAuth`. */
export interface WebSocketAuthOptions {
  baton: Baton;
  server: Server;
  /** Upgrade path. Default `/ws`. */
  path?: string;
  /** How long before `exp` the `token_expiring` notice goes out, in ms (at most a fifth of the token's life). Default 30 s. */
  noticeMs?: number;
  /** How long a socket without a subprotocol token has to send its `auth` message, in ms. Default 2 s. */
  authTimeoutMs?: number;
  /**
   * The clock the notice and expiry timers are computed from, in ms since the epoch: it must be
   * the one the tokens' `exp` was judged by. Default: `baton`'s (`baton.now()`).
   */
  now?: () => number;
  /** Open sockets of one session at most; the next is closed with 4429. Default 16. */
  maxPerSession?: number;
  /**
   * Open sockets of one user (`sub`) at most, all sessions together; the next is closed with 4429.
   * Without it one account with many sessions could hold every place. Default 64.
   */
  maxPerUser?: number;
  /** Open sockets from one address (an IPv6 /64) at most; more are refused at the upgrade with 429. Default 256. */
  maxPerAddress?: number;
  /**
   * Open sockets from one address (an IPv6 /64) that have not authenticated yet at most (they cost
   * no account); more are refused at the upgrade with 429. Default 16.
   */
  maxUnauthenticatedPerAddress?: number;
  /**
   * Open sockets in all at most; more are refused at the upgrade with 503. Keep it below the HTTP
   * server's `maxConnections`, so that sockets, however many addresses open them, leave room for
   * HTTP requests. Default 10,000.
   */
  maxSockets?: number;
  /**
   * Open sockets in all that have not authenticated yet at most: past it, the oldest of them is
   * cut off to make room for the newcomer. The rest of `maxSockets` stays for authenticated
   * sockets, and a client that sends its token at once (a subprotocol) is through before a flood
   * of token-less sockets from any number of addresses can push it out. Default a quarter of
   * `maxSockets`.
   */
  maxUnauthenticated?: number;
  /** The client's address; default the socket's (behind a proxy, give the one your framework trusts). */
  addressOf?: (request: IncomingMessage) => string;
  /**
   * Browser origins whose pages may open sockets: an upgrade whose `Origin` is present and not
   * listed is refused with 403 before it counts against anything (RFC 6455 §10.2), so another
   * site's page cannot fill its visitors' per-address budget. Clients that are not browsers send
   * no `Origin` and are not concerned. Default: any origin (a token, never a cookie, opens a socket).
   */
  allowedOrigins?: readonly string[];
  /** Messages (and pings) one socket may send per second, in bursts of as many; past it the socket is closed with 1008. Default 100. */
  maxMessagesPerSecond?: number;
  /** The largest message a socket may send, in bytes; a larger one closes it with 1009. Default 64 KiB. */
  maxPayload?: number;
  /**
   * Bytes sent to one socket and not yet taken by its client (`bufferedAmount`) at most; past it
   * the socket is closed with 1008. Default 256 KiB.
   */
  maxBufferedBytes?: number;
  /**
   * Messages sent to one socket and not yet taken by its client at most (each costs memory beyond
   * its bytes); past it the socket is closed with 1008. Default 1024.
   */
  maxBufferedMessages?: number;
  /** How long a socket the server closed has to answer the close frame before it is cut off, in ms. Default 2 s. */
  closeGraceMs?: number;
  /** Application messages (anything that is not `auth` / `reauth`) of authenticated sockets. */
  onMessage?: (connection: AuthenticatedSocket, data: RawData) => void;
  /**
   * The socket's public URL as clients address it (`wss://api.example.com/ws`), which DPoP proofs
   * name in `htu`, or the list of them. Set it in production; default: from the upgrade request's
   * Host header (a client's choice), `wss:` over TLS.
   */
  url?: string | readonly string[];
}

/** `url`, and for a loopback one its other loopback names too (the same machine, as the token endpoints take them). */
function sameMachine(url: string): string[] {
  const parsed = URL.parse(url);
  if (parsed === null || !/^(ws|wss|http|https):$/.test(parsed.protocol)) {
    throw new BatonConfigError(`attachWebSocketAuth: \`url\` must be the socket's public ws: or wss: URL, e.g. wss://api.example.com/ws; it is ${JSON.stringify(url)}.`);
  }
  return [url, ...loopbackNames(parsed).slice(1).map((origin) => `${origin}${parsed.pathname}`)];
}

/** The option's value, or its default; anything but a whole number within [min, max] is refused with a sentence. */
function whole(options: WebSocketAuthOptions, name: 'maxMessagesPerSecond' | 'maxPayload' | 'maxBufferedBytes' | 'maxBufferedMessages' | 'closeGraceMs' | 'maxSockets' | 'maxUnauthenticated' | 'maxUnauthenticatedPerAddress' | 'authTimeoutMs', fallback: number, min: number, max: number): number {
  const value = options[name] ?? fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new BatonConfigError(`attachWebSocketAuth: \`${name}\` must be a whole number from ${min} to ${max} (default ${fallback}); it is ${String(value)}.`);
  }
  return value;
}

const PROTOCOL = 'baton.v1';
const BEARER = 'baton.bearer.';
const DPOP = 'baton.dpop.';
const PROOF = 'baton.proof.';
/**
 * Frames of one message at most (RFC 6455 §5.4 lets a message be split in any number): ws keeps
 * one Buffer per frame until the message ends, about 115 bytes of heap beyond its payload, so a
 * message of 1-byte frames would pin 100 times its size. A client sends a message whole, or in a
 * few frames; past this ws closes the socket with 1008.
 */
const MAX_FRAGMENTS = 64;
/**
 * TCP chunks of one unfinished frame that ws holds at most (one Buffer each): a frame trickled a
 * byte per segment would otherwise pin ~115 bytes per byte. Past this ws closes with 1008.
 */
const MAX_CHUNKS = 256;

function send(socket: WebSocket, message: object): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

type Message = { type?: unknown; access_token?: unknown; dpop?: unknown };

function parse(data: RawData): Message | undefined {
  try {
    const value = JSON.parse(data.toString()) as unknown;
    return typeof value === 'object' && value !== null ? (value as Message) : undefined;
  } catch {
    return undefined;
  }
}

/** Attaches authenticated WebSockets to `server` at `path`. */
export function attachWebSocketAuth(options: WebSocketAuthOptions): { wss: WebSocketServer; close: () => Promise<void> } {
  const { baton, server } = options;
  const path = options.path ?? '/ws';
  const noticeMs = options.noticeMs ?? 30_000;
  const now = options.now ?? ((): number => baton.now());
  const ratePerSecond = whole(options, 'maxMessagesPerSecond', 100, 1, 1e9);
  const maxPayload = whole(options, 'maxPayload', 64 * 1024, 1024, 100 * 1024 * 1024);
  const maxBufferedBytes = whole(options, 'maxBufferedBytes', 256 * 1024, 1024, 2 ** 31);
  const maxBufferedMessages = whole(options, 'maxBufferedMessages', 1024, 1, 2 ** 31);
  const closeGraceMs = whole(options, 'closeGraceMs', 2000, 0, 60_000);
  const authTimeoutMs = whole(options, 'authTimeoutMs', 2000, 1, 60_000);
  const maxSockets = whole(options, 'maxSockets', 10_000, 1, 1e9);
  const maxUnauthenticated = whole(options, 'maxUnauthenticatedPerAddress', 16, 1, 1e9);
  const maxWaiting = whole(options, 'maxUnauthenticated', Math.max(1, Math.floor(maxSockets / 4)), 1, maxSockets);
  const configured = options.url === undefined ? undefined : (typeof options.url === 'string' ? [options.url] : options.url).flatMap(sameMachine);

  /**
   * A socket whose every send is checked against the buffered bounds, the application's too:
   * a client that does not read makes what is sent to it wait in memory, each message costing
   * about 150 bytes of heap beyond its own (the `WebSocket` option of ws 8.5+).
   */
  class BoundedSocket extends WebSocket {
    /**
     * Messages handed to the socket and not yet written out, counted since its buffer was last
     * empty (a write's callback may come a tick after the write: those of an earlier round are
     * not counted down again).
     */
    #pending = 0;
    #round = 0;
    /** Called once a bound is passed. */
    overflow: (() => void) | undefined;

    override send(data: Parameters<WebSocket['send']>[0], options?: Parameters<WebSocket['send']>[1] | ((err?: Error) => void), cb?: (err?: Error) => void): void {
      const done = typeof options === 'function' ? options : cb;
      const sendOptions = typeof options === 'function' ? {} : (options ?? {});
      if (this.readyState !== WebSocket.OPEN) return super.send(data, sendOptions, done);
      if (this.bufferedAmount === 0) {
        this.#round++;
        this.#pending = 0;
      }
      const round = this.#round;
      this.#pending++;
      super.send(data, sendOptions, (err) => {
        if (round === this.#round) this.#pending--;
        done?.(err);
      });
      if (this.bufferedAmount > maxBufferedBytes || this.#pending > maxBufferedMessages) this.overflow?.();
    }

    /** ws's automatic answer to a ping comes through here: bounded the same way (in bytes). */
    override pong(data?: unknown, mask?: boolean, cb?: (err: Error) => void): void {
      super.pong(data, mask, cb);
      if (this.bufferedAmount > maxBufferedBytes) this.overflow?.();
    }
  }

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload,
    // ws ≥ 8.21.1 (the peer floor): both count every frame and chunk, empty ones too.
    maxFragments: MAX_FRAGMENTS,
    maxBufferedChunks: MAX_CHUNKS,
    // No compression: zlib's memory per socket, and compressed messages would hide from the bounds.
    perMessageDeflate: false,
    WebSocket: BoundedSocket,
    handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  });
  const maxPerSession = options.maxPerSession ?? 16;
  const maxPerUser = options.maxPerUser ?? 64;
  const maxPerAddress = options.maxPerAddress ?? 256;
  const addressOf = options.addressOf ?? ((request: IncomingMessage) => request.socket.remoteAddress ?? 'unknown');
  // The form checked, not the scheme: the list may hold a plain-http issuer's own origin (the service passes its handler's).
  const allowedOrigins = options.allowedOrigins === undefined ? undefined : new Set(checkOrigins(options.allowedOrigins, 'attachWebSocketAuth allowedOrigins', { plainHttp: 'any' }));
  const live = new Set<Connection>();
  const perAddress = new Map<string, number>();
  /** Sockets not authenticated yet, per address, and in all (oldest first). */
  const waitingPerAddress = new Map<string, number>();
  const unauthenticated = new Set<Connection>();
  const perSession = new Map<string, number>();
  const perUser = new Map<string, number>();
  const decrement = (counts: Map<string, number>, key: string): void => {
    const left = (counts.get(key) ?? 1) - 1;
    if (left > 0) counts.set(key, left);
    else counts.delete(key);
  };

  class Connection {
    claims: Readonly<AccessTokenClaims> | undefined;
    /** The session this socket counts against in perSession, set once when it is first accepted; the one end() gives back. */
    counted: string | undefined;
    /** The user this socket counts against in perUser, set with `counted`. */
    user: string | undefined;
    /** Set while its first authentication is being verified: further `auth` messages are ignored. */
    authenticating = false;
    /** The token it authenticated with, to check again when a key is taken out of service. */
    token: string | undefined;
    /** Set when the server closes the socket: nothing it sends afterwards is delivered. */
    closing = false;
    #notice: NodeJS.Timeout | undefined;
    #expiry: NodeJS.Timeout | undefined;
    #grace: NodeJS.Timeout | undefined;
    /** The message budget (a token bucket of a second's worth) and when it was last filled, on the monotonic clock. */
    #tokens = ratePerSecond;
    #filled = performance.now();
    readonly socket: BoundedSocket;
    readonly address: string;
    /** What DPoP proofs of this socket name as `htu`. */
    readonly urls: string[];
    /** When it opened, on the monotonic clock: a socket without a token is never cut off for a newcomer before its first second. */
    readonly opened = performance.now();

    constructor(socket: BoundedSocket, address: string, urls: string[]) {
      this.socket = socket;
      this.address = address;
      this.urls = urls;
      socket.overflow = () => this.shut(CLOSE.POLICY, 'too much unread data');
    }

    /** Spends one message of the budget; false when none is left. */
    spend(): boolean {
      const at = performance.now();
      this.#tokens = Math.min(ratePerSecond, this.#tokens + ((at - this.#filled) * ratePerSecond) / 1000);
      this.#filled = at;
      if (this.#tokens < 1) return false;
      this.#tokens -= 1;
      return true;
    }

    /**
     * Closes the socket from the server's side: at once nothing more is delivered, and a client
     * that does not answer the close frame (RFC 6455 §7.1.1) is cut off after closeGraceMs rather
     * than ws's 30 s.
     */
    shut(code: number, reason: string): void {
      if (this.closing || !live.has(this)) return;
      this.closing = true;
      clearTimeout(this.#notice);
      clearTimeout(this.#expiry);
      this.socket.close(code, reason);
      this.#grace = setTimeout(() => this.socket.terminate(), closeGraceMs);
    }

    accept(claims: Readonly<AccessTokenClaims>, token: string, type: string): void {
      if (this.claims === undefined) {
        decrement(waitingPerAddress, this.address);
        unauthenticated.delete(this);
        if (claims.sid !== undefined) perSession.set(claims.sid, (perSession.get(claims.sid) ?? 0) + 1);
        perUser.set(claims.sub, (perUser.get(claims.sub) ?? 0) + 1);
        this.counted = claims.sid;
        this.user = claims.sub;
      }
      this.claims = claims;
      this.token = token;
      clearTimeout(this.#notice);
      clearTimeout(this.#expiry);
      const left = claims.exp * 1000 - now();
      // The notice leaves the client noticeMs, or a fifth of a short token's life, to re-authenticate.
      const notice = Math.min(noticeMs, ((claims.exp - claims.iat) * 1000) / 5);
      this.#notice = setTimeout(() => send(this.socket, { type: 'token_expiring', expires_in: Math.max(0, Math.round((claims.exp * 1000 - now()) / 1000)) }), Math.max(0, left - notice));
      this.#expiry = setTimeout(() => this.shut(CLOSE.UNAUTHORIZED, 'access token expired'), Math.max(0, left));
      send(this.socket, { type, expires_in: Math.max(0, Math.round(left / 1000)) });
    }

    end(): void {
      clearTimeout(this.#notice);
      clearTimeout(this.#expiry);
      clearTimeout(this.#grace);
      if (!live.delete(this)) return;
      decrement(perAddress, this.address);
      if (this.claims === undefined) {
        decrement(waitingPerAddress, this.address);
        unauthenticated.delete(this);
      }
      if (this.counted !== undefined) decrement(perSession, this.counted);
      if (this.user !== undefined) decrement(perUser, this.user);
    }
  }

  /** The URLs a DPoP proof may name for the socket: its public `ws:`/`wss:` URL, or the `http:`/`https:` one. */
  function socketUrls(request: IncomingMessage): string[] {
    const host = validHost(request.headers.host);
    const ws = configured ?? (host === undefined ? [] : [`${(request.socket as { encrypted?: boolean }).encrypted === true ? 'wss' : 'ws'}://${host}${path}`]);
    return ws.flatMap((u) => [u, u.replace(/^ws/, 'http')]);
  }

  /** `proof` undefined: the Bearer scheme; else the DPoP proof that came with the token. */
  async function authenticate(connection: Connection, token: unknown, reauth: boolean, proof?: unknown): Promise<void> {
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
    if (connection.closing || !live.has(connection)) return;
    const before = connection.claims;
    // Whatever raced (a reauth against an auth), a socket never changes user or session: its count is that session's.
    if (before !== undefined && (before.sub !== claims.sub || before.sid !== claims.sid)) {
      return connection.shut(CLOSE.FORBIDDEN, 'a re-authentication must keep the same user and session');
    }
    if (before === undefined && claims.sid !== undefined && (perSession.get(claims.sid) ?? 0) >= maxPerSession) {
      return connection.shut(CLOSE.TOO_MANY, `at most ${maxPerSession} sockets per session`);
    }
    if (before === undefined && (perUser.get(claims.sub) ?? 0) >= maxPerUser) {
      return connection.shut(CLOSE.TOO_MANY, `at most ${maxPerUser} sockets per user`);
    }
    connection.accept(claims, token, reauth ? 'reauth_ok' : 'authenticated');
  }

  const stopRevocations = baton.onRevocation((event) => {
    for (const c of live) {
      if ((event.kind === 'session' && c.claims?.sid === event.id) || (event.kind === 'token' && c.claims?.jti === event.id)) {
        c.shut(CLOSE.UNAUTHORIZED, event.kind === 'session' ? `session revoked (${event.reason})` : 'access token revoked');
      } else if (event.kind === 'key' && c.token !== undefined) {
        // The engine dropped the key before telling us: a token it signed no longer verifies
        // (asked of the token alone: a bound one's proof was spent at connect).
        baton.introspect(c.token).then((seen) => seen.active || c.shut(CLOSE.UNAUTHORIZED, 'signing key revoked'), () => undefined);
      }
    }
  });

  wss.on('connection', (socket: BoundedSocket, request: IncomingMessage) => {
    const address = budgetAddress(canonicalAddress(addressOf(request)));
    const connection = new Connection(socket, address, socketUrls(request));
    live.add(connection);
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    waitingPerAddress.set(address, (waitingPerAddress.get(address) ?? 0) + 1);
    unauthenticated.add(connection);
    socket.on('close', () => connection.end());
    socket.on('error', () => connection.end());
    const offered = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const fromProtocol = offered.find((p) => p.startsWith(BEARER))?.slice(BEARER.length);
    const bound = offered.find((p) => p.startsWith(DPOP))?.slice(DPOP.length);
    // The first authentication is verified once: another `auth` while it runs is ignored.
    const first = (token: unknown, proof?: unknown): void => {
      connection.authenticating = true;
      void authenticate(connection, token, false, proof).finally(() => (connection.authenticating = false));
    };
    let waiting: NodeJS.Timeout | undefined;
    if (bound !== undefined) first(bound, offered.find((p) => p.startsWith(PROOF))?.slice(PROOF.length) ?? '');
    else if (fromProtocol !== undefined) first(fromProtocol);
    else waiting = setTimeout(() => connection.shut(CLOSE.UNAUTHORIZED, 'no authentication in time'), authTimeoutMs);
    socket.on('close', () => clearTimeout(waiting));
    // ws answers pings itself; they, and pongs, spend the budget like messages (a message's frames
    // are bounded by MAX_FRAGMENTS).
    const control = (): void => {
      if (!connection.closing && !connection.spend()) connection.shut(CLOSE.POLICY, 'too many messages');
    };
    socket.on('ping', control);
    socket.on('pong', control);
    socket.on('message', (data) => {
      // Cheap checks first: a socket being closed delivers nothing (its claims may be revoked),
      // and one past its budget is closed before its message is even parsed.
      if (connection.closing) return;
      if (!connection.spend()) return connection.shut(CLOSE.POLICY, 'too many messages');
      const message = parse(data);
      if (connection.claims === undefined) {
        if (message?.type !== 'auth') return connection.shut(CLOSE.UNAUTHORIZED, 'authenticate first');
        if (connection.authenticating) return;
        clearTimeout(waiting);
        return first(message.access_token, message.dpop);
      }
      if (message?.type === 'reauth') return void authenticate(connection, message.access_token, true, message.dpop);
      if (message?.type === 'auth') return;
      options.onMessage?.({ socket, claims: connection.claims }, data);
    });
  });

  /**
   * The socket without a token to cut off for a newcomer when `maxUnauthenticated` wait: the oldest
   * of the address that has the most waiting (a flood's, never a lone client's while a flood is
   * on), once it has had a second (or `authTimeoutMs`) to send its token and is not being checked.
   * At most `maxUnauthenticated` are looked at; none fit: the newcomer is refused (503).
   */
  const evictable = (): Connection | undefined => {
    let busiest = 0;
    for (const count of waitingPerAddress.values()) busiest = Math.max(busiest, count);
    const ripe = performance.now() - Math.min(authTimeoutMs, 1000);
    for (const c of unauthenticated) {
      if (c.opened <= ripe && !c.authenticating && waitingPerAddress.get(c.address) === busiest) return c;
    }
    for (const c of unauthenticated) if (c.opened <= ripe && !c.authenticating) return c;
    return undefined;
  };

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (new URL(request.url ?? '/', 'http://x').pathname !== path) return;
    if (new URL(request.url ?? '/', 'http://x').searchParams.has('access_token')) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'); // tokens never in URLs
      return;
    }
    const origin = request.headers.origin;
    if (allowedOrigins !== undefined && origin !== undefined && !allowedOrigins.has(origin)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    if (live.size >= maxSockets) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n\r\n');
      return;
    }
    const address = budgetAddress(canonicalAddress(addressOf(request)));
    if ((perAddress.get(address) ?? 0) >= maxPerAddress || (waitingPerAddress.get(address) ?? 0) >= maxUnauthenticated) {
      socket.end('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 60\r\nConnection: close\r\n\r\n');
      return;
    }
    // A socket that offers its token at the upgrade is checked at once (and closed at once if it
    // fails): it never waits for a place, so a flood of token-less sockets cannot keep it out.
    const offersToken = (request.headers['sec-websocket-protocol'] ?? '').split(',').some((p) => p.trim().startsWith(BEARER) || p.trim().startsWith(DPOP));
    if (!offersToken && unauthenticated.size >= maxWaiting) {
      const victim = evictable();
      if (victim === undefined) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n\r\n');
        return;
      }
      unauthenticated.delete(victim);
      victim.socket.terminate();
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  };
  server.on('upgrade', onUpgrade);

  return {
    wss,
    close: async () => {
      stopRevocations();
      server.off('upgrade', onUpgrade);
      for (const c of live) c.shut(1001, 'server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
