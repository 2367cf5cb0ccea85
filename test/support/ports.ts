/**
 * Loopback ports chosen at run time, never fixed: two runs of the suite on one machine (or two
 * engineers' runs) must not meet on a port.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';

/**
 * A loopback port nobody listens on now: the system picks it (listen on 0), then it is released
 * for the caller's own server — or kept closed, for a test that needs a port where nothing answers.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** `n` distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/** Starts `server` on a loopback port the system picks; resolves to that port. */
export async function listening(server: Pick<Server, 'listen' | 'address' | 'once'>): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
