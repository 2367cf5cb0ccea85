/**
 * Red team of the check-phase write and the lazy token response (#26: adapters/node.ts,
 * http/context.ts `tokenResponse`): the attacks that held. Pipelined requests answered in order
 * with their own bodies, two sockets' answers never crossed; an error inside the deferred write a
 * 500, never an unhandled rejection; a socket gone before its deferred write costs nothing; the
 * token response's RFC 6749 §5.1 headers, its refresh cookie, Date and DPoP-Nonce through
 * `toNodeListener`, Express and Fastify; a caller with a plain `Request` gets a real `Response`.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { toNodeListener } from 'baton-auth/adapters/node';
import { createAuthHandler } from 'baton-auth/http';
import type { AuthHandler } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import { listening } from '../support/ports.ts';

const closed = (server: Server) => new Promise((r) => (server.closeAllConnections(), server.close(r)));

/** Writes `raw` on one socket in one write; resolves with everything the server sent until it closed. */
function rawExchange(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(raw));
    let got = '';
    socket.setEncoding('latin1').on('data', (d: string) => (got += d));
    socket.on('end', () => resolve(got)).on('error', reject);
  });
}

/** The bodies of the answers in a raw HTTP/1.1 exchange, in order (each carries Content-Length or is chunked). */
function bodies(raw: string): string[] {
  const out: string[] = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    const head = rest.slice(0, end);
    rest = rest.slice(end + 4);
    const length = /content-length: (\d+)/i.exec(head);
    if (length !== null) {
      out.push(rest.slice(0, Number(length[1])));
      rest = rest.slice(Number(length[1]));
      continue;
    }
    let body = '';
    for (;;) {
      const line = rest.indexOf('\r\n');
      const size = parseInt(rest.slice(0, line), 16);
      rest = rest.slice(line + 2);
      if (size === 0) {
        rest = rest.slice(2);
        break;
      }
      body += rest.slice(0, size);
      rest = rest.slice(size + 2);
    }
    out.push(body);
  }
  return out;
}

