/**
 * WebSocket re-authentication on `ws`, attachable to any `node:http` server. Import from
 * `baton-auth/ws`.
 *
 * A connection authenticates at connect, with the access token as a `Sec-WebSocket-Protocol`
 * value (`baton.v1, baton.bearer.<token>`) or in a first message `{ "type": "auth",
 * "access_token": "…" }` — never in the URL. A configurable time before the token's `exp` the
 * server sends `{ "type": "token_expiring", "expires_in": N }`; the client answers
 * `{ "type": "reauth", "access_token": "…" }` on the same socket, and the connection lives on if
 * the new token is valid and of the same user and session. No valid re-auth by `exp`: close 4401.
 * A revoked session (logout, kick, reuse) closes its sockets at once, on every instance.
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

/** Close codes (4000–4999 are the application's, RFC 6455 §7.4.2). */
export const CLOSE = { UNAUTHORIZED: 4401, FORBIDDEN: 4403 } as const;

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
  /** Application messages (anything that is not `auth` / `reauth`) of authenticated sockets. */
  onMessage?: (connection: AuthenticatedSocket, data: RawData) => void;
}

const PROTOCOL = 'baton.v1';
const BEARER = 'baton.bearer.';

function send(socket: WebSocket, message: object): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function parse(data: RawData): { type?: unknown; access_token?: unknown } | undefined {
  try {
    const value = JSON.parse(data.toString()) as unknown;
    return typeof value === 'object' && value !== null ? (value as { type?: unknown; access_token?: unknown }) : undefined;
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
  const live = new Set<Connection>();

  class Connection {
    claims: Readonly<AccessTokenClaims> | undefined;
    #notice: NodeJS.Timeout | undefined;
    #expiry: NodeJS.Timeout | undefined;
    readonly socket: WebSocket;

    constructor(socket: WebSocket) {
      this.socket = socket;
    }

    accept(claims: Readonly<AccessTokenClaims>, type: string): void {
      this.claims = claims;
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
      live.delete(this);
    }
  }

  async function authenticate(connection: Connection, token: unknown, reauth: boolean): Promise<void> {
    let claims: Readonly<AccessTokenClaims>;
    try {
      if (typeof token !== 'string') throw new Error('no token');
      claims = await baton.verify(token);
    } catch (err) {
      const reason = isBatonError(err) ? err.message : 'An access token is required';
      if (reauth) return send(connection.socket, { type: 'reauth_failed', error: 'invalid_token', error_description: reason });
      return connection.socket.close(CLOSE.UNAUTHORIZED, reason.slice(0, 120));
    }
    const before = connection.claims;
    if (reauth && before !== undefined && (before.sub !== claims.sub || before.sid !== claims.sid)) {
      return connection.socket.close(CLOSE.FORBIDDEN, 'a re-authentication must keep the same user and session');
    }
    connection.accept(claims, reauth ? 'reauth_ok' : 'authenticated');
  }

  const stopRevocations = baton.onRevocation((event) => {
    for (const c of live) {
      if ((event.kind === 'session' && c.claims?.sid === event.id) || (event.kind === 'token' && c.claims?.jti === event.id)) {
        c.socket.close(CLOSE.UNAUTHORIZED, event.kind === 'session' ? `session revoked (${event.reason})` : 'access token revoked');
      }
    }
  });

  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const connection = new Connection(socket);
    live.add(connection);
    socket.on('close', () => connection.end());
    socket.on('error', () => connection.end());
    const offered = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const fromProtocol = offered.find((p) => p.startsWith(BEARER))?.slice(BEARER.length);
    let waiting: NodeJS.Timeout | undefined;
    if (fromProtocol !== undefined) void authenticate(connection, fromProtocol, false);
    else waiting = setTimeout(() => socket.close(CLOSE.UNAUTHORIZED, 'no authentication in time'), options.authTimeoutMs ?? 5000);
    socket.on('message', (data) => {
      const message = parse(data);
      if (connection.claims === undefined) {
        if (message?.type !== 'auth') return socket.close(CLOSE.UNAUTHORIZED, 'authenticate first');
        clearTimeout(waiting);
        return void authenticate(connection, message.access_token, false);
      }
      if (message?.type === 'reauth') return void authenticate(connection, message.access_token, true);
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
