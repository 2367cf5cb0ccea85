/**
 * Found by a red-team review (each test failed before its fix): the `htu` a DPoP proof must name (RFC 9449 §4.3 items 9) is rebuilt from the request's
 * Host header, which the client chooses. requireAuth (no `origin` option, the default) builds
 * `${protocol}://${Host}${path}`, by string concatenation in Express and Fastify: a Host of
 * `<real host>/<another path>?` turns the request URL into the other path (the real path lands in
 * the query, which is ignored). A proof made for one route is then accepted on any other route
 * of the same method; and with any Host, a proof made for another origin is accepted. The
 * service's own endpoints (`bearer()` in http/context.ts) also accept the Host-derived origin
 * beside the issuer's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import * as expressAdapter from 'baton-auth/adapters/express';
import * as fastifyAdapter from 'baton-auth/adapters/fastify';
import * as honoAdapter from 'baton-auth/adapters/hono';
import { boundLogin, raw } from './helpers.ts';
import { dpopKey, dpopProof } from '../../support/dpop.ts';
import { DEMO_API, frameworks, startDemo } from '../../support/frameworks.ts';
import type { Demo, Started } from '../../support/frameworks.ts';

describe.each(['express', 'fastify'] as const)('%s requireAuth: a Host header with a path and "?" rewrites htu', (name) => {
  let server: Started;
  beforeAll(async () => {
    server = await frameworks[name](startDemo());
  });
  afterAll(() => server.close());

  it('a proof made for GET /api/other is refused at GET /api/profile, whatever the Host header says', async () => {
    const key = await dpopKey();
    const pair = await boundLogin(server.url, key);
    // Control: the same kind of proof, honest Host: refused (htu names another route).
    const honest = await raw(server.port, 'GET', '/api/profile', {
      host: `127.0.0.1:${server.port}`,
      authorization: `DPoP ${pair.access_token}`,
      dpop: await dpopProof(key, 'GET', `${server.url}/api/other`, { accessToken: pair.access_token }),
    });
    expect(honest.status).toBe(401);
    // The attack: the proof for /api/other (e.g. captured unused, or made for a harmless route), Host rewritten.
    const res = await raw(server.port, 'GET', '/api/profile', {
      host: `127.0.0.1:${server.port}/api/other?`,
      authorization: `DPoP ${pair.access_token}`,
      dpop: await dpopProof(key, 'GET', `${server.url}/api/other`, { accessToken: pair.access_token }),
    });
    expect(res.status, res.body).toBe(401);
    expect(JSON.parse(res.body).error).toBe('invalid_dpop_proof');
  });
});

/** An API on 127.0.0.1 whose /api/profile is behind requireAuth with `origin` set, in each framework. */
const withOrigin: Record<'express' | 'fastify' | 'hono', (d: Demo, origin: string | string[]) => Promise<Started>> = {
  express: async (d, origin) => {
    const app = express();
    app.use(expressAdapter.endpoints(d.handler));
    app.get('/api/profile', expressAdapter.requireAuth(d.baton, { audience: DEMO_API, origin }), (req, res) => res.json({ sub: req.auth.sub }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    return { name: 'express', url: `http://127.0.0.1:${port}`, port, close: () => new Promise((r) => server.close(() => r())) };
  },
  fastify: async (d, origin) => {
    const app = Fastify();
    await app.register(fastifyAdapter.endpoints(d.handler));
    app.get('/api/profile', { preHandler: fastifyAdapter.requireAuth(d.baton, { audience: DEMO_API, origin }) }, async (request) => ({
      sub: request.auth.sub,
    }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    return { name: 'fastify', url: `http://127.0.0.1:${port}`, port, close: () => app.close() };
  },
  hono: async (d, origin) => {
    const app = new Hono<{ Variables: honoAdapter.BatonVariables }>();
    app.use('*', honoAdapter.endpoints(d.handler));
    app.get('/api/profile', honoAdapter.requireAuth(d.baton, { audience: DEMO_API, origin }), (c) => c.json({ sub: c.get('auth').sub }));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await new Promise((r) => (server.listening ? r(undefined) : server.once('listening', r)));
    const port = (server.address() as AddressInfo).port;
    return { name: 'hono', url: `http://127.0.0.1:${port}`, port, close: () => new Promise((r) => server.close(() => r())) };
  },
};

// Without `origin` the Host header names the origin (documented: set `origin` in production).
describe.each(['express', 'fastify', 'hono'] as const)('%s requireAuth with origin: htu of another origin, Host header forged', (name) => {
  let server: Started;
  beforeAll(async () => {
    server = await withOrigin[name](startDemo(), ['https://api.alias.example', 'https://api.public.example']); // the API's public names
  });
  afterAll(() => server.close());

  it('a proof made for another origin is refused here whatever the Host header says; one for a configured origin passes', async () => {
    const key = await dpopKey();
    const pair = await boundLogin(server.url, key);
    const forged = await raw(server.port, 'GET', '/api/profile', {
      host: 'other-api.example',
      authorization: `DPoP ${pair.access_token}`,
      dpop: await dpopProof(key, 'GET', 'http://other-api.example/api/profile', { accessToken: pair.access_token }),
    });
    expect(forged.status, forged.body).toBe(401);
    const right = await raw(server.port, 'GET', '/api/profile?x=1', {
      host: 'other-api.example',
      authorization: `DPoP ${pair.access_token}`,
      dpop: await dpopProof(key, 'GET', 'https://api.public.example/api/profile', { accessToken: pair.access_token }),
    });
    expect(right.status, right.body).toBe(200);
  });
});

describe("the service's own endpoints (bearer() in http/context.ts)", () => {
  let server: Started;
  beforeAll(async () => {
    server = await frameworks.express(startDemo());
  });
  afterAll(() => server.close());

  it('GET /auth/me refuses a proof whose htu names another origin, even with the Host header forged to it', async () => {
    const key = await dpopKey();
    const pair = await boundLogin(server.url, key, null); // a token for the service itself
    const res = await raw(server.port, 'GET', '/auth/me', {
      host: 'evil.example',
      authorization: `DPoP ${pair.access_token}`,
      dpop: await dpopProof(key, 'GET', 'http://evil.example/auth/me', { accessToken: pair.access_token }),
    });
    expect(res.status, res.body).toBe(401);
  });
});
