/**
 * What goes over a `baton-auth/ws` socket: the close codes, the subprotocol that carries a token
 * at connect, and the JSON messages both ways.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import type { RawData } from 'ws';

/**
 * Close codes: 4000–4999 are the application's (RFC 6455 §7.4.2); POLICY (1008, §7.4.1) closes a
 * socket that sends too many messages or leaves too much unread, and ws closes one whose message
 * is over `maxPayload` with 1009.
 */
export const CLOSE = { UNAUTHORIZED: 4401, FORBIDDEN: 4403, TOO_MANY: 4429, POLICY: 1008 } as const;

export const PROTOCOL = 'baton.v1';
export const BEARER = 'baton.bearer.';
export const DPOP = 'baton.dpop.';
export const PROOF = 'baton.proof.';

/** The subprotocol values the client offered at the upgrade (`Sec-WebSocket-Protocol`). */
export function offered(request: IncomingMessage): string[] {
  return (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
}

export function send(socket: WebSocket, message: object): void {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

export type Message = { type?: unknown; access_token?: unknown; dpop?: unknown };

export function parse(data: RawData): Message | undefined {
  try {
    const value = JSON.parse(data.toString()) as unknown;
    return typeof value === 'object' && value !== null ? (value as Message) : undefined;
  } catch {
    return undefined;
  }
}
