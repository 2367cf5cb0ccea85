/**
 * Red team of the check-phase write (#26, adapters/node.ts): a revocation-feed request whose socket
 * closes after the request was read but before its answer is written. `writeResponse` listened for
 * the response's 'close' only once it wrote the stream, so a close already past was never seen and
 * the stream never cancelled: it stayed registered (a slot of the client's MAX_STREAMS_PER_CLIENT, a
 * store subscription, a heartbeat) until the stalled-reader heartbeats dropped it, about a minute
 * later. Sixteen requests reset early locked the client out of its own feed (429) for that minute.
 * The window was there before (a store's I/O during client authentication); the check-phase write
 * adds one (an answer ready in a check phase, as SQLite's group commit resolves in one, waits for
 * the next, after the close phase). Failed before the fix.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { toNodeListener } from 'baton-auth/adapters/node';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import type { AuthHandler } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { listening } from '../support/ports.ts';

const SECRET = 'resource-server-secret-of-32-characters';
const BASIC = `Basic ${Buffer.from(`rs:${SECRET}`).toString('base64')}`;

it('a feed request whose socket closed before its deferred write leaves no stream open', async () => {
  const store = memoryStore();
  const baton = createBaton({ issuer: 'http://127.0.0.1', keys: [generateKey('EdDSA', 'ed')], refreshTokenSecret: randomBytes(32), store });
  const handler = createAuthHandler({ baton, authenticate: async () => null, clients: staticClients([{ id: 'rs', secret: SECRET, introspect: true }]) });
  // The client's socket is closed, and its 'close' emitted, before the handler's answer is written.
  let closeEarly = true;
  let current: IncomingMessage | undefined;
  const closing = Object.assign(async (request: Request, ctx: { ip?: string }) => {
    const response = await handler(request, ctx);
    if (closeEarly && current !== undefined) {
      const socket = current.socket;
      socket.destroy();
      await once(socket, 'close');
    }
    return response;
  }, handler) as unknown as AuthHandler;
  const listener = toNodeListener(closing);
  const server = createServer((req, res) => {
    current = req;
    listener(req, res);
  });
  const port = await listening(server);
  const feed = (): Promise<number> =>
    new Promise((resolve) => {
      const out = httpRequest({
        host: '127.0.0.1',
        port,
        path: '/oauth/revocations',
        agent: false,
        headers: { accept: 'text/event-stream', authorization: BASIC },
      });
      out.on('response', (res) => {
        resolve(res.statusCode ?? 0);
        res.destroy();
      });
      out.on('error', () => resolve(0)).end();
    });
  try {
    // 16 (MAX_STREAMS_PER_CLIENT) requests that close early, one after the other.
    for (let i = 0; i < 16; i++) expect(await feed()).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    closeEarly = false;
    // Before the fix: 429, "Client rs already has 16 feed streams open", for about a minute.
    expect(await feed(), 'the client opens its feed').toBe(200);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    handler.closeStreams?.(true);
    baton.close();
    await store.close();
  }
});
