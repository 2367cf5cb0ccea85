/**
 * A new `baton-auth/ws` socket: counted, given its token's check (from the subprotocol at once, or
 * its first message within `authTimeoutMs`), and its messages routed past the budget — `auth` and
 * `reauth` to the authentication, the rest to the application.
 */
import type { IncomingMessage } from 'node:http';
import type { RawData } from 'ws';
import type { Baton } from '../core/baton.ts';
import { budgetAddress, canonicalAddress } from '../http/login-protection.ts';
import { validHost } from '../http/urls.ts';
import { authenticate } from './authenticate.ts';
import { Connection } from './connection.ts';
import type { BoundedSocket } from './limits.ts';
import type { Settings, WebSocketAuthOptions } from './options.ts';
import type { Tables } from './tables.ts';
import { BEARER, CLOSE, DPOP, PROOF, offered, parse } from './wire.ts';

/** What the handler of new sockets works with. */
export interface Context {
  baton: Baton;
  settings: Settings;
  tables: Tables<Connection>;
  onMessage: WebSocketAuthOptions['onMessage'];
}

/** The URLs a DPoP proof may name for the socket: its public `ws:`/`wss:` URL, or the `http:`/`https:` one. */
function socketUrls(settings: Settings, request: IncomingMessage): string[] {
  const host = validHost(request.headers.host);
  const ws =
    settings.configured ??
    (host === undefined ? [] : [`${(request.socket as { encrypted?: boolean }).encrypted === true ? 'wss' : 'ws'}://${host}${settings.path}`]);
  return ws.flatMap((u) => [u, u.replace(/^ws/, 'http')]);
}

/** The handler of ws's `connection` event. */
export function onConnection(context: Context): (socket: BoundedSocket, request: IncomingMessage) => void {
  const { baton, settings, tables } = context;
  return (socket, request) => {
    const address = budgetAddress(canonicalAddress(settings.addressOf(request)));
    const connection = new Connection(socket, address, socketUrls(settings, request), settings, tables);
    tables.admit(connection);
    socket.on('close', () => connection.end());
    socket.on('error', () => connection.end());
    const protocols = offered(request);
    const fromProtocol = protocols.find((p) => p.startsWith(BEARER))?.slice(BEARER.length);
    const bound = protocols.find((p) => p.startsWith(DPOP))?.slice(DPOP.length);
    // The first authentication is verified once: another `auth` while it runs is ignored.
    const first = (token: unknown, proof?: unknown): void => {
      connection.authenticating = true;
      void authenticate(baton, tables, connection, token, false, proof).finally(() => (connection.authenticating = false));
    };
    let waiting: NodeJS.Timeout | undefined;
    if (bound !== undefined) first(bound, protocols.find((p) => p.startsWith(PROOF))?.slice(PROOF.length) ?? '');
    else if (fromProtocol !== undefined) first(fromProtocol);
    else waiting = setTimeout(() => connection.shut(CLOSE.UNAUTHORIZED, 'no authentication in time'), settings.authTimeoutMs);
    socket.on('close', () => clearTimeout(waiting));
    // ws answers pings itself; they, and pongs, spend the budget like messages (a message's frames
    // are bounded by MAX_FRAGMENTS).
    const control = (): void => {
      if (!connection.closing && !connection.spend()) connection.shut(CLOSE.POLICY, 'too many messages');
    };
    socket.on('ping', control);
    socket.on('pong', control);
    const authenticateFirst = (token: unknown, proof: unknown): void => {
      clearTimeout(waiting);
      first(token, proof);
    };
    socket.on('message', (data) => onSocketMessage(context, connection, authenticateFirst, data));
  };
}

/** One message of a socket: past its budget it is closed before the message is even parsed. */
function onSocketMessage(context: Context, connection: Connection, first: (token: unknown, proof: unknown) => void, data: RawData): void {
  // Cheap checks first: a socket being closed delivers nothing (its claims may be revoked),
  // and one past its budget is closed before its message is even parsed.
  if (connection.closing) return;
  if (!connection.spend()) return connection.shut(CLOSE.POLICY, 'too many messages');
  const message = parse(data);
  if (connection.claims === undefined) {
    if (message?.type !== 'auth') return connection.shut(CLOSE.UNAUTHORIZED, 'authenticate first');
    if (connection.authenticating) return;
    return first(message.access_token, message.dpop);
  }
  if (message?.type === 'reauth') return void authenticate(context.baton, context.tables, connection, message.access_token, true, message.dpop);
  if (message?.type === 'auth') return;
  context.onMessage?.({ socket: connection.socket, claims: connection.claims }, data);
}
