/**
 * The service's GET /ws on a real socket: a client flooding pings is closed by its message budget
 * (whether it reads or not) and dropped if it does not answer the close; sockets are counted per
 * client address as the HTTP side sees it (BATON_TRUST_PROXY); DPoP proofs name the issuer's URL.
 */
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, startServer } from 'baton-auth-server';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import { eventually } from '../support/eventually.ts';
import { rawClient } from '../ws/raw-client.ts';

let server: Awaited<ReturnType<typeof startServer>> | undefined;
const open: { close: () => void }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) o.close();
  await server?.stop();
  server = undefined;
});

async function start(env: Record<string, string> = {}) {
  server = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent', ...env }));
  const upgraded: Socket[] = [];
  server.server.on('upgrade', (_request, socket: Socket) => void upgraded.push(socket));
  return { running: server, port: Number(new URL(server.url).port), ws: `${server.url.replace('http', 'ws')}/ws`, upgraded };
}

/** A `ws` client that reads; resolves once open, with what it received and how it was closed. */
async function connect(url: string, protocols: string[], headers: Record<string, string> = {}) {
  const socket = new WebSocket(url, protocols, { headers });
  open.push({ close: () => socket.terminate() });
  const received: string[] = [];
  let closed: { code: number; reason: string } | undefined;
  socket.on('message', (d) => void received.push(d.toString()));
  socket.on('close', (code, reason) => void (closed = { code, reason: reason.toString() }));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return { socket, received, closed: () => closed };
}

describe('GET /ws: a client flooding pings', () => {
  it('that reads is closed with 1008 once past 100 messages a second; the pongs it got are within that budget', async () => {
    const { running, ws } = await start();
    const client = await connect(ws, ['baton.v1', `baton.bearer.${(await running.service.baton.login('amy')).access_token}`]);
    await eventually(() => client.received.length > 0, { what: 'authenticated' });
    const begin = performance.now();
    for (let i = 0; i < 2000; i++) client.socket.send('{"type":"ping"}');
    expect(await eventually(() => client.closed(), { what: 'the close' })).toEqual({ code: 1008, reason: 'too many messages' });
    const pongs = client.received.filter((m) => m === '{"type":"pong"}').length;
    expect(pongs).toBeGreaterThanOrEqual(100);
    expect(pongs).toBeLessThanOrEqual(100 + Math.ceil((100 * (performance.now() - begin)) / 1000));
  });

  it('that never reads is closed the same way and dropped when it does not answer the close frame', async () => {
    const { running, port, upgraded } = await start();
    const client = await rawClient(port, ['baton.v1', `baton.bearer.${(await running.service.baton.login('ben')).access_token}`]);
    open.push({ close: () => client.socket.destroy() });
    await eventually(() => client.messages().some((m) => m.type === 'authenticated'), { what: 'authenticated' });
    client.socket.pause();
    const serverSide = upgraded[0] as Socket;
    for (let sent = 0; sent < 100_000 && !serverSide.destroyed && !client.closed(); sent += 1000) {
      if (!client.send('{"type":"ping"}', 1000)) await new Promise((resolve) => client.socket.once('drain', resolve).once('close', resolve));
    }
    await eventually(() => serverSide.destroyed, { what: 'the server to drop the socket', timeoutMs: 10_000 });
    // What the server had sent is still on its way: read it now.
    client.socket.resume();
    expect(await eventually(() => client.closeFrame(), { what: 'the close frame' })).toEqual({ code: 1008, reason: 'too many messages' });
    expect(client.messages().filter((m) => m.type === 'pong').length).toBeLessThan(1000);
  });
});

describe('GET /ws: sockets per client address', () => {
  /** 256 sockets "from" 203.0.113.9 (16 sessions × 16), each authenticated so that none times out. */
  async function fill(running: NonNullable<typeof server>, ws: string): Promise<void> {
    for (let s = 0; s < 16; s++) {
      const token = (await running.service.baton.login(`user-${s}`)).access_token;
      const batch = await Promise.all(
        Array.from({ length: 16 }, () => connect(ws, ['baton.v1', `baton.bearer.${token}`], { 'x-forwarded-for': '203.0.113.9' })),
      );
      await eventually(() => batch.every((c) => c.received.some((m) => m.includes('"authenticated"'))), { what: 'the batch authenticated' });
    }
  }

  it('behind a trusted proxy (BATON_TRUST_PROXY), one forwarded address at its cap does not shut out another', async () => {
    const { running, ws } = await start({ BATON_TRUST_PROXY: 'loopback' });
    await fill(running, ws);
    await expect(connect(ws, ['baton.v1'], { 'x-forwarded-for': '203.0.113.9' })).rejects.toThrow(/429/);
    const other = await connect(ws, ['baton.v1', `baton.bearer.${(await running.service.baton.login('carl')).access_token}`], {
      'x-forwarded-for': '198.51.100.4',
    });
    await eventually(() => other.received.some((m) => m.includes('"authenticated"')), { what: 'the other address authenticated' });
  });

  it("without BATON_TRUST_PROXY, a peer's X-Forwarded-For is ignored: its sockets count against its own address", async () => {
    // Room for 256 sockets from one address on the HTTP side, so that the socket cap is what refuses.
    const { running, ws } = await start({ BATON_MAX_CONNECTIONS_PER_ADDRESS: '400' });
    await fill(running, ws);
    await expect(connect(ws, ['baton.v1'], { 'x-forwarded-for': '198.51.100.4' })).rejects.toThrow(/429/);
  });
});

