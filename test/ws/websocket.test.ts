/**
 * WebSocket re-authentication with a real `ws` client, two instances sharing one store (the socket
 * lives on B; logins, refreshes and revocations happen on A). Time is the engines' manual clock,
 * which the WebSocket helper takes from B; its timers are vitest's fake `setTimeout`, moved
 * together with the clock, so the tests assert what happens in which order at which instant of
 * the clock, and wait only for the network.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { attachWebSocketAuth } from 'baton-auth/ws';
import { ManualClock } from '../support/clock.ts';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import { eventually } from '../support/eventually.ts';

const TTL_S = 60;
const NOTICE_MS = 10_000;
const AUTH_TIMEOUT_MS = 5000;
// Years away from the real time: a timer computed from Date.now() instead of the clock goes off at once.
const clock = new ManualClock(Date.UTC(2040, 0, 1));
const store = memoryStore();
const common = {
  issuer: 'https://ws.test',
  keys: [generateKey('HS256', 'k')],
  refreshTokenSecret: randomBytes(32),
  store,
  accessTokenTtl: TTL_S,
  refreshRateLimit: false as const,
  now: clock.now,
};
const a = createBaton(common);
const b = createBaton(common);
const server = createServer();
let url = '';
let ws: ReturnType<typeof attachWebSocketAuth>;

beforeAll(async () => {
  await b.ready();
  ws = attachWebSocketAuth({
    baton: b,
    server,
    noticeMs: NOTICE_MS,
    authTimeoutMs: AUTH_TIMEOUT_MS,
    onMessage: ({ socket, claims }, data) => socket.send(JSON.stringify({ type: 'echo', sub: claims.sub, data: data.toString() })),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
});
afterAll(async () => {
  await ws.close();
  server.close();
});
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Moves the engines' clock and the fake timers together, firing what falls due. */
async function advance(ms: number): Promise<void> {
  clock.advance(ms);
  await vi.advanceTimersByTimeAsync(ms);
}

interface Client {
  socket: WebSocket;
  messages: { type: string; [k: string]: unknown }[];
  /** How the server closed the socket, once it has. */
  closed: { code: number; reason: string } | undefined;
}

function connect(token?: string, suffix = '', at = url): Promise<Client> {
  return open(token ? ['baton.v1', `baton.bearer.${token}`] : ['baton.v1'], `${at}${suffix}`);
}

/** A socket offering `protocols` (the token and its proof among them, for DPoP). */
function open(protocols: string[], at = url): Promise<Client> {
  const socket = new WebSocket(at, protocols);
  const client: Client = { socket, messages: [], closed: undefined };
  socket.on('message', (d) => client.messages.push(JSON.parse(d.toString())));
  socket.on('close', (code, reason) => void (client.closed = { code, reason: reason.toString() }));
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(client));
    socket.once('error', reject);
  });
}

const types = (client: Client): string[] => client.messages.map((m) => m.type);
const received = (client: Client, type: string, count = 1) =>
  eventually(() => client.messages.filter((m) => m.type === type).length >= count, { what: `${count} ${type}` });
const closeOf = (client: Client) => eventually(() => client.closed, { what: 'the socket to close' });

/**
 * A ping and its pong, or the close that came first: a server that has closed the socket sends
 * its close frame before anything else, so `closed` is then set.
 */
async function roundTrip(client: Client): Promise<void> {
  let pong = false;
  client.socket.once('pong', () => void (pong = true));
  client.socket.ping();
  await eventually(() => pong || client.closed !== undefined, { what: 'a pong' });
}

