/**
 * The HTTP upgrade to a `baton-auth/ws` socket: refused before it costs anything when it carries a
 * token in its URL, comes from an origin not allowed, or would pass a bound (sockets in all, per
 * address, token-less ones).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { budgetAddress, canonicalAddress } from '../http/login-protection.ts';
import type { Connection } from './connection.ts';
import type { Settings } from './options.ts';
import type { Tables } from './tables.ts';
import { BEARER, DPOP, offered } from './wire.ts';

/** The status line and headers an upgrade is refused with, or undefined when it may go on. */
function refusal(settings: Settings, tables: Tables<Connection>, request: IncomingMessage): string | undefined {
  if (new URL(request.url ?? '/', 'http://x').searchParams.has('access_token')) {
    return 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'; // tokens never in URLs
  }
  const origin = request.headers.origin;
  if (settings.allowedOrigins !== undefined && origin !== undefined && !settings.allowedOrigins.has(origin)) {
    return 'HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n';
  }
  if (tables.live.size >= settings.maxSockets) {
    return 'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n\r\n';
  }
  if (tables.overAddress(budgetAddress(canonicalAddress(settings.addressOf(request))))) {
    return 'HTTP/1.1 429 Too Many Requests\r\nRetry-After: 60\r\nConnection: close\r\n\r\n';
  }
  return undefined;
}

/** The handler of the HTTP server's `upgrade` event for `settings.path`. */
export function onUpgrade(
  settings: Settings,
  tables: Tables<Connection>,
  wss: WebSocketServer,
): (request: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (request, socket, head) => {
    if (new URL(request.url ?? '/', 'http://x').pathname !== settings.path) return;
    const refused = refusal(settings, tables, request);
    if (refused !== undefined) {
      socket.end(refused);
      return;
    }
    // A socket that offers its token at the upgrade is checked at once (and closed at once if it
    // fails): it never waits for a place, so a flood of token-less sockets cannot keep it out.
    const offersToken = offered(request).some((p) => p.startsWith(BEARER) || p.startsWith(DPOP));
    if (!offersToken && tables.unauthenticated.size >= settings.maxWaiting) {
      const victim = tables.evictable();
      if (victim === undefined) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n\r\n');
        return;
      }
      tables.unauthenticated.delete(victim);
      victim.socket.terminate();
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  };
}
