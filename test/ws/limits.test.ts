/**
 * What one socket may cost the server, on a real HTTP server and real TCP sockets: a client that
 * stops reading is closed once what waits for it passes the bound (bytes, or messages), one that
 * sends too fast or too much is closed with the documented code, and one that is closed (revoked,
 * expired) gets nothing more delivered and is cut off if it never answers the close frame.
 * Timers are the real ones; every wait is for an event, bounded by `eventually`.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { attachWebSocketAuth } from 'baton-auth/ws';
import type { WebSocketAuthOptions } from 'baton-auth/ws';
import { ManualClock } from '../support/clock.ts';
import { eventually } from '../support/eventually.ts';
import { clientFrame, rawClient } from './raw-client.ts';
import type { RawClient } from './raw-client.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server with the helper attached (`options` over its defaults); `delivered` lists what reached onMessage. */
async function serve(options: Partial<WebSocketAuthOptions> = {}, now?: () => number) {
  const baton = createBaton({
    issuer: 'https://ws.test',
    keys: [generateKey('HS256', 'k')],
    refreshTokenSecret: randomBytes(32),
    store: memoryStore(),
    accessTokenTtl: 60,
    refreshRateLimit: false,
    ...(now ? { now } : {}),
  });
  await baton.ready();
  const http = createServer();
  // The server's side of each socket, to see when it is gone.
  const upgraded: Socket[] = [];
  http.on('upgrade', (_request, socket: Socket) => void upgraded.push(socket));
  const delivered: string[] = [];
  const attached = attachWebSocketAuth({ baton, server: http, onMessage: (_c, data) => void delivered.push(data.toString()), ...options });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  cleanups.push(async () => {
    for (const socket of upgraded) socket.destroy();
    await attached.close();
    await new Promise((resolve) => http.close(resolve));
    await baton.close();
  });
  return { baton, port, url: `ws://127.0.0.1:${port}/ws`, upgraded, delivered };
}

/** A raw client authenticated with a fresh session's token (subprotocol), once `authenticated` has come. */
async function authenticated(port: number, login: () => Promise<{ access_token: string }>): Promise<RawClient> {
  const client = await rawClient(port, ['baton.v1', `baton.bearer.${(await login()).access_token}`]);
  cleanups.push(async () => void client.socket.destroy());
  await eventually(() => client.messages().some((m) => m.type === 'authenticated'), { what: 'authenticated' });
  return client;
}

/** Writes `text` frames in batches until `done()` or `max` frames; waits for drains, never for time. */
async function flood(client: RawClient, text: string, done: () => boolean, max: number): Promise<number> {
  let sent = 0;
  while (!done() && !client.closed() && sent < max) {
    sent += 100;
    if (!client.send(text, 100)) await new Promise<void>((resolve) => client.socket.once('drain', resolve).once('close', resolve));
  }
  return sent;
}

/** The frame of an unmasked server message of `n` bytes (RFC 6455 §5.2). */
const frameOf = (n: number): number => n + (n < 126 ? 2 : n < 65536 ? 4 : 10);
/** The largest close frame: 2 header bytes, the code, a 123-byte reason (§5.5). */
const CLOSE_FRAME = 2 + 125;

