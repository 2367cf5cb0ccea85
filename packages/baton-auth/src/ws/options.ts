/**
 * The options of `attachWebSocketAuth` (`baton-auth/ws`), checked once when it is called and resolved
 * to their values: every bound a socket is held to, with its default.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import type { AccessTokenClaims } from '../core/access-token.ts';
import { BatonConfigError } from '../core/errors.ts';
import type { Baton } from '../core/baton.ts';
import { sameMachine as loopbackNames } from '../protocol/loopback.ts';
import { checkOrigins } from '../protocol/origin.ts';

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
    throw new BatonConfigError(
      `attachWebSocketAuth: \`url\` must be the socket's public ws: or wss: URL, e.g. wss://api.example.com/ws; it is ${JSON.stringify(url)}.`,
    );
  }
  return [
    url,
    ...loopbackNames(parsed)
      .slice(1)
      .map((origin) => `${origin}${parsed.pathname}`),
  ];
}

/** The option's value, or its default; anything but a whole number within [min, max] is refused with a sentence. */
function whole(
  options: WebSocketAuthOptions,
  name:
    | 'maxMessagesPerSecond'
    | 'maxPayload'
    | 'maxBufferedBytes'
    | 'maxBufferedMessages'
    | 'closeGraceMs'
    | 'maxSockets'
    | 'maxUnauthenticated'
    | 'maxUnauthenticatedPerAddress'
    | 'authTimeoutMs',
  fallback: number,
  min: number,
  max: number,
): number {
  const value = options[name] ?? fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new BatonConfigError(`attachWebSocketAuth: \`${name}\` must be a whole number from ${min} to ${max} (default ${fallback}); it is ${String(value)}.`);
  }
  return value;
}

/** The options resolved: every bound with its value. */
export interface Settings {
  path: string;
  noticeMs: number;
  now: () => number;
  ratePerSecond: number;
  maxPayload: number;
  maxBufferedBytes: number;
  maxBufferedMessages: number;
  closeGraceMs: number;
  authTimeoutMs: number;
  maxSockets: number;
  /** Token-less sockets of one address at most (`maxUnauthenticatedPerAddress`). */
  maxUnauthenticated: number;
  /** Token-less sockets in all at most (`maxUnauthenticated`). */
  maxWaiting: number;
  /** The configured public URLs with their loopback names, or undefined: from the Host header. */
  configured: string[] | undefined;
  maxPerSession: number;
  maxPerUser: number;
  maxPerAddress: number;
  addressOf: (request: IncomingMessage) => string;
  allowedOrigins: Set<string> | undefined;
}

/** Checks the options and resolves their defaults; a wrong one throws a `BatonConfigError` with a sentence. */
export function resolveSettings(options: WebSocketAuthOptions): Settings {
  const { baton } = options;
  // In this order, so that the first wrong option is the one named.
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
  return {
    path: options.path ?? '/ws',
    noticeMs: options.noticeMs ?? 30_000,
    now: options.now ?? ((): number => baton.now()),
    ratePerSecond,
    maxPayload,
    maxBufferedBytes,
    maxBufferedMessages,
    closeGraceMs,
    authTimeoutMs,
    maxSockets,
    maxUnauthenticated,
    maxWaiting,
    configured,
    maxPerSession: options.maxPerSession ?? 16,
    maxPerUser: options.maxPerUser ?? 64,
    maxPerAddress: options.maxPerAddress ?? 256,
    addressOf: options.addressOf ?? ((request: IncomingMessage) => request.socket.remoteAddress ?? 'unknown'),
    // The form checked, not the scheme: the list may hold a plain-http issuer's own origin (the service passes its handler's).
    allowedOrigins:
      options.allowedOrigins === undefined
        ? undefined
        : new Set(checkOrigins(options.allowedOrigins, 'attachWebSocketAuth allowedOrigins', { plainHttp: 'any' })),
  };
}
