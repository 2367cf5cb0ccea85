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
 * Sockets are capped per session and per address, so no one holds an unbounded number open.
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
import { isBatonError } from '../core/errors.ts';
import type { Baton } from '../core/baton.ts';
import { validHost } from '../http/bearer.ts';
import { budgetAddress, canonicalAddress } from '../http/login-protection.ts';

/** Close codes (4000–4999 are the application's, RFC 6455 §7.4.2). */
export const CLOSE = { UNAUTHORIZED: 4401, FORBIDDEN: 4403, TOO_MANY: 4429 } as const;

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
  /** How long a socket without a subprotocol token has to send its `auth` message, in ms. Default 5 s. */
  authTimeoutMs?: number;
  /**
   * The clock the notice and expiry timers are computed from, in ms since the epoch: it must be
   * the one the tokens' `exp` was judged by. Default: `baton`'s (`baton.now()`).
   */
  now?: () => number;
  /** Open sockets of one session at most; the next is closed with 4429. Default 16. */
  maxPerSession?: number;
  /** Open sockets from one address (an IPv6 /64) at most; more are refused at the upgrade with 429. Default 256. */
  maxPerAddress?: number;
  /** The client's address; default the socket's (behind a proxy, give the one your framework trusts). */
  addressOf?: (request: IncomingMessage) => string;
  /** Application messages (anything that is not `auth` / `reauth`) of authenticated sockets. */
  onMessage?: (connection: AuthenticatedSocket, data: RawData) => void;
  /**
   * The socket's public URL as clients address it (`wss://api.example.com/ws`), which DPoP proofs
   * name in `htu`. Set it in production; default: from the upgrade request's Host header (a
   * client's choice), `wss:` over TLS.
   */
  url?: string;
}

