/**
 * Slow clients on a real socket: a header or a body trickled byte by byte is cut off after the
 * configured timeout, and connections past BATON_MAX_CONNECTIONS, or past one address's share
 * (BATON_MAX_CONNECTIONS_PER_ADDRESS), are closed on arrival.
 */
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, startServer } from 'baton-auth-server';
import { eventually } from '../support/eventually.ts';

let server: Awaited<ReturnType<typeof startServer>> | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.stop();
  server = undefined;
});

async function start(env: Record<string, string>): Promise<number> {
  server = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent', ...env }));
  return Number(new URL(server.url).port);
}

/** A raw connection: what the server sent, and when (ms after `open`) it closed the connection. */
function open(port: number, from?: string): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ...(from === undefined ? {} : { localAddress: from }) });
    sockets.push(socket);
    let data = '';
    socket
      .setEncoding('utf8')
      .on('data', (d: string) => (data += d))
      .on('error', () => undefined);
    socket.once('connect', () => {
      const at = Date.now();
      const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - at)));
      resolve({ socket, received: () => data, closed });
    });
    socket.once('error', reject);
  });
}

/** Writes `text` one byte every `everyMs` until the socket closes. */
function trickle(socket: Socket, text: string, everyMs = 200): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) return clearInterval(timer);
    socket.write(text[i++] as string);
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

/** Resolves to the close time, or rejects after `ms`: the bound on a hang. */
const within = (closed: Promise<number>, ms: number, what: string): Promise<number> =>
  Promise.race([closed, new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`${what} still open after ${ms} ms`)), ms))]);

