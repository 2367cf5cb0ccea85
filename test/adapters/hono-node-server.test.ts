/**
 * The Hono guard under @hono/node-server reads the Authorization header and the path from the
 * Node request (`c.env.incoming`), not from `c.req.raw`: reading them there would build the Web
 * `Headers` the server's lazy Request defers, several µs of every request (`bench/frameworks.ts`).
 * The answers are the same as through the Request (the frameworks test runs the same app on
 * `app.request`, without the Node request).
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { requireAuth } from 'baton-auth/adapters/hono';
import type { BatonVariables } from 'baton-auth/adapters/hono';
import { memoryStore } from 'baton-auth/stores/memory';

const baton = createBaton({ issuer: 'https://issuer.test', keys: [generateKey('EdDSA')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
let reads = 0;
const app = new Hono<{ Variables: BatonVariables }>();
// Counts what reads the lazy Request's headers before the guard and after it (an own getter shadows the server's).
app.use(async (c, next) => {
  const raw = c.req.raw;
  const proto = Object.getPrototypeOf(raw) as object;
  const getter = Object.getOwnPropertyDescriptor(proto, 'headers')?.get ?? Object.getOwnPropertyDescriptor(Request.prototype, 'headers')?.get;
  Object.defineProperty(raw, 'headers', {
    get() {
      reads++;
      return getter?.call(raw) as Headers;
    },
  });
  return next();
});
app.get('/api/me', requireAuth(baton, { audience: baton.audience, scope: 'read' }), (c) => c.text(c.get('auth').sub));
let server: Server;
let url = '';
beforeAll(async () => {
  await baton.ready();
  server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('requireAuth for Hono on @hono/node-server', () => {
  it("passes a valid Bearer token without building the Request's headers", async () => {
    const { access_token } = await baton.login('ada', { scope: 'read' });
    reads = 0;
    const res = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ada');
    expect(reads).toBe(0);
  });

  it('refuses as through the Request: no token, a bad one, a missing scope, a token in the query', async () => {
    const { access_token } = await baton.login('bob', { scope: 'write' });
    const cases: [string, Record<string, string>, number, string][] = [
      ['/api/me', {}, 401, 'Bearer'],
      ['/api/me', { authorization: 'Bearer nope.nope.nope' }, 401, 'invalid_token'],
      ['/api/me', { authorization: `Bearer ${access_token}` }, 403, 'insufficient_scope'],
      ['/api/me', { authorization: `bearer  ${access_token}` }, 403, 'insufficient_scope'],
      [`/api/me?access_token=${access_token}`, {}, 400, 'invalid_request'],
      ['/api/me', { authorization: 'Bearer a b' }, 400, 'invalid_request'],
    ];
    for (const [path, headers, status, challenge] of cases) {
      const res = await fetch(`${url}${path}`, { headers });
      expect([path, res.status]).toEqual([path, status]);
      expect(res.headers.get('www-authenticate')).toContain(challenge);
    }
  });
});
