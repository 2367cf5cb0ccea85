/**
 * A loopback TCP proxy in front of a real server, to cut the network in a test: `down()` drops
 * every connection and refuses new ones, `up()` accepts again; `stall()` keeps the connections
 * open but forwards nothing (a partition: nothing refused, nothing answers), `resume()` delivers
 * what was held, in order.
 */
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  down(): Promise<void>;
  up(): Promise<void>;
  stall(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let stalled = false;
  const held: [Socket, Buffer][] = [];
  let server: Server | undefined;
  let port = 0;
  const listen = async (): Promise<void> => {
    server = createServer((client) => {
      const upstream = createConnection({ port: targetPort, host: targetHost });
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => undefined);
      }
      const forward = (from: Socket, to: Socket): void => {
        from.on('data', (chunk: Buffer) => (stalled ? held.push([to, chunk]) : to.write(chunk)));
      };
      forward(client, upstream);
      forward(upstream, client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  };
  await listen();
  const proxy: TcpProxy = {
    get port() {
      return port;
    },
    async down() {
      const closed = new Promise((r) => server?.close(r));
      for (const s of sockets) s.destroy();
      await closed;
    },
    up: listen,
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
      for (const [to, chunk] of held.splice(0)) if (!to.destroyed) to.write(chunk);
    },
    async close() {
      await proxy.down().catch(() => undefined);
    },
  };
  return proxy;
}
