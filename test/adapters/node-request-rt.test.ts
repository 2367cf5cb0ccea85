/**
 * Red team of #26: the Node adapter's lazy `Request` is not a `Request` to undici's brand checks
 * (`new Request(request)`, `fetch(request)` throw). Code of the app's that receives the request —
 * `authorization.currentUser`, `authorization.signOut` — must get one that works as any Request.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { toNodeListener } from 'baton-auth/adapters/node';
import { memoryStore } from 'baton-auth/stores/memory';

const servers: ReturnType<typeof createServer>[] = [];
afterEach(() => servers.splice(0).forEach((s) => s.close()));

describe('red team: the request the app’s hooks receive through the Node adapter', () => {
  it('currentUser may copy it (new Request(request)), as it could any Request', async () => {
    const baton = createBaton({ issuer: 'https://auth.test', keys: [generateKey('HS256', 'k')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
    const cookies: (string | null)[] = [];
    const handler = createAuthHandler({
      baton,
      authenticate: async () => null,
      clients: staticClients([{ id: 'default' }, { id: 'web', redirectUris: ['https://app.test/cb'] }]),
      authorization: {
        // An app forwarding the request to its own session service, say.
        currentUser: async (request: Request) => {
          cookies.push(new Request(request).headers.get('cookie'));
          return null;
        },
        signInUrl: (back: string) => `https://app.test/signin?back=${encodeURIComponent(back)}`,
      },
    });
    const server = createServer(toNodeListener(handler));
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const query = new URLSearchParams({
      client_id: 'web',
      redirect_uri: 'https://app.test/cb',
      response_type: 'code',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    });
    const res = await fetch(`http://127.0.0.1:${port}/oauth/authorize?${query}`, { headers: { cookie: 'app_session=s1' }, redirect: 'manual' });
    expect(res.status).toBeLessThan(500);
    expect(cookies).toEqual(['app_session=s1']);
  });
});