describe('the check-phase write: ordering, errors, sockets gone', () => {
  // Each path answers with itself, after a delay it names: microtasks, a check phase, or a timer.
  const handler = Object.assign(
    async (request: Request) => {
      const { pathname, searchParams } = new URL(request.url);
      const wait = searchParams.get('wait');
      if (wait === 'immediate') await new Promise((r) => setImmediate(r));
      else if (wait !== null && wait.startsWith('ms')) await new Promise((r) => setTimeout(r, Number(wait.slice(2))));
      else for (let i = 0; i < Number(wait ?? 0); i++) await Promise.resolve();
      if (pathname === '/throws')
        return {
          status: 200,
          get headers(): Headers {
            throw new Error('boom');
          },
        } as unknown as Response;
      return new Response(JSON.stringify({ path: pathname }), { headers: { 'content-type': 'application/json', 'x-path': pathname } });
    },
    { maxBodyBytes: 1024, handles: () => true },
  ) as unknown as AuthHandler;
  const seen: { req: IncomingMessage; res: ServerResponse }[] = [];
  const listener = toNodeListener(handler);
  const server = createServer((req, res) => (seen.push({ req, res }), listener(req, res)));
  let port = 0;
  beforeAll(async () => (port = await listening(server)));
  afterAll(() => closed(server));

  it('pipelined requests in one packet are answered in order, each with its own body, whatever each waits for', async () => {
    const waits = ['ms20', '0', 'immediate', '50', 'ms5', '0', 'immediate', 'ms1'];
    const raw = waits.map((w, i) => `GET /r${i}?wait=${w} HTTP/1.1\r\nHost: a\r\n${i === waits.length - 1 ? 'Connection: close\r\n' : ''}\r\n`).join('');
    const answered = bodies(await rawExchange(port, raw));
    expect(answered).toEqual(waits.map((_, i) => JSON.stringify({ path: `/r${i}` })));
  });

  it("two sockets pipelining at once: each gets only its own answers, in its order (no client reads another's)", async () => {
    const run = (tag: string, waits: string[]) =>
      rawExchange(
        port,
        waits.map((w, i) => `GET /${tag}${i}?wait=${w} HTTP/1.1\r\nHost: a\r\n${i === waits.length - 1 ? 'Connection: close\r\n' : ''}\r\n`).join(''),
      ).then(bodies);
    const waits = ['immediate', '0', 'ms3', '10', '0', 'immediate'];
    const [a, b] = await Promise.all([run('a', waits), run('b', [...waits].reverse())]);
    expect(a).toEqual(waits.map((_, i) => JSON.stringify({ path: `/a${i}` })));
    expect(b).toEqual(waits.map((_, i) => JSON.stringify({ path: `/b${i}` })));
  });

  it('an error inside the deferred write ends as a 500, never an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/throws`);
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: 'server_error' });
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a socket reset before its deferred write: nothing thrown, nothing held, the server goes on', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      seen.length = 0;
      for (let i = 0; i < 20; i++) {
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        await once(socket, 'connect');
        // The request and the reset together: the answer, ready at once, waits for a check phase the reset may precede.
        socket.write(`GET /gone${i}?wait=immediate HTTP/1.1\r\nHost: a\r\n\r\nGET /gone${i}b HTTP/1.1\r\nHost: a\r\n\r\n`);
        socket.resetAndDestroy();
      }
      await new Promise((r) => setTimeout(r, 50));
      expect(seen.length).toBeGreaterThan(0);
      for (const { res } of seen) expect(res.destroyed, 'the answer of a gone client, destroyed with its socket').toBe(true);
      expect(unhandled).toEqual([]);
      expect(await (await fetch(`http://127.0.0.1:${port}/after`)).json()).toEqual({ path: '/after' });
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('the lazy token response: RFC 6749 §5.1 headers, the refresh cookie, Date, DPoP-Nonce', () => {
  const baton = createBaton({
    issuer: 'http://127.0.0.1',
    keys: [generateKey('EdDSA', 'ed')],
    refreshTokenSecret: new Uint8Array(32).fill(3),
    store: memoryStore(),
  });
  const handler = createAuthHandler({ baton, authenticate: async (u, p) => (u === 'alice' && p === 'pw' ? { userId: 'alice' } : null) });
  afterAll(() => baton.close());

  const form = 'username=alice&password=pw';
  const check = (status: number, headers: Headers, body: Record<string, unknown>, viaCookie: boolean, cookieCount = 1) => {
    expect(status).toBe(200);
    expect(headers.get('cache-control')).toBe('no-store');
    expect(headers.get('pragma')).toBe('no-cache');
    expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(Date.parse(headers.get('date') ?? '')).not.toBeNaN();
    expect(typeof body.access_token).toBe('string');
    if (viaCookie) {
      expect(body.refresh_token).toBeUndefined();
      const cookies = headers.getSetCookie();
      expect(cookies).toHaveLength(cookieCount);
      expect(cookies[0]).toMatch(/baton_rt=rt_[^;]+;.*HttpOnly/i);
      expect(cookies[0]).toMatch(/Max-Age=\d+/);
      expect(cookies[0]).toMatch(/SameSite=/i);
    } else {
      expect(typeof body.refresh_token).toBe('string');
      expect(headers.getSetCookie()).toEqual([]);
    }
  };

  /** A login over `url`: the JSON pair, the refresh cookie variant, and a DPoP-bound login with its nonce. */
  async function overHttp(url: string) {
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
    const plain = await post(form);
    check(plain.status, plain.headers, (await plain.json()) as Record<string, unknown>, false);
    const cookie = await post(`${form}&refresh_token_delivery=cookie`, { 'sec-fetch-site': 'same-origin' });
    check(cookie.status, cookie.headers, (await cookie.json()) as Record<string, unknown>, true);
    const key = await dpopKey();
    const asked = await post(form, { dpop: await dpopProof(key, 'POST', `${url}/auth/login`) });
    const nonce = asked.headers.get('dpop-nonce') as string;
    expect(nonce).toBeTruthy();
    const bound = await post(form, { dpop: await dpopProof(key, 'POST', `${url}/auth/login`, { nonce }) });
    const body = (await bound.json()) as Record<string, unknown>;
    check(bound.status, bound.headers, body, false);
    expect(body.token_type).toBe('DPoP');
    expect(bound.headers.get('dpop-nonce')).toBeTruthy();
  }

  it('through toNodeListener (the service)', async () => {
    const server = createServer(toNodeListener(handler));
    const port = await listening(server);
    try {
      await overHttp(`http://127.0.0.1:${port}`);
    } finally {
      await closed(server);
    }
  });

  it('through the Express endpoints adapter', async () => {
    const { default: express } = await import('express');
    const { endpoints } = await import('baton-auth/adapters/express');
    const app = express();
    app.use(endpoints(handler));
    const server = createServer(app);
    try {
      await overHttp(`http://127.0.0.1:${await listening(server)}`);
    } finally {
      await closed(server);
    }
  });

  it('through the Fastify endpoints adapter', async () => {
    const { default: Fastify } = await import('fastify');
    const { endpoints } = await import('baton-auth/adapters/fastify');
    const app = Fastify();
    await app.register(endpoints(handler));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      await overHttp(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
    } finally {
      await app.close();
    }
  });

  it('a caller with a plain Request gets a real Response (brand-checked methods work), its headers its own to change', async () => {
    const res = await handler(
      new Request('http://127.0.0.1/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        body: `${form}&refresh_token_delivery=cookie`,
      }),
      { ip: '127.0.0.1' },
    );
    expect(Object.getPrototypeOf(res)).toBe(Response.prototype);
    res.headers.set('x-app', 'added');
    res.headers.append('set-cookie', 'app=1; Path=/');
    const copy = new Response(res.body, res); // undici's own code accepts it
    expect(copy.headers.get('x-app')).toBe('added');
    expect(copy.headers.getSetCookie()).toHaveLength(2);
    const body = JSON.parse(await Response.prototype.text.call(copy)) as Record<string, unknown>;
    check(copy.status, copy.headers, body, true, 2);
    expect(copy.headers.getSetCookie()[1]).toBe('app=1; Path=/');
  });
});
