/**
 * WebSocket re-authentication with a real `ws` client, short token lifetimes, two instances
 * sharing one store (the socket lives on B; logins, refreshes and revocations happen on A).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { attachWebSocketAuth } from 'baton-auth/ws';

const store = memoryStore();
const common = { issuer: 'https://ws.test', keys: [generateKey('HS256', 'k')], refreshTokenSecret: randomBytes(32), store, accessTokenTtl: 3, refreshRateLimit: false as const };
const a = createBaton(common);
const b = createBaton(common);
const server = createServer();
let url = '';
let ws: ReturnType<typeof attachWebSocketAuth>;

beforeAll(async () => {
  await b.ready();
  ws = attachWebSocketAuth({ baton: b, server, noticeMs: 1000, onMessage: ({ socket, claims }, data) => socket.send(JSON.stringify({ type: 'echo', sub: claims.sub, data: data.toString() })) });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
});
afterAll(async () => {
  await ws.close();
  server.close();
});

interface Client {
  socket: WebSocket;
  messages: { type: string; [k: string]: unknown }[];
  closed: Promise<{ code: number; reason: string }>;
}

function connect(token?: string, suffix = ''): Promise<Client> {
  const socket = new WebSocket(`${url}${suffix}`, token ? ['baton.v1', `baton.bearer.${token}`] : ['baton.v1']);
  const messages: Client['messages'] = [];
  socket.on('message', (d) => messages.push(JSON.parse(d.toString())));
  const closed = new Promise<{ code: number; reason: string }>((r) => socket.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, messages, closed }));
    socket.once('error', reject);
  });
}

const waitFor = async (check: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('WebSocket re-authentication', () => {
  it('a client that answers token_expiring stays connected across several token lifetimes', async () => {
    let pair = await a.login('alice');
    const client = await connect(pair.access_token);
    let reauths = 0;
    client.socket.on('message', async (d) => {
      const m = JSON.parse(d.toString()) as { type: string };
      if (m.type === 'token_expiring') {
        pair = await a.refresh(pair.refresh_token);
        client.socket.send(JSON.stringify({ type: 'reauth', access_token: pair.access_token }));
      }
      if (m.type === 'reauth_ok') reauths++;
    });
    await new Promise((r) => setTimeout(r, 8000)); // more than two lifetimes of 3 s
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    expect(reauths).toBeGreaterThanOrEqual(2);
    expect(client.messages[0]).toMatchObject({ type: 'authenticated' });
    expect(client.messages.filter((m) => m.type === 'token_expiring').length).toBeGreaterThanOrEqual(2);
    client.socket.send('hello');
    await waitFor(() => client.messages.some((m) => m.type === 'echo'), 2000);
    expect(client.messages.find((m) => m.type === 'echo')).toMatchObject({ sub: 'alice', data: 'hello' });
    client.socket.close();
  }, 20_000);

  it('no re-auth by exp: closed with 4401', async () => {
    const pair = await a.login('bob');
    const client = await connect();
    client.socket.send(JSON.stringify({ type: 'auth', access_token: pair.access_token }));
    const started = Date.now();
    const { code, reason } = await client.closed;
    expect(code).toBe(4401);
    expect(reason).toBe('access token expired');
    expect(Date.now() - started).toBeLessThan(4500);
    expect(client.messages.map((m) => m.type)).toEqual(['authenticated', 'token_expiring']);
  }, 10_000);

  it('a session revoked on another instance closes its sockets at once', async () => {
    const pair = await a.login('carol');
    const client = await connect(pair.access_token);
    await waitFor(() => client.messages.length > 0, 2000);
    const t = Date.now();
    await a.revokeSession(pair.session_id, 'kicked');
    const { code, reason } = await client.closed;
    expect(code).toBe(4401);
    expect(reason).toBe('session revoked (kicked)');
    expect(Date.now() - t).toBeLessThan(1500);
  });

  it('refuses bad tokens, tokens in the URL, silence, and a re-auth as someone else', async () => {
    expect((await (await connect('not-a-token')).closed).code).toBe(4401);
    await expect(connect(undefined, `?access_token=${(await a.login('dave')).access_token}`)).rejects.toThrow(/400/);
    const silent = await connect();
    silent.socket.send(JSON.stringify({ type: 'hello' }));
    expect((await silent.closed).code).toBe(4401);
    const erin = await a.login('erin');
    const frank = await a.login('frank');
    const client = await connect(erin.access_token);
    await waitFor(() => client.messages.length > 0, 2000);
    client.socket.send(JSON.stringify({ type: 'reauth', access_token: 'garbage' }));
    await waitFor(() => client.messages.some((m) => m.type === 'reauth_failed'), 2000);
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    client.socket.send(JSON.stringify({ type: 'reauth', access_token: frank.access_token }));
    expect((await client.closed).code).toBe(4403);
  });
});