describe('slow clients', () => {
  it('cuts off a header trickled byte by byte after BATON_HEADERS_TIMEOUT', async () => {
    const port = await start({ BATON_HEADERS_TIMEOUT: '1s', BATON_REQUEST_TIMEOUT: '30s' });
    const { socket, received, closed } = await open(port);
    trickle(socket, `GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(1000)}\r\n\r\n`);
    const after = await within(closed, 6000, 'a trickled header');
    expect(after).toBeGreaterThanOrEqual(900);
    expect(received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('cuts off a body trickled byte by byte after BATON_REQUEST_TIMEOUT', async () => {
    const port = await start({ BATON_HEADERS_TIMEOUT: '1s', BATON_REQUEST_TIMEOUT: '2s' });
    const { socket, closed } = await open(port);
    const body = `token=${'x'.repeat(994)}`;
    socket.write(`POST /oauth/revoke HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`);
    trickle(socket, body);
    const after = await within(closed, 7000, 'a trickled body');
    expect(after).toBeGreaterThanOrEqual(1800);
  });

  it('closes a connection past BATON_MAX_CONNECTIONS while the first ones stay open and served', async () => {
    const port = await start({ BATON_MAX_CONNECTIONS: '2' });
    const first = await open(port);
    const second = await open(port);
    const third = await open(port);
    await within(third.closed, 3000, 'the third connection');
    for (const { socket, received } of [first, second]) {
      expect(socket.destroyed).toBe(false);
      socket.write('GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await new Promise<void>((resolve) => socket.once('data', () => resolve()));
      expect(received()).toMatch(/^HTTP\/1\.1 200 /);
    }
  });

  it('one address holds no more than BATON_MAX_CONNECTIONS_PER_ADDRESS: its extra connections are closed, another address is served', async () => {
    // 64 slots, 16 per address by default: one address tries to take them all.
    const port = await start({ BATON_MAX_CONNECTIONS: '64' });
    const held = await Promise.all(Array.from({ length: 64 }, () => open(port, '127.0.0.1')));
    const closed: number[] = [];
    held.forEach(({ closed: c }, i) => void c.then(() => closed.push(i)));
    await eventually(() => closed.length === 48, { timeoutMs: 5000, what: 'the 48 connections past the cap closed' });
    // Another address (loopback is 127.0.0.0/8) gets its health checks and its requests served meanwhile.
    const get = (path: string) =>
      new Promise<number>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path, localAddress: '127.0.0.2', agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
    expect(await Promise.all(Array.from({ length: 20 }, (_, i) => get(i % 2 ? '/healthz' : '/.well-known/jwks.json')))).toEqual(Array(20).fill(200));
    // The 16 the first address holds stay open and served; nothing else of its got through.
    const kept = held.filter(({ socket }) => !socket.destroyed);
    expect(kept).toHaveLength(16);
    expect(closed).toHaveLength(48);
    kept[0]?.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await eventually(() => /^HTTP\/1\.1 200 /.test(kept[0]?.received() ?? ''), { timeoutMs: 5000, what: 'a held connection served' });
    // Its slots come back as its connections close.
    // Closed from this side: the server's half closes after, and the client's 'close' waits for it.
    await Promise.all(kept.slice(0, 4).map(({ socket, closed: c }) => (socket.end(), c)));
    await get('/healthz');
    const again = await Promise.all(Array.from({ length: 4 }, () => open(port, '127.0.0.1')));
    await get('/healthz'); // a round trip: the new ones were seen by now
    expect(again.filter(({ socket }) => !socket.destroyed)).toHaveLength(4);
  });

  it("does not cap a trusted proxy's connections per address (they carry many clients), only in total", async () => {
    const port = await start({ BATON_MAX_CONNECTIONS: '30', BATON_MAX_CONNECTIONS_PER_ADDRESS: '4', BATON_TRUST_PROXY: '127.0.0.1' });
    const proxy = await Promise.all(Array.from({ length: 12 }, () => open(port, '127.0.0.1')));
    const client = await Promise.all(Array.from({ length: 6 }, () => open(port, '127.0.0.3')));
    await eventually(() => client.filter(({ socket }) => socket.destroyed).length === 2, {
      timeoutMs: 5000,
      what: "the direct client's 2 extra connections closed",
    });
    for (const { socket, received } of proxy.slice(0, 12)) {
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await eventually(() => /^HTTP\/1\.1 200 /.test(received()), { timeoutMs: 5000, what: "the proxy's connections served" });
    }
    expect(proxy.filter(({ socket }) => socket.destroyed)).toHaveLength(0);
  });

  // IPv6 addresses of one /64 on the loopback interface (root, Linux `ip`): one host holds its whole /64.
  const addsAddresses =
    process.getuid?.() === 0 &&
    (() => {
      try {
        execFileSync('ip', ['-6', 'addr', 'show', 'dev', 'lo'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
  it.runIf(addsAddresses)('counts an IPv6 client per /64, as login protection does: addresses of one /64 share one share of the connections', async () => {
    const net = `2001:db8:${(0x1000 + (process.pid % 0xe000)).toString(16)}:7`; // a /64 of the documentation prefix, this run's
    const [a, b, c] = [`${net}::a`, `${net}::b`, `2001:db8:ffff:${(process.pid % 0xffff).toString(16)}::c`];
    for (const address of [a, b, c]) execFileSync('ip', ['-6', 'addr', 'add', `${address}/128`, 'dev', 'lo', 'nodad']);
    try {
      const port = await start({ BATON_MAX_CONNECTIONS: '30', BATON_MAX_CONNECTIONS_PER_ADDRESS: '4', HOST: '::' });
      const from = (local: string) =>
        new Promise<{ socket: Socket; closed: Promise<void> }>((resolve, reject) => {
          const socket = connect({ port, host: '::1', localAddress: local });
          sockets.push(socket);
          socket
            .on('error', () => undefined)
            .once('connect', () => resolve({ socket, closed: new Promise((r) => socket.once('close', () => r())) }))
            .once('error', reject);
        });
      const first = await Promise.all(Array.from({ length: 4 }, () => from(a)));
      const second = await Promise.all(Array.from({ length: 4 }, () => from(b)));
      // Another address of the same /64: past the share, closed on arrival.
      let closed = 0;
      for (const { closed: c } of second) void c.then(() => closed++);
      await eventually(() => closed === 4, { timeoutMs: 5000, what: "the 4 connections of the /64's second address closed" });
      const other = await from(c); // another /64 is another client
      for (const { socket } of [...first, other]) {
        let got = '';
        socket.setEncoding('utf8').on('data', (d: string) => (got += d));
        socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
        await eventually(() => /^HTTP\/1\.1 200 /.test(got), { timeoutMs: 5000, what: 'a connection within the share served' });
      }
    } finally {
      for (const address of [a, b, c]) execFileSync('ip', ['-6', 'addr', 'del', `${address}/128`, 'dev', 'lo']);
    }
  });

  it('explains wrong timeouts and connection caps in a sentence', () => {
    expect(loadConfig({}).maxConnectionsPerAddress).toBe(125);
    expect(loadConfig({ BATON_MAX_CONNECTIONS: '10' }).maxConnectionsPerAddress).toBe(10);
    expect(loadConfig({ BATON_MAX_CONNECTIONS: '100' }).maxConnectionsPerAddress).toBe(16);
    expect(() => loadConfig({ BATON_MAX_CONNECTIONS_PER_ADDRESS: 'some' })).toThrow(
      /BATON_MAX_CONNECTIONS_PER_ADDRESS must be a whole number of connections, at least 1/,
    );
    expect(() => loadConfig({ BATON_MAX_CONNECTIONS_PER_ADDRESS: '0' })).toThrow(/BATON_MAX_CONNECTIONS_PER_ADDRESS must be a whole number/);
    expect(() => loadConfig({ BATON_MAX_CONNECTIONS: '50', BATON_MAX_CONNECTIONS_PER_ADDRESS: '51' })).toThrow(
      'BATON_MAX_CONNECTIONS_PER_ADDRESS (51) must not exceed BATON_MAX_CONNECTIONS (50): one address could then hold every connection.',
    );
    expect(loadConfig({})).toMatchObject({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxConnections: 1000 });
    expect(() => loadConfig({ BATON_HEADERS_TIMEOUT: '40s' })).toThrow('BATON_HEADERS_TIMEOUT (40s) must not exceed BATON_REQUEST_TIMEOUT (30s)');
    expect(() => loadConfig({ BATON_REQUEST_TIMEOUT: '0' })).toThrow(/must be above 0/);
    expect(() => loadConfig({ BATON_HEADERS_TIMEOUT: 'soon' })).toThrow(/BATON_HEADERS_TIMEOUT must be seconds or a duration/);
    expect(() => loadConfig({ BATON_MAX_CONNECTIONS: 'many' })).toThrow(/BATON_MAX_CONNECTIONS must be a whole number of connections/);
  });
});
