/**
 * RFC 9728 in every adapter: the API serves its protected-resource metadata at the well-known path
 * (§3.1, inserted before the resource's path), and its challenges name that document (§5.1).
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, describe, expect, it } from 'vitest';
import * as ex from 'baton-auth/adapters/express';
import * as fa from 'baton-auth/adapters/fastify';
import * as ho from 'baton-auth/adapters/hono';
import { resourceMetadataDocument } from 'baton-auth/http';
import { makeBaton } from '../support/baton.ts';

const RESOURCE = 'https://api.example.com/v1';
const { baton } = makeBaton();
const options = { resource: RESOURCE, authorizationServers: [baton.issuer], scopes: ['orders:read'] };
const DOCUMENT = 'https://api.example.com/.well-known/oauth-protected-resource/v1';
const guard = { audience: RESOURCE, resourceMetadata: DOCUMENT };

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});
const listen = async (server: Server): Promise<string> => {
  if (!server.listening) await new Promise((r) => server.once('listening', r));
  closers.push(() => new Promise((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

const apps: Record<string, () => Promise<string>> = {
  express: async () => {
    const app = express();
    app.use(ex.resourceMetadata(options));
    app.get('/v1/orders', ex.requireAuth(baton, guard), (_req, res) => res.json({}));
    return listen(app.listen(0, '127.0.0.1'));
  },
  fastify: async () => {
    const app = Fastify();
    await app.register(fa.resourceMetadata(options));
    app.get('/v1/orders', { preHandler: fa.requireAuth(baton, guard) }, async () => ({}));
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  },
  hono: async () => {
    const app = new Hono();
    app.use(ho.resourceMetadata(options));
    app.get('/v1/orders', ho.requireAuth(baton, guard), (c) => c.json({}));
    return listen(serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server);
  },
};

describe('RFC 9728 protected resource metadata', () => {
  for (const [name, start] of Object.entries(apps)) {
    it(`${name}: serves the document at /.well-known/oauth-protected-resource/v1 and names it in challenges`, async () => {
      const url = await start();
      const res = await fetch(`${url}/.well-known/oauth-protected-resource/v1`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        resource: RESOURCE,
        authorization_servers: [baton.issuer],
        bearer_methods_supported: ['header'],
        scopes_supported: ['orders:read'],
      });
      const refused = await fetch(`${url}/v1/orders`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe(
        `Bearer realm="baton", resource_metadata="${DOCUMENT}", DPoP algs="ES256 EdDSA Ed25519 RS256 PS256"`,
      );
    });
  }

  it("RFC 9728 §3.1: the well-known path keeps a path's last slash and drops only the one after the host (#22)", () => {
    expect(resourceMetadataDocument({ ...options, resource: 'https://api.example.com/v1/' }).url).toBe(
      'https://api.example.com/.well-known/oauth-protected-resource/v1/',
    );
    expect(resourceMetadataDocument({ ...options, resource: 'https://api.example.com/' }).url).toBe(
      'https://api.example.com/.well-known/oauth-protected-resource',
    );
    expect(resourceMetadataDocument({ ...options, resource: 'https://api.example.com' }).url).toBe(
      'https://api.example.com/.well-known/oauth-protected-resource',
    );
  });

  it('refuses a resource with a fragment, and no authorization server', () => {
    expect(() => ex.resourceMetadata({ ...options, resource: 'https://api.example.com/#x' })).toThrow(/no query or fragment/);
    expect(() => ex.resourceMetadata({ ...options, authorizationServers: [] })).toThrow(/authorization servers/);
  });
});