const PROTOCOL = 'baton.v1';
const BEARER = 'baton.bearer.';
const DPOP = 'baton.dpop.';
const PROOF = 'baton.proof.';

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
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024,
    handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  });
  const maxPerSession = options.maxPerSession ?? 16;
  const maxPerAddress = options.maxPerAddress ?? 256;
  const addressOf = options.addressOf ?? ((request: IncomingMessage) => request.socket.remoteAddress ?? 'unknown');
  const live = new Set<Connection>();
  const perAddress = new Map<string, number>();
  const perSession = new Map<string, number>();
  const decrement = (counts: Map<string, number>, key: string): void => {
    const left = (counts.get(key) ?? 1) - 1;
    if (left > 0) counts.set(key, left);
    else counts.delete(key);
  };

  class Connection {
    claims: Readonly<AccessTokenClaims> | undefined;
    /** The token it authenticated with, to check again when a key is taken out of service. */
    token: string | undefined;
    #notice: NodeJS.Timeout | undefined;
    #expiry: NodeJS.Timeout | undefined;
    readonly socket: WebSocket;
    readonly address: string;
    /** What DPoP proofs of this socket name as `htu`. */
    readonly urls: string[];

    constructor(socket: WebSocket, address: string, urls: string[]) {
      this.socket = socket;
      this.address = address;
      this.urls = urls;
    }

    accept(claims: Readonly<AccessTokenClaims>, token: string, type: string): void {
      if (this.claims === undefined && claims.sid !== undefined) perSession.set(claims.sid, (perSession.get(claims.sid) ?? 0) + 1);
      this.claims = claims;
      this.token = token;
      clearTimeout(this.#notice);
      clearTimeout(this.#expiry);
      const left = claims.exp * 1000 - now();
      // The notice leaves the client noticeMs, or a fifth of a short token's life, to re-authenticate.
      const notice = Math.min(noticeMs, ((claims.exp - claims.iat) * 1000) / 5);
      this.#notice = setTimeout(() => send(this.socket, { type: 'token_expiring', expires_in: Math.max(0, Math.round((claims.exp * 1000 - now()) / 1000)) }), Math.max(0, left - notice));
      this.#expiry = setTimeout(() => this.socket.close(CLOSE.UNAUTHORIZED, 'access token expired'), Math.max(0, left));
      send(this.socket, { type, expires_in: Math.max(0, Math.round(left / 1000)) });
    }

    end(): void {
      clearTimeout(this.#notice);
      clearTimeout(this.#expiry);
      if (!live.delete(this)) return;
      decrement(perAddress, this.address);
      if (this.claims?.sid !== undefined) decrement(perSession, this.claims.sid);
    }
  }

  /** The URLs a DPoP proof may name for the socket: its public `ws:`/`wss:` URL, or the `http:`/`https:` one. */
  function socketUrls(request: IncomingMessage): string[] {
    const host = validHost(request.headers.host);
    const ws = options.url ?? (host === undefined ? undefined : `${(request.socket as { encrypted?: boolean }).encrypted === true ? 'wss' : 'ws'}://${host}${path}`);
    return ws === undefined ? [] : [ws, ws.replace(/^ws/, 'http')];
  }

  /** `proof` undefined: the Bearer scheme; else the DPoP proof that came with the token. */
  async function authenticate(connection: Connection, token: unknown, reauth: boolean, proof?: unknown): Promise<void> {
    let claims: Readonly<AccessTokenClaims>;
    try {
      if (typeof token !== 'string') throw new Error('no token');
      if (proof !== undefined && typeof proof !== 'string') throw new Error('no proof');
      claims = await baton.verify(token, proof === undefined ? undefined : { dpop: { proof, method: 'GET', url: connection.urls } });
    } catch (err) {
      const reason = isBatonError(err) ? err.message : 'An access token is required';
      if (reauth) return send(connection.socket, { type: 'reauth_failed', error: 'invalid_token', error_description: reason });
      return connection.socket.close(CLOSE.UNAUTHORIZED, reason.slice(0, 120));
    }
    const before = connection.claims;
    if (reauth && before !== undefined && (before.sub !== claims.sub || before.sid !== claims.sid)) {
      return connection.socket.close(CLOSE.FORBIDDEN, 'a re-authentication must keep the same user and session');
    }
    if (!reauth && claims.sid !== undefined && (perSession.get(claims.sid) ?? 0) >= maxPerSession) {
      return connection.socket.close(CLOSE.TOO_MANY, `at most ${maxPerSession} sockets per session`);
    }
    connection.accept(claims, token, reauth ? 'reauth_ok' : 'authenticated');
  }

  const stopRevocations = baton.onRevocation((event) => {
    for (const c of live) {
      if ((event.kind === 'session' && c.claims?.sid === event.id) || (event.kind === 'token' && c.claims?.jti === event.id)) {
        c.socket.close(CLOSE.UNAUTHORIZED, event.kind === 'session' ? `session revoked (${event.reason})` : 'access token revoked');
      } else if (event.kind === 'key' && c.token !== undefined) {
        // The engine dropped the key before telling us: a token it signed no longer verifies
        // (asked of the token alone: a bound one's proof was spent at connect).
        const socket = c.socket;
        baton.introspect(c.token).then((seen) => seen.active || socket.close(CLOSE.UNAUTHORIZED, 'signing key revoked'), () => undefined);
      }
    }
  });

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const address = budgetAddress(canonicalAddress(addressOf(request)));
    const connection = new Connection(socket, address, socketUrls(request));
    live.add(connection);
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    socket.on('close', () => connection.end());
    socket.on('error', () => connection.end());
    const offered = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const fromProtocol = offered.find((p) => p.startsWith(BEARER))?.slice(BEARER.length);
    const bound = offered.find((p) => p.startsWith(DPOP))?.slice(DPOP.length);
    let waiting: NodeJS.Timeout | undefined;
    if (bound !== undefined) void authenticate(connection, bound, false, offered.find((p) => p.startsWith(PROOF))?.slice(PROOF.length) ?? '');
    else if (fromProtocol !== undefined) void authenticate(connection, fromProtocol, false);
    else waiting = setTimeout(() => socket.close(CLOSE.UNAUTHORIZED, 'no authentication in time'), options.authTimeoutMs ?? 5000);
    socket.on('message', (data) => {
      const message = parse(data);
      if (connection.claims === undefined) {
        if (message?.type !== 'auth') return socket.close(CLOSE.UNAUTHORIZED, 'authenticate first');
        clearTimeout(waiting);
        return void authenticate(connection, message.access_token, false, message.dpop);
      }
      if (message?.type === 'reauth') return void authenticate(connection, message.access_token, true, message.dpop);
      if (message?.type === 'auth') return;
      options.onMessage?.({ socket, claims: connection.claims }, data);
    });
  });

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (new URL(request.url ?? '/', 'http://x').pathname !== path) return;
    if (new URL(request.url ?? '/', 'http://x').searchParams.has('access_token')) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'); // tokens never in URLs
      return;
    }
    if ((perAddress.get(budgetAddress(canonicalAddress(addressOf(request)))) ?? 0) >= maxPerAddress) {
      socket.end('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 60\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  };
  server.on('upgrade', onUpgrade);

  return {
    wss,
    close: async () => {
      stopRevocations();
      server.off('upgrade', onUpgrade);
      for (const c of live) c.socket.close(1001, 'server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
