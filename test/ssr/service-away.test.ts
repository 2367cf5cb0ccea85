/**
 * The token service away, slow, failing or answering nonsense never signs a user out: the state
 * says `unavailable`, no cookie is set or cleared, and the render is told through the forwarded
 * header. Every call is bounded in time and in the size of its answer.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { createServerSession } from 'baton-auth/ssr';
import { freePort } from '../support/ports.ts';

const servers: Server[] = [];
afterAll(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));

/** A real HTTP server on a free port answering every request with `answer`. */
async function issuer(answer: (res: import('node:http').ServerResponse) => void): Promise<string> {
  const server = createServer((_req, res) => answer(res));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

const COOKIE = '__Host-baton_rt=rt_session.3.mac; theme=dark';

async function refreshAgainst(url: string, timeoutMs = 1000) {
  const session = createServerSession({ issuer: url, clientId: 'web', timeoutMs });
  try {
    return await session.refresh(COOKIE);
  } finally {
    session.close();
  }
}

describe('the service away keeps the session', () => {
  it('nothing listening: unavailable, no Set-Cookie, the render told through the forwarded header', async () => {
    const outcome = await refreshAgainst(`http://127.0.0.1:${await freePort()}`);
    expect(outcome.state).toMatchObject({ status: 'unavailable', reason: 'unavailable', retryAfterSec: 1 });
    expect(outcome.setCookies).toEqual([]);
    expect(outcome.requestCookie).toBe(`${COOKIE}; __Host-baton_end=unavailable`);
  });

  it.each([
    [
      '503 with Retry-After',
      (res: import('node:http').ServerResponse) => res.writeHead(503, { 'retry-after': '7' }).end('{"error":"temporarily_unavailable"}'),
    ],
    ['500 HTML', (res: import('node:http').ServerResponse) => res.writeHead(500, { 'content-type': 'text/html' }).end('<h1>oops</h1>')],
    ['429', (res: import('node:http').ServerResponse) => res.writeHead(429, { 'retry-after': '3' }).end('{"error":"slow_down"}')],
    ['a redirect', (res: import('node:http').ServerResponse) => res.writeHead(302, { location: 'https://elsewhere.test/' }).end()],
    ['a proxy 400 that is not OAuth', (res: import('node:http').ServerResponse) => res.writeHead(400).end('bad gateway config')],
    [
      '200 that is not a token answer',
      (res: import('node:http').ServerResponse) => res.writeHead(200).end('{"access_token":"x y","token_type":"Bearer","expires_in":-1}'),
    ],
    ['invalid_client (this app misconfigured)', (res: import('node:http').ServerResponse) => res.writeHead(401).end('{"error":"invalid_client"}')],
  ])('%s: unavailable, the cookies kept', async (_what, answer) => {
    const outcome = await refreshAgainst(await issuer(answer));
    expect([outcome.state.status, outcome.setCookies]).toEqual(['unavailable', []]);
  });

  it('a 503 tells how long to wait (Retry-After)', async () => {
    const outcome = await refreshAgainst(await issuer((res) => res.writeHead(429, { 'retry-after': '3' }).end('{"error":"slow_down"}')));
    expect(outcome.state).toMatchObject({ status: 'unavailable', retryAfterSec: 3 });
  });

  it('a service that never answers is given up on at timeoutMs', async () => {
    const url = await issuer(() => undefined); // holds every request open
    const started = performance.now();
    const outcome = await refreshAgainst(url, 300);
    expect(outcome.state.status).toBe('unavailable');
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('a service that hangs while the access token is verified (discovery, JWKS): unavailable at timeoutMs, the cookies kept', async () => {
    const url = await issuer(() => undefined);
    const session = createServerSession({ issuer: url, clientId: 'web', timeoutMs: 300 });
    try {
      const started = performance.now();
      const token = '__Host-baton_at=eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln';
      expect(await session.read(token)).toMatchObject({ status: 'unavailable' });
      const outcome = await session.refresh(`${token}; __Host-baton_rt=rt_x.1.mac`);
      expect([outcome.state.status, outcome.setCookies]).toEqual(['unavailable', []]);
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      session.close();
    }
  });

  it('an answer past 64 KiB is cut off, not buffered, and keeps the session', async () => {
    const TOTAL = 32 * 1024 * 1024;
    let written = 0;
    let sentWhenClosed = -1;
    const url = await issuer((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const pump = () => {
        while (written < TOTAL && !res.destroyed && res.write(chunk)) written += chunk.length;
        if (written < TOTAL && !res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => (sentWhenClosed = written));
      pump();
    });
    const outcome = await refreshAgainst(url, 10_000);
    expect(outcome.state.status).toBe('unavailable');
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The app stopped reading soon after 64 KiB: the server could not push its 32 MiB (socket buffers aside).
    expect(sentWhenClosed).toBeGreaterThan(0);
    expect(sentWhenClosed).toBeLessThan(8 * 1024 * 1024);
  });

  it('a configuration mistake fails when created, with a sentence', () => {
    expect(() => createServerSession({ issuer: 'http://auth.example.com', clientId: 'web' })).toThrow(/not https/);
    expect(() => createServerSession({ issuer: 'https://auth.example.com', clientId: '' })).toThrow(/clientId/);
    expect(() => createServerSession({ issuer: 'https://auth.example.com', clientId: 'web', timeoutMs: 10 })).toThrow(/timeoutMs/);
    expect(() => createServerSession({ issuer: 'https://auth.example.com', clientId: 'web', refreshLeewaySec: -1 })).toThrow(/refreshLeewaySec/);
  });
});