describe('a client that does not read (bufferedAmount)', () => {
  for (const c of [
    { bound: 'maxBufferedBytes', options: { maxBufferedBytes: 64 * 1024 }, reply: 4096, most: 64 * 1024 },
    { bound: 'maxBufferedMessages', options: { maxBufferedMessages: 32 }, reply: 1024, most: 32 * frameOf(1024) },
  ]) {
    it(`is closed once what waits for it passes ${c.bound}; what the server holds never exceeds the bound plus one message`, async () => {
      // Each message is answered with `reply` bytes; the client reads until authenticated, then stops.
      const before: number[] = [];
      const after: number[] = [];
      const { baton, port, upgraded } = await serve({
        maxMessagesPerSecond: 1e9,
        closeGraceMs: 100,
        maxPerAddress: 1,
        ...c.options,
        onMessage: ({ socket }) => {
          before.push(socket.bufferedAmount);
          socket.send('x'.repeat(c.reply));
          after.push(socket.bufferedAmount);
        },
      });
      const client = await authenticated(port, () => baton.login('nora'));
      client.socket.pause();
      const server = upgraded[0] as Socket;
      // Enough to fill the kernel's buffers on both ends (megabytes on loopback) and then the bound.
      await flood(client, 'ping', () => server.destroyed, 20_000);
      await eventually(() => server.destroyed, { what: 'the server to drop the socket', timeoutMs: 10_000 });
      // It got near the bound before it was closed: the bound, not something else, closed it.
      expect(Math.max(...after)).toBeGreaterThan(c.most / 2);
      expect(Math.max(...before)).toBeLessThanOrEqual(c.most);
      expect(Math.max(...after)).toBeLessThanOrEqual(c.most + frameOf(c.reply) + CLOSE_FRAME);
      // Nothing of it is kept: the address's one place is free again.
      const token = (await baton.login('nora')).access_token;
      const again = await eventually(
        async () => {
          const next = await rawClient(port, ['baton.v1', `baton.bearer.${token}`]);
          cleanups.push(async () => void next.socket.destroy());
          return (await eventually(() => next.status(), { what: 'an answer' })).includes(' 101 ') && next;
        },
        { what: "the address's place back" },
      );
      await eventually(() => again.messages().some((m) => m.type === 'authenticated'), { what: 'authenticated again' });
    });
  }

  it('a client that reads is not closed however many messages a tick sends it', async () => {
    const { baton, url } = await serve({
      maxBufferedMessages: 8,
      maxMessagesPerSecond: 1e9,
      onMessage: ({ socket }) => {
        for (let i = 0; i < 100; i++) socket.send(`${i}`);
      },
    });
    const socket = new WebSocket(url, ['baton.v1', `baton.bearer.${(await baton.login('olga')).access_token}`]);
    let received = 0;
    let closed = false;
    socket.on('message', () => void received++);
    socket.on('close', () => void (closed = true));
    await new Promise((resolve) => socket.once('open', resolve));
    for (let round = 1; round <= 3; round++) {
      socket.send('go');
      await eventually(() => received >= 1 + round * 100 || closed, { what: `round ${round}` });
    }
    expect(closed).toBe(false);
    socket.close();
  });
});

