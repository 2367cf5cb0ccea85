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
import { WebSocketServer } from 'ws';
import { closeOnRevocation } from './authenticate.ts';
import { onConnection } from './connect.ts';
import type { Connection } from './connection.ts';
import { MAX_CHUNKS, MAX_FRAGMENTS, boundedSocket } from './limits.ts';
import { resolveSettings } from './options.ts';
import type { WebSocketAuthOptions } from './options.ts';
import { Tables } from './tables.ts';
import { onUpgrade } from './upgrade.ts';
import { PROTOCOL } from './wire.ts';

export { CLOSE } from './wire.ts';
export type { AuthenticatedSocket, WebSocketAuthOptions } from './options.ts';

/** Attaches authenticated WebSockets to `server` at `path`. */
export function attachWebSocketAuth(options: WebSocketAuthOptions): { wss: WebSocketServer; close: () => Promise<void> } {
  const { baton, server } = options;
  const settings = resolveSettings(options);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: settings.maxPayload,
    // ws ≥ 8.21.1 (the peer floor): both count every frame and chunk, empty ones too.
    maxFragments: MAX_FRAGMENTS,
    maxBufferedChunks: MAX_CHUNKS,
    // No compression: zlib's memory per socket, and compressed messages would hide from the bounds.
    perMessageDeflate: false,
    WebSocket: boundedSocket(settings.maxBufferedBytes, settings.maxBufferedMessages),
    handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  });
  const tables = new Tables<Connection>(settings);
  const stopRevocations = closeOnRevocation(baton, tables.live);
  wss.on('connection', onConnection({ baton, settings, tables, onMessage: options.onMessage }));
  const upgrade = onUpgrade(settings, tables, wss);
  server.on('upgrade', upgrade);

  return {
    wss,
    close: async () => {
      stopRevocations();
      server.off('upgrade', upgrade);
      for (const c of tables.live) c.shut(1001, 'server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