describe('WebSocket re-authentication', () => {
  it('a client that answers token_expiring stays connected across several token lifetimes', async () => {
    let pair = await a.login('alice');
    const client = await connect(pair.access_token);
    client.socket.on('message', async (d) => {
      if ((JSON.parse(d.toString()) as { type: string }).type !== 'token_expiring') return;
      pair = await a.refresh(pair.refresh_token);
      client.socket.send(JSON.stringify({ type: 'reauth', access_token: pair.access_token }));
    });
    await received(client, 'authenticated');
    // Each token's notice is due NOTICE_MS before its exp; the re-auth is answered at that instant.
    for (let lifetime = 1; lifetime <= 3; lifetime++) {
      await advance(TTL_S * 1000 - NOTICE_MS);
      await received(client, 'reauth_ok', lifetime);
    }
    // 150 s on the clock: the first two tokens' expiry (60 s, 110 s) went by without closing it.
    await roundTrip(client);
    expect(client.closed).toBeUndefined();
    client.socket.send('hello');
    await received(client, 'echo');
    expect(types(client)).toEqual(['authenticated', 'token_expiring', 'reauth_ok', 'token_expiring', 'reauth_ok', 'token_expiring', 'reauth_ok', 'echo']);
    expect(client.messages.filter((m) => m.type === 'token_expiring').map((m) => m.expires_in)).toEqual([10, 10, 10]);
    expect(client.messages.find((m) => m.type === 'echo')).toMatchObject({ sub: 'alice', data: 'hello' });
    client.socket.close();
  });

  it('no re-auth by exp: open until the last millisecond, then closed with 4401', async () => {
    const pair = await a.login('bob');
    const client = await connect();
    client.socket.send(JSON.stringify({ type: 'auth', access_token: pair.access_token }));
    await received(client, 'authenticated');
    expect(client.messages[0]).toMatchObject({ expires_in: TTL_S });
    await advance(TTL_S * 1000 - NOTICE_MS);
    await received(client, 'token_expiring');
    await advance(NOTICE_MS - 1);
    await roundTrip(client);
    expect(client.closed).toBeUndefined();
    await advance(1);
    expect(await closeOf(client)).toEqual({ code: 4401, reason: 'access token expired' });
    expect(types(client)).toEqual(['authenticated', 'token_expiring']);
    expect(client.messages[1]).toMatchObject({ expires_in: NOTICE_MS / 1000 });
  });

  it('a session revoked on another instance closes its sockets at once', async () => {
    const pair = await a.login('carol');
    const client = await connect(pair.access_token);
    await received(client, 'authenticated');
    expect(vi.getTimerCount()).toBe(2); // its notice and expiry, pending: neither can be what closes it
    await a.revokeSession(pair.session_id, 'kicked');
    expect(await closeOf(client)).toEqual({ code: 4401, reason: 'session revoked (kicked)' });
  });

  it('refuses bad tokens, tokens in the URL, a first message that is not auth, silence, and a re-auth as someone else', async () => {
    expect((await closeOf(await connect('not-a-token'))).code).toBe(4401);
    await expect(connect(undefined, `?access_token=${(await a.login('dave')).access_token}`)).rejects.toThrow(/400/);
    const chatty = await connect();
    chatty.socket.send(JSON.stringify({ type: 'hello' }));
    expect(await closeOf(chatty)).toEqual({ code: 4401, reason: 'authenticate first' });
    const silent = await connect();
    await advance(AUTH_TIMEOUT_MS - 1);
    await roundTrip(silent);
    expect(silent.closed).toBeUndefined();
    await advance(1);
    expect(await closeOf(silent)).toEqual({ code: 4401, reason: 'no authentication in time' });
    const erin = await a.login('erin');
    const frank = await a.login('frank');
    const client = await connect(erin.access_token);
    await received(client, 'authenticated');
    client.socket.send(JSON.stringify({ type: 'reauth', access_token: 'garbage' }));
    await received(client, 'reauth_failed');
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    client.socket.send(JSON.stringify({ type: 'reauth', access_token: frank.access_token }));
    expect((await closeOf(client)).code).toBe(4403);
  });
});

