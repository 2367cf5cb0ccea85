/**
 * The Node adapter's lazy `Request` (`adapters/node-request.ts`): what the handler reads comes from
 * Node's parsed request; anything else gets the real `Request`, built once from the same parts, so
 * that no code can tell the two apart by what they say. The public `toWebRequest` gives the real one.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { toNodeListener, toWebRequest } from 'baton-auth/adapters/node';
import { createAuthHandler } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { lazyWebRequest } from '../../packages/baton-auth/src/adapters/node-request.ts';
import type { TokenPair } from 'baton-auth';
import { tokenResponse } from '../../packages/baton-auth/src/http/context.ts';
import type { HandlerContext } from '../../packages/baton-auth/src/http/context.ts';
import { unbuiltText } from '../../packages/baton-auth/src/http/lazy-response.ts';
import { listening } from '../support/ports.ts';

// A real server: each request's IncomingMessage goes to the test that sent it, which answers it.
const arrived: ((exchange: { req: IncomingMessage; res: ServerResponse }) => void)[] = [];
const server = createServer((req, res) => arrived.shift()?.({ req, res }));
let port = 0;
beforeAll(async () => {
  port = await listening(server);
});
afterAll(() => server.close());

/** Sends raw header lines and a body; resolves to the Web request the adapter makes of what Node parsed. */
async function send(
  method: string,
  headers: [string, string][],
  body = '',
  maxBodyBytes = 1024,
  path = '/a/b?c=d',
  read = lazyWebRequest,
): Promise<{ request: Request; req: IncomingMessage }> {
  const got = new Promise<{ req: IncomingMessage; res: ServerResponse }>((resolve) => arrived.push(resolve));
  const out = httpRequest({
    host: '127.0.0.1',
    port,
    method,
    path,
    headers: [['host', `127.0.0.1:${port}`], ...headers].flat() as unknown as Record<string, string>,
  });
  out.on('response', (res) => res.resume());
  out.end(body);
  const { req, res } = await got;
  const request = await read(req, { origin: 'https://auth.test', maxBodyBytes });
  res.end();
  return { request, req };
}

/** The Headers the adapter built before it was lazy: every Node header, set or appended. */
function eager(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  return headers;
}

const SENT = ['authorization', 'cookie', 'x-forwarded-for', 'dpop', 'content-type', 'origin', 'set-cookie', 'x-custom', 'accept'];
/** A handler on a memory store, alice signing in with "pw". */
function authHandler(maxBodyBytes?: number) {
  const baton = createBaton({
    issuer: 'https://auth.test',
    keys: [generateKey('HS256', 'k')],
    refreshTokenSecret: new Uint8Array(32).fill(7),
    store: memoryStore(),
  });
  return createAuthHandler({
    baton,
    authenticate: async (u, p) => (u === 'alice' && p === 'pw' ? { userId: 'alice' } : null),
    ...(maxBodyBytes ? { maxBodyBytes } : {}),
  });
}

const NAMES = [...SENT, 'host', 'content-length', 'absent'];

describe('the lazy Request of the Node adapter', () => {
  it('for any headers, repeated or not, in any case, get and has answer as the Headers built from them eagerly', async () => {
    const value = fc.stringMatching(/^[!-~]([ -~]{0,20}[!-~])?$/);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...SENT), fc.boolean(), value), { maxLength: 8 }), async (lines) => {
        const sent = lines.map(([name, upper, v]) => [upper ? name.toUpperCase() : name, v] as [string, string]);
        const { request, req } = await send('POST', sent, 'x=1');
        const reference = eager(req);
        for (const name of NAMES) {
          for (const asked of [name, name.toUpperCase()]) {
            expect(request.headers.get(asked)).toBe(reference.get(asked));
            expect(request.headers.has(asked)).toBe(reference.has(asked));
          }
        }
        expect([...request.headers]).toEqual([...reference]);
      }),
      { numRuns: 60 },
    );
  });

  it('is a Request to anything that asks: instanceof, method, url, text(), clone(), signal, a stream body', async () => {
    const { request } = await send('POST', [['content-type', 'application/x-www-form-urlencoded']], 'grant_type=refresh_token');
    expect(request).toBeInstanceOf(Request);
    expect(request.headers).toBeInstanceOf(Headers);
    expect(request.method).toBe('POST');
    expect(request.url).toBe('https://auth.test/a/b?c=d');
    expect(request.signal).toBeInstanceOf(AbortSignal);
    const copy = request.clone();
    expect(await copy.text()).toBe('grant_type=refresh_token');
    expect(await new Response(request.body).text()).toBe('grant_type=refresh_token');
    expect(request.bodyUsed).toBe(true);
    await expect(request.text()).rejects.toThrow(TypeError); // read once, as any Request
  });

  it('a header written is read back, by get and by iteration', async () => {
    const { request } = await send('GET', [['x-custom', 'one']]);
    request.headers.set('x-custom', 'two');
    request.headers.append('x-added', 'three');
    expect(request.headers.get('x-custom')).toBe('two');
    expect(request.headers.get('X-Added')).toBe('three');
    expect(Object.fromEntries(request.headers)).toMatchObject({ 'x-custom': 'two', 'x-added': 'three' });
    // The real Request, built after, carries them too.
    expect(request.clone().headers.get('x-custom')).toBe('two');
  });

  it('a GET has no body; a body past the limit is refused by the handler as before (413)', async () => {
    const { request } = await send('GET', []);
    expect(request.body).toBeNull();
    const handler = authHandler(64);
    const big = await send('POST', [['content-type', 'application/x-www-form-urlencoded']], `username=${'a'.repeat(200)}&password=x`, 64, '/auth/login');
    expect((await handler(big.request, { ip: '127.0.0.1' })).status).toBe(413);
    const small = await send('POST', [['content-type', 'application/x-www-form-urlencoded']], 'username=a&password=x', 64, '/auth/login');
    expect((await handler(small.request, { ip: '127.0.0.1' })).status).toBe(401);
  });

  it('the public toWebRequest gives a real Request, which undici itself takes (new Request, fetch)', async () => {
    const { request } = await send(
      'POST',
      [
        ['content-type', 'text/plain'],
        ['x-custom', 'one'],
      ],
      'hello',
      1024,
      '/a',
      toWebRequest,
    );
    const copy = new Request(request);
    expect(copy.headers.get('x-custom')).toBe('one');
    expect(await copy.text()).toBe('hello');
  });
});

