/**
 * A Hono app served by @hono/node-server twice, over HTTP/1.1 and over cleartext HTTP/2, each on a
 * loopback port the system picks: what a test of the Node request behind `c.env.incoming` needs.
 */
import type { Server } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';

export interface HonoServers {
  h1: Server;
  h2: http2.Http2Server;
  /** The HTTP/1.1 server's port, and the HTTP/2 server's. */
  ports: { h1: number; h2: number };
  close(): Promise<void>;
}

export async function serveHono(fetch: (request: Request, env: unknown) => Response | Promise<Response>): Promise<HonoServers> {
  const h1 = serve({ fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  const h2 = serve({ fetch, port: 0, hostname: '127.0.0.1', createServer: http2.createServer }) as unknown as http2.Http2Server;
  for (const s of [h1, h2] as { listening: boolean; once(e: string, f: () => void): void }[])
    if (!s.listening) await new Promise<void>((resolve) => s.once('listening', resolve));
  return {
    h1,
    h2,
    ports: { h1: (h1.address() as AddressInfo).port, h2: (h2.address() as AddressInfo).port },
    async close() {
      h1.closeAllConnections();
      await new Promise((resolve) => h1.close(resolve));
      await new Promise((resolve) => h2.close(resolve));
    },
  };
}
