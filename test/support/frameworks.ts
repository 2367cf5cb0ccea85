/**
 * The example app of each framework (examples/express.ts, fastify.ts, hono.ts) on the demo's
 * Baton, listening on 127.0.0.1 on a port the system picks.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { BatonOptions } from 'baton-auth';
import { createApp as expressApp } from '../../examples/express.ts';
import { createApp as fastifyApp } from '../../examples/fastify.ts';
import { createApp as honoApp } from '../../examples/hono.ts';
import { demo } from '../../examples/demo.ts';

export { DEMO_API, DEMO_USER } from '../../examples/demo.ts';

export type Demo = ReturnType<typeof demo>;
export type FrameworkName = 'express' | 'fastify' | 'hono';
export interface Started {
  name: FrameworkName;
  /** http://127.0.0.1:port */
  url: string;
  port: number;
  close: () => Promise<void>;
}

const closeServer = (server: Server) => (): Promise<void> => new Promise((r) => server.close(() => r()));
const listening = async (name: FrameworkName, server: Server): Promise<Started> => {
  if (!server.listening) await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as AddressInfo;
  return { name, url: `http://127.0.0.1:${port}`, port, close: closeServer(server) };
};

/** Starts the example app of each framework on `d`. */
export const frameworks: Record<FrameworkName, (d: Demo) => Promise<Started>> = {
  express: (d) => listening('express', expressApp(d.baton, d.handler).listen(0, '127.0.0.1')),
  fastify: async (d) => {
    const app = await fastifyApp(d.baton, d.handler);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return { name: 'fastify', url: `http://127.0.0.1:${port}`, port, close: () => app.close() };
  },
  hono: (d) => listening('hono', serve({ fetch: honoApp(d.baton, d.handler).fetch, port: 0, hostname: '127.0.0.1' }) as Server),
};

/** The demo (examples/demo.ts) at http://127.0.0.1, without the refresh rate limit; `overrides` add options. */
export function startDemo(overrides: Partial<BatonOptions> = {}): Demo {
  return demo('http://127.0.0.1', { refreshRateLimit: false, ...overrides });
}