describe('DPoP-bound tokens (RFC 9449)', () => {
  const iat = () => Math.floor(clock.ms / 1000);
  it("connects with a proof by the token's key for GET and the socket URL, re-authenticates with one, and refuses the token as Bearer, a replayed proof, or another URL's", async () => {
    const key = await dpopKey();
    let pair = await a.login('dora', { jkt: key.jkt });
    const proof = await dpopProof(key, 'GET', url, { accessToken: pair.access_token, iat: iat() });
    const client = await open(['baton.v1', `baton.dpop.${pair.access_token}`, `baton.proof.${proof}`]);
    await received(client, 'authenticated');
    const replayed = await open(['baton.v1', `baton.dpop.${pair.access_token}`, `baton.proof.${proof}`]);
    expect(await closeOf(replayed)).toEqual({ code: 4401, reason: 'the DPoP proof was already used' });
    const asBearer = await connect(pair.access_token);
    expect((await closeOf(asBearer)).reason).toMatch(/^the token is bound to a DPoP key/);
    const elsewhere = await open([
      'baton.v1',
      `baton.dpop.${pair.access_token}`,
      `baton.proof.${await dpopProof(key, 'GET', `${url}/other`, { accessToken: pair.access_token, iat: iat() })}`,
    ]);
    expect(await closeOf(elsewhere)).toEqual({ code: 4401, reason: 'htu does not match the request URL' });
    // Re-authentication: the new token with a proof for it; without one it fails and the socket stays up until exp.
    await advance(TTL_S * 1000 - NOTICE_MS);
    await received(client, 'token_expiring');
    pair = await a.refresh(pair.refresh_token, { jkt: key.jkt });
    client.socket.send(JSON.stringify({ type: 'reauth', access_token: pair.access_token }));
    await received(client, 'reauth_failed');
    client.socket.send(
      JSON.stringify({
        type: 'reauth',
        access_token: pair.access_token,
        dpop: await dpopProof(key, 'GET', url, { accessToken: pair.access_token, iat: iat() }),
      }),
    );
    await received(client, 'reauth_ok');
    await advance(NOTICE_MS);
    await roundTrip(client);
    expect(client.closed).toBeUndefined();
    client.socket.close();
  });

  it('the auth message carries the proof too', async () => {
    const key = await dpopKey('EdDSA');
    const pair = await a.login('ed', { jkt: key.jkt });
    const client = await connect();
    client.socket.send(
      JSON.stringify({
        type: 'auth',
        access_token: pair.access_token,
        dpop: await dpopProof(key, 'GET', url.replace(/^ws/, 'http'), { accessToken: pair.access_token, iat: iat() }),
      }),
    );
    await received(client, 'authenticated');
    client.socket.close();
  });
});

describe('keys taken out of service, and caps', () => {
  /** Two instances on their own store, keys k1 (signing) and k2 (published next), sockets on B with small caps. */
  async function isolated() {
    const own = { ...common, store: memoryStore(), keys: [generateKey('HS256', 'k1'), { ...generateKey('HS256', 'k2'), status: 'next' as const }] };
    const [a2, b2] = [createBaton(own), createBaton(own)];
    await b2.ready();
    const http = createServer();
    const attached = attachWebSocketAuth({ baton: b2, server: http, maxPerSession: 2, maxPerAddress: 3 });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    return {
      a2,
      at: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/ws`,
      close: async () => {
        await attached.close();
        http.close();
      },
    };
  }

  it('a signing key revoked on another instance closes the sockets its tokens opened, and only those', async () => {
    const { a2, at, close } = await isolated();
    try {
      const old = await connect((await a2.login('gina')).access_token, '', at);
      await received(old, 'authenticated');
      expect(await a2.revokeKey('k1')).toBe(true); // k2 takes over
      const fresh = await connect((await a2.login('gina')).access_token, '', at);
      await received(fresh, 'authenticated');
      expect(await closeOf(old)).toEqual({ code: 4401, reason: 'signing key revoked' });
      await roundTrip(fresh);
      expect(fresh.closed).toBeUndefined();
      fresh.socket.close();
    } finally {
      await close();
    }
  });

  it('at most maxPerSession sockets per session (4429) and maxPerAddress per address (429 at the upgrade); a closed one frees its place', async () => {
    const { a2, at, close } = await isolated();
    try {
      const pair = await a2.login('hal');
      const [one, two] = [await connect(pair.access_token, '', at), await connect(pair.access_token, '', at)];
      await received(one, 'authenticated');
      await received(two, 'authenticated');
      const third = await connect(pair.access_token, '', at);
      expect(await closeOf(third)).toEqual({ code: 4429, reason: 'at most 2 sockets per session' });
      // Another session has its own count; it is the address's third once the server has let go of the refused socket.
      const ivy = (await a2.login('ivy')).access_token;
      const other = await eventually(() => connect(ivy, '', at).catch(() => undefined), { what: 'a place for another session' });
      await received(other, 'authenticated');
      await expect(connect(undefined, '', at)).rejects.toThrow(/429/); // the address's fourth
      one.socket.close();
      const again = await eventually(() => connect(pair.access_token, '', at).catch(() => undefined), { what: 'the place the first socket freed' });
      await received(again, 'authenticated');
      for (const c of [two, other, again]) c.socket.close();
    } finally {
      await close();
    }
  });
});