describe('a client that sends too much', () => {
  it('past maxMessagesPerSecond, is closed with 1008 before its next message is delivered', async () => {
    const { baton, url, delivered } = await serve();
    const socket = new WebSocket(url, ['baton.v1', `baton.bearer.${(await baton.login('paul')).access_token}`]);
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    await new Promise((resolve) => socket.once('message', resolve)); // authenticated
    const start = performance.now();
    for (let i = 0; i < 1000; i++) socket.send(`m${i}`);
    expect(await closed).toEqual({ code: 1008, reason: 'too many messages' });
    // A token bucket of 100 a second, as many at once: what it let through is within its law.
    const seconds = (performance.now() - start) / 1000;
    expect(delivered.length).toBeGreaterThanOrEqual(100);
    expect(delivered.length).toBeLessThanOrEqual(100 + Math.ceil(100 * seconds));
    expect(delivered).toEqual(delivered.map((_, i) => `m${i}`));
  });

  it('a message over maxPayload is closed with 1009 and not delivered', async () => {
    const { baton, url, delivered } = await serve({ maxPayload: 4096 });
    const socket = new WebSocket(url, ['baton.v1', `baton.bearer.${(await baton.login('quinn')).access_token}`]);
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    await new Promise((resolve) => socket.once('message', resolve));
    socket.send('y'.repeat(4096));
    socket.send('y'.repeat(4097));
    expect(await closed).toBe(1009);
    expect(delivered.map((d) => d.length)).toEqual([4096]);
  });

  it('refuses a limit that is not a whole number in range with a sentence', () => {
    const http = createServer();
    const baton = createBaton({ issuer: 'https://ws.test', keys: [generateKey('HS256', 'k')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
    expect(() => attachWebSocketAuth({ baton, server: http, maxBufferedBytes: 0 })).toThrow(
      'attachWebSocketAuth: `maxBufferedBytes` must be a whole number from 1024 to 2147483648 (default 262144); it is 0.',
    );
    expect(() => attachWebSocketAuth({ baton, server: http, maxMessagesPerSecond: 0.5 })).toThrow(/`maxMessagesPerSecond` must be a whole number from 1 /);
    expect(() => attachWebSocketAuth({ baton, server: http, maxPayload: Number.NaN })).toThrow(/`maxPayload` must be a whole number/);
    expect(() => attachWebSocketAuth({ baton, server: http, maxBufferedMessages: -1 })).toThrow(/`maxBufferedMessages` must be a whole number/);
    expect(() => attachWebSocketAuth({ baton, server: http, closeGraceMs: 120_000 })).toThrow(/`closeGraceMs` must be a whole number from 0 to 60000/);
    // Origins as a browser sends them (checkOrigins, as the handler's): one that no browser sends would silently allow no page.
    expect(() => attachWebSocketAuth({ baton, server: http, allowedOrigins: ['https://*.example.com'] })).toThrow(/wildcard/);
    expect(() => attachWebSocketAuth({ baton, server: http, allowedOrigins: ['https://App.example.com'] })).toThrow('(write it as https://app.example.com)');
    expect(() => attachWebSocketAuth({ baton, server: http, maxSockets: 0 })).toThrow(/`maxSockets` must be a whole number from 1 /);
    expect(() => attachWebSocketAuth({ baton, server: http, maxUnauthenticatedPerAddress: 1.5 })).toThrow(
      /`maxUnauthenticatedPerAddress` must be a whole number/,
    );
    expect(() => attachWebSocketAuth({ baton, server: http, authTimeoutMs: 0 })).toThrow(
      /`authTimeoutMs` must be a whole number from 1 to 60000 \(default 2000\)/,
    );
    expect(http.listenerCount('upgrade')).toBe(0);
  });
});

describe('a socket the server closed, whose client never answers the close frame', () => {
  for (const why of ['revoked', 'expired'] as const) {
    it(`${why}: nothing it sends afterwards reaches onMessage, and the server drops it after closeGraceMs`, async () => {
      // The engine's clock stands still; for 'expired' it is 2 s before the token's exp when the socket connects.
      const clock = new ManualClock(Date.now());
      const { baton, port, upgraded, delivered } = await serve({ closeGraceMs: 300 }, clock.now);
      const pair = await baton.login('rita');
      if (why === 'expired') clock.advance(58_000);
      const client = await rawClient(port, ['baton.v1', `baton.bearer.${pair.access_token}`]);
      cleanups.push(async () => void client.socket.destroy());
      await eventually(() => client.messages().some((m) => m.type === 'authenticated'), { what: 'authenticated' });
      client.send('before');
      await eventually(() => delivered.includes('before'), { what: 'the message before' });
      if (why === 'revoked') await baton.revokeSession(pair.session_id, 'kicked');
      const close = await eventually(() => client.closeFrame(), { what: 'the close frame' });
      expect(close).toEqual(why === 'revoked' ? { code: 4401, reason: 'session revoked (kicked)' } : { code: 4401, reason: 'access token expired' });
      // The client does not answer with its own close frame, and keeps sending.
      for (let i = 0; i < 20; i++) client.send(`after ${i}`);
      await eventually(() => (upgraded[0] as Socket).destroyed, { what: 'the server to drop the socket', timeoutMs: 10_000 });
      expect(delivered).toEqual(['before']);
    });
  }
});

/** What the server answered the upgrade (its status line), or 'closed' when it cut the connection. */
const answer = (client: RawClient): Promise<string> => eventually(() => client.status() ?? (client.closed() && 'closed'), { what: 'an answer to the upgrade' });

describe('sockets that have not authenticated, and sockets in all', () => {
  it('at most maxUnauthenticatedPerAddress of one address wait for their auth (429 past it; one that authenticates frees its place), and maxSockets in all (503 past it)', async () => {
    const { baton, port } = await serve({ maxUnauthenticatedPerAddress: 3, maxUnauthenticated: 5, maxSockets: 5, authTimeoutMs: 60_000 });
    const open = async (protocols: string[] = ['baton.v1']): Promise<RawClient> => {
      const client = await rawClient(port, protocols);
      cleanups.push(async () => void client.socket.destroy());
      await answer(client);
      return client;
    };
    const waiting = [await open(), await open(), await open()];
    expect(waiting.map((c) => c.status())).toEqual(Array(3).fill('HTTP/1.1 101 Switching Protocols'));
    expect((await open()).status()).toBe('HTTP/1.1 429 Too Many Requests');
    // One authenticates with its first message: its place among the waiting is free again.
    (waiting[0] as RawClient).send(JSON.stringify({ type: 'auth', access_token: (await baton.login('sara')).access_token }));
    await eventually(() => waiting[0]?.messages().some((m) => m.type === 'authenticated'), { what: 'authenticated' });
    expect((await open()).status()).toBe('HTTP/1.1 101 Switching Protocols');
    // 4 open, 3 of them waiting; one more authenticates, and a fifth (a token offered, which waits for its check too) is the last of maxSockets.
    (waiting[1] as RawClient).send(JSON.stringify({ type: 'auth', access_token: (await baton.login('sara')).access_token }));
    await eventually(() => waiting[1]?.messages().some((m) => m.type === 'authenticated'), { what: 'authenticated' });
    expect((await open(['baton.v1', `baton.bearer.${(await baton.login('tom')).access_token}`])).status()).toBe('HTTP/1.1 101 Switching Protocols');
    expect((await open(['baton.v1', `baton.bearer.${(await baton.login('uma')).access_token}`])).status()).toBe('HTTP/1.1 503 Service Unavailable');
  });
});

describe('sockets without a token from many addresses', () => {
  it('at most maxUnauthenticated in all wait for their token: past it a newcomer cuts off the oldest of the busiest address once it had a second, never a lone client while a flood is on; one that sends its token at the upgrade never waits', async () => {
    const { baton, port } = await serve({ maxUnauthenticated: 4, maxSockets: 20, authTimeoutMs: 60_000 });
    const open = async (protocols: string[], from: string): Promise<RawClient> => {
      const client = await rawClient(port, protocols, {}, '/ws', from);
      cleanups.push(async () => void client.socket.destroy());
      await answer(client);
      return client;
    };
    const second = () => new Promise((resolve) => setTimeout(resolve, 1100));
    // A flood from two addresses, two token-less sockets each: the places are taken.
    const flood = [
      await open(['baton.v1'], '127.0.9.1'),
      await open(['baton.v1'], '127.0.9.1'),
      await open(['baton.v1'], '127.0.9.2'),
      await open(['baton.v1'], '127.0.9.2'),
    ];
    // While they are younger than a second, a newcomer is refused and nobody is cut off.
    expect((await open(['baton.v1'], '127.0.9.3')).status()).toBe('HTTP/1.1 503 Service Unavailable');
    expect(flood.some((c) => c.closed())).toBe(false);
    await second();
    // A lone client takes the place of the busiest address's oldest socket.
    const lone = await open(['baton.v1'], '127.0.9.50');
    expect(lone.status()).toBe('HTTP/1.1 101 Switching Protocols');
    await eventually(() => flood[0]?.closed(), { what: 'the oldest of the flood cut off' });
    await second();
    // The flood comes back: it cuts off its own sockets, not the lone client, though the lone one is now older.
    for (const from of ['127.0.9.1', '127.0.9.2']) flood.push(await open(['baton.v1'], from));
    await eventually(() => flood.filter((c) => c.closed()).length === 3, { what: 'three of the flood cut off' });
    expect(lone.closed()).toBe(false);
    lone.send(JSON.stringify({ type: 'auth', access_token: (await baton.login('wendy')).access_token }));
    await eventually(() => lone.messages().some((m) => m.type === 'authenticated'), { what: 'the lone client authenticated' });
    // A client that offers its token at the upgrade gets in whatever waits.
    const eager = await open(['baton.v1', `baton.bearer.${(await baton.login('wanda')).access_token}`], '127.0.9.60');
    await eventually(() => eager.messages().some((m) => m.type === 'authenticated'), { what: 'the client with its token authenticated' });
  });
});

describe('sockets of one user', () => {
  it('at most maxPerUser, all sessions together (4429 past it); another user is not concerned, and a closed one frees its place', async () => {
    const { baton, port } = await serve({ maxPerUser: 3 });
    const sockets = [];
    for (let i = 0; i < 3; i++) sockets.push(await authenticated(port, () => baton.login('yuri')));
    const fourth = await rawClient(port, ['baton.v1', `baton.bearer.${(await baton.login('yuri')).access_token}`]);
    cleanups.push(async () => void fourth.socket.destroy());
    expect(await eventually(() => fourth.closeFrame(), { what: 'the close' })).toEqual({ code: 4429, reason: 'at most 3 sockets per user' });
    await authenticated(port, () => baton.login('zoe'));
    (sockets[0] as RawClient).socket.destroy();
    await eventually(
      async () => {
        const again = await rawClient(port, ['baton.v1', `baton.bearer.${(await baton.login('yuri')).access_token}`]);
        cleanups.push(async () => void again.socket.destroy());
        return eventually(() => (again.messages().some((m) => m.type === 'authenticated') ? 'in' : again.closeFrame() && 'refused'), {
          what: 'an answer',
        }).then((a) => a === 'in');
      },
      { what: 'the place the closed socket freed' },
    );
  });
});

describe('a message in many frames (RFC 6455 §5.4)', () => {
  const start = (text: string): Buffer => clientFrame(text, 0x1, false);
  const more = (text: string): Buffer => clientFrame(text, 0x0, false);
  const last = (text: string): Buffer => clientFrame(text, 0x0, true);

  it('up to 64 frames is delivered whole; one in more is closed with 1008 at its 65th frame, before it is kept, even before the socket authenticates', async () => {
    const { baton, port, delivered } = await serve({ authTimeoutMs: 60_000 });
    const client = await authenticated(port, () => baton.login('vera'));
    client.socket.write(Buffer.concat([start('a'), ...Array.from({ length: 62 }, () => more('b')), last('c')]));
    await eventually(() => delivered.length === 1, { what: 'the 64-frame message' });
    expect(delivered).toEqual([`a${'b'.repeat(62)}c`]);
    // A socket with no token: 64 frames of a message that never ends are held, the 65th closes it.
    const stranger = await rawClient(port, ['baton.v1']);
    cleanups.push(async () => void stranger.socket.destroy());
    expect(await answer(stranger)).toBe('HTTP/1.1 101 Switching Protocols');
    stranger.socket.write(Buffer.concat([start('x'), ...Array.from({ length: 63 }, () => more('x'))]));
    // A ping between the frames (§5.5: control frames may come in the middle of a message) is answered: the 64 were taken.
    stranger.socket.write(clientFrame('', 0x9));
    await eventually(() => stranger.frames.some((f) => f.opcode === 0xa), { what: 'the pong' });
    expect(stranger.closeFrame()).toBeUndefined();
    stranger.socket.write(more('x'));
    expect(await eventually(() => stranger.closeFrame(), { what: 'the close frame' })).toEqual({ code: 1008, reason: '' });
  });

  it('pongs spend the message budget too: a socket that floods unsolicited pongs, authenticated or not, is closed with 1008', async () => {
    const { port } = await serve({ authTimeoutMs: 60_000 });
    const client = await rawClient(port, ['baton.v1']);
    cleanups.push(async () => void client.socket.destroy());
    expect(await answer(client)).toBe('HTTP/1.1 101 Switching Protocols');
    client.socket.write(Buffer.concat(Array.from({ length: 200 }, () => clientFrame('', 0xa))));
    expect(await eventually(() => client.closeFrame(), { what: 'the close frame' })).toEqual({ code: 1008, reason: 'too many messages' });
  });
});

describe('two auth messages in one write', () => {
  it('only the first is verified: the socket counts once, against its own session, and gives that place back when it closes', async () => {
    const { baton, port } = await serve({ maxPerSession: 2, authTimeoutMs: 60_000 });
    const a = (await baton.login('wade')).access_token;
    const b = (await baton.login('wade')).access_token;
    const opened: RawClient[] = [];
    const connect = async (token: string): Promise<string | number> => {
      const client = await rawClient(port, ['baton.v1', `baton.bearer.${token}`]);
      opened.push(client);
      cleanups.push(async () => void client.socket.destroy());
      return eventually(() => (client.messages().some((m) => m.type === 'authenticated') ? 'authenticated' : client.closeFrame()?.code), { what: 'an answer' });
    };
    const double = await rawClient(port, ['baton.v1']);
    opened.push(double);
    cleanups.push(async () => void double.socket.destroy());
    expect(await answer(double)).toBe('HTTP/1.1 101 Switching Protocols');
    double.socket.write(Buffer.concat([a, b].map((token) => clientFrame(JSON.stringify({ type: 'auth', access_token: token })))));
    await eventually(() => double.messages().some((m) => m.type === 'authenticated'), { what: 'authenticated' });
    // It is A's: A has one place left, B both of its own.
    expect(await connect(a)).toBe('authenticated');
    expect(await connect(a)).toBe(4429);
    expect(await connect(b)).toBe('authenticated');
    expect(await connect(b)).toBe('authenticated');
    expect(await connect(b)).toBe(4429);
    // The second auth was never answered.
    expect(double.messages().filter((m) => m.type === 'authenticated')).toHaveLength(1);
    // Once all are closed, each session has its two places again (none leaked).
    for (const client of opened.splice(0)) client.socket.destroy();
    for (const token of [a, a, b, b]) {
      expect(
        await eventually(
          async () => {
            const result = await connect(token);
            if (result === 'authenticated') return result;
            opened.pop()?.socket.destroy();
            return false;
          },
          { what: 'a place of the session back' },
        ),
      ).toBe('authenticated');
    }
  });
});