describe('GET /ws: sockets without a token from many addresses', () => {
  /** GET /healthz from `localAddress`: its status, or the error that ended it. */
  const healthz = (port: number, localAddress: string): Promise<string> =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/healthz', localAddress, agent: false }, (res) => {
        res.resume();
        resolve(String(res.statusCode));
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      req.end();
    });

  it('hold at most a quarter of the sockets (half of BATON_MAX_CONNECTIONS), the oldest cut off for the newest: /healthz from another address answers, and a client with a token gets in while they flood', async () => {
    // 64 connection slots: 32 sockets at most, 8 of them without a token; 8 addresses each try 16 sockets that never authenticate.
    const { running, port } = await start({ BATON_MAX_CONNECTIONS: '64' });
    const flood = await Promise.all(
      Array.from({ length: 8 * 16 }, async (_, i) => {
        const client = await rawClient(port, ['baton.v1'], {}, '/ws', `127.0.3.${1 + (i % 8)}`);
        open.push({ close: () => client.socket.destroy() });
        return client;
      }),
    );
    await Promise.all(flood.map((c) => eventually(() => c.status() ?? (c.closed() && 'closed'), { what: 'an answer to the upgrade' })));
    await eventually(() => flood.filter((c) => c.status()?.includes(' 101 ') && !c.closed()).length <= 8, { what: 'at most 8 token-less sockets left open' });
    expect(await healthz(port, '127.0.3.99')).toBe('200');
    const client = await rawClient(port, ['baton.v1', `baton.bearer.${(await running.service.baton.login('xena')).access_token}`], {}, '/ws', '127.0.3.100');
    open.push({ close: () => client.socket.destroy() });
    await eventually(() => client.messages().some((m) => m.type === 'authenticated'), { what: 'the client with a token authenticated' });
  });
});

describe('GET /ws: origins', () => {
  it("a page of another site is refused at the upgrade (403) and takes no place of its visitors' address; the service's own page and clients without Origin connect", async () => {
    const { running, ws } = await start({ BATON_ALLOWED_ORIGINS: 'https://app.example.com' });
    const token = (await running.service.baton.login('olga')).access_token;
    // More refused upgrades from one address than its cap of 256: none counts.
    for (let i = 0; i < 300; i += 50) {
      const refused = await Promise.allSettled(
        Array.from({ length: 50 }, () => connect(ws, ['baton.v1', `baton.bearer.${token}`], { origin: 'https://evil.example' })),
      );
      expect(refused.every((r) => r.status === 'rejected' && /403/.test(String(r.reason)))).toBe(true);
    }
    for (const origin of [new URL(running.url).origin, `http://localhost:${new URL(running.url).port}`, 'https://app.example.com', undefined]) {
      const client = await connect(ws, ['baton.v1', `baton.bearer.${token}`], origin === undefined ? {} : { origin });
      await eventually(() => client.received.some((m) => m.includes('"authenticated"')), { what: `authenticated from ${origin ?? 'no origin'}` });
    }
  });
});

describe('GET /ws: DPoP', () => {
  it("proofs name the issuer's wss: URL, not one made of the Host the client sent", async () => {
    const { running, ws } = await start({ BATON_ISSUER: 'https://auth.example.test' });
    const key = await dpopKey();
    const bound = async (htu: string) => {
      const token = (await running.service.baton.login('dina', { jkt: key.jkt })).access_token;
      const client = await connect(ws, ['baton.v1', `baton.dpop.${token}`, `baton.proof.${await dpopProof(key, 'GET', htu, { accessToken: token })}`]);
      return eventually(() => client.closed() ?? (client.received.some((m) => m.includes('"authenticated"')) && 'authenticated'), { what: 'an answer' });
    };
    expect(await bound(ws)).toEqual({ code: 4401, reason: 'htu does not match the request URL' });
    expect(await bound('wss://auth.example.test/ws')).toBe('authenticated');
    expect(await bound('https://auth.example.test/ws')).toBe('authenticated');
  });
});