describe("the handler's lazy JSON answers", () => {
  const login = (password: string) =>
    new Request('https://auth.test/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `username=alice&password=${password}`,
    });

  it('a caller with a real Request gets a real Response, which undici itself takes (its brand checks)', async () => {
    const handler = authHandler();
    for (const password of ['pw', 'wrong']) {
      const res = await handler(login(password), { ip: '127.0.0.1' });
      // Response.prototype.text on anything but a real Response throws a TypeError.
      const body = JSON.parse(await Response.prototype.text.call(res)) as Record<string, unknown>;
      expect(Object.keys(body)).toContain(password === 'pw' ? 'access_token' : 'error');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('through the Node adapter, the same status, headers and bytes as the real Response (a refusal, and a token response)', async () => {
    const handler = authHandler();
    const node = createServer(toNodeListener(handler));
    const url = `http://127.0.0.1:${await listening(node)}/auth/login`;
    try {
      for (const password of ['wrong', 'pw']) {
        const over = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `username=alice&password=${password}`,
        });
        const direct = await handler(login(password), { ip: '127.0.0.1' });
        expect(over.status).toBe(direct.status);
        for (const name of ['content-type', 'cache-control', 'pragma', 'www-authenticate']) expect(over.headers.get(name)).toBe(direct.headers.get(name));
        if (password === 'wrong') expect(await over.text()).toBe(await direct.text());
        // A token response: new tokens each time, the same members.
        else expect(Object.keys((await over.json()) as object).sort()).toEqual(Object.keys((await direct.json()) as object).sort());
      }
    } finally {
      node.close();
    }
  });
});

describe('the token response (RFC 6749 §5.1) is lazy too', () => {
  it('nothing of undici is built for it until something asks', () => {
    const pair = { access_token: 'a', token_type: 'Bearer', expires_in: 300, refresh_token: 'r', refresh_expires_in: 600, session_id: 's' } as TokenPair;
    const lazy = tokenResponse({} as HandlerContext, pair, false);
    expect(JSON.parse(unbuiltText(lazy) as string)).toMatchObject({ access_token: 'a', refresh_token: 'r', session_id: 's' });
    expect(lazy.headers.get('cache-control')).toBe('no-store');
  });
});

describe('a server that replaces the global Request and Response (as @hono/node-server does at its first serve)', () => {
  it("the handler's refusals stay refusals: a lazy answer is an instance of the Response the global names now", async () => {
    const [OriginalRequest, OriginalResponse] = [globalThis.Request, globalThis.Response];
    // Subclasses, as hono's are: what was an instance of the originals still is; not the other way round.
    globalThis.Request = class extends OriginalRequest {};
    globalThis.Response = class extends OriginalResponse {};
    const handler = authHandler();
    const node = createServer(toNodeListener(handler));
    try {
      const url = `http://127.0.0.1:${await listening(node)}`;
      // /auth/me tells a refusal from a token's claims by `instanceof Response`: a stand-in outside the new chain was taken for claims (200).
      const me = await fetch(`${url}/auth/me`, { headers: { authorization: 'Bearer not-a-token' } });
      expect(me.status).toBe(401);
      expect(((await me.json()) as { error: string }).error).toBe('invalid_token');
      const { request } = await send('GET', []);
      expect(request).toBeInstanceOf(globalThis.Request);
    } finally {
      node.close();
      globalThis.Request = OriginalRequest;
      globalThis.Response = OriginalResponse;
    }
  });
});
