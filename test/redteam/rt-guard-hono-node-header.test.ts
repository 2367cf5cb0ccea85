/**
 * Red team of the Hono guard on @hono/node-server (#26): reading the Authorization header from
 * `c.env.incoming` made the guard judge another header than the app behind it sees.
 *
 * - Two Authorization lines: Node keeps the first in `incoming.headers` (it discards repeats of
 *   `authorization`), while @hono/node-server joins them in the Request's headers
 *   (`Bearer A, Bearer B`), as the app's `c.req.header('authorization')` reads them. The guard let
 *   token A through a request whose header, as the app and every other runtime see it, is a
 *   malformed one (400 through `app.request`).
 * - A middleware before the guard that removed or replaced the Authorization header of the
 *   request (`c.req.raw.headers.delete`, or a new `c.req.raw`): the guard still judged the
 *   client's original header.
 * - Off node-server, an env binding named `incoming` with a string `url` and a `headers` object
 *   (a Workers JSON var) was read as the request.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { requireAuth } from 'baton-auth/adapters/hono';
import type { BatonVariables } from 'baton-auth/adapters/hono';
import { memoryStore } from 'baton-auth/stores/memory';
import { serveHono } from '../support/hono-servers.ts';
import type { HonoServers } from '../support/hono-servers.ts';

const baton = createBaton({ issuer: 'https://issuer.test', keys: [generateKey('EdDSA')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
const guard = requireAuth(baton, { audience: baton.audience });
const app = new Hono<{ Variables: BatonVariables }>();
// What the app sees of the header, next to whom the guard let in.
app.get('/api/me', guard, (c) => c.json({ sub: c.get('auth').sub, header: c.req.header('authorization') }));
// A middleware that takes the client's Authorization header away (say, a channel whose credentials are not honoured).
app.get(
  '/api/stripped',
  async (c, next) => {
    c.req.raw.headers.delete('authorization');
    await next();
  },
  guard,
  (c) => c.json({ sub: c.get('auth').sub }),
);
// A middleware that replaces the request, with another Authorization header.
let replacement = '';
app.get(
  '/api/replaced',
  async (c, next) => {
    const headers = new Headers(c.req.raw.headers);
    headers.set('authorization', replacement);
    c.req.raw = new Request(c.req.raw.url, { method: c.req.raw.method, headers });
    await next();
  },
  guard,
  (c) => c.json({ sub: c.get('auth').sub }),
);

let servers: HonoServers;
let port = 0;
beforeAll(async () => {
  await baton.ready();
  servers = await serveHono(app.fetch);
  port = servers.ports.h1;
});
afterAll(() => servers.close());

/** An HPACK string literal (RFC 7541 §5.2, no Huffman): its length as a 7-bit-prefix integer (§5.1), then its bytes. */
function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  const length: number[] = [];
  if (bytes.length < 127) length.push(bytes.length);
  else {
    length.push(127);
    let rest = bytes.length - 127;
    for (; rest >= 128; rest >>= 7) length.push((rest & 127) | 128);
    length.push(rest);
  }
  return Buffer.concat([Buffer.from(length), bytes]);
}

/** An HTTP/2 frame (RFC 9113 §4.1). */
function h2Frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/**
 * A GET over HTTP/2 (prior knowledge) with one `authorization` field per value, written by hand:
 * Node's client refuses to send a single-value header twice, its server takes them. The status.
 */
function get2(path: string, authorization: string[]): Promise<number> {
  const fields: [string, string][] = [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', 'api.test'],
    ...authorization.map((v): [string, string] => ['authorization', v]),
  ];
  const block = Buffer.concat(fields.map(([n, v]) => Buffer.concat([Buffer.from([0]), hpackString(n), hpackString(v)])));
  return new Promise((resolve, reject) => {
    const socket = connect(servers.ports.h2, '127.0.0.1', () =>
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), h2Frame(4, 0, 0, Buffer.alloc(0)), h2Frame(1, 5, 1, block)])),
    );
    let got = Buffer.alloc(0);
    socket.on('error', reject).on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      // The response's HEADERS frame on stream 1: its first field, :status, is in the static table (RFC 7541 Appendix A, 8 to 14).
      for (let at = 0; at + 9 <= got.length; at += 9 + got.readUIntBE(at, 3)) {
        if (got[at + 3] === 1 && got.readUInt32BE(at + 5) === 1) {
          const index = (got[at + 9] as number) & 0x7f;
          socket.destroy();
          resolve(({ 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 } as Record<number, number>)[index] ?? -index);
          return;
        }
      }
    });
  });
}

/** A GET on the node server, on a socket of its own, with one `Authorization` line per value. */
function get(path: string, authorization: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const lines = authorization.map((v) => `Authorization: ${v}\r\n`).join('');
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: api.test\r\n${lines}Connection: close\r\n\r\n`));
    let got = '';
    socket.setEncoding('latin1').on('data', (d: string) => (got += d));
    socket.on('error', reject).on('end', () => {
      const head = got.slice(0, got.indexOf('\r\n\r\n'));
      const body = got.slice(got.indexOf('\r\n\r\n') + 4);
      resolve({ status: Number(head.split(' ')[1]), body: /chunked/i.test(head) ? unchunk(body) : body });
    });
  });
}

/** A chunked body's data. */
function unchunk(body: string): string {
  let out = '';
  for (let rest = body; ;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

describe('the Hono guard on @hono/node-server judges the header the app sees', () => {
  it('two Authorization lines are refused, as through the Request (app.request)', async () => {
    const a = (await baton.login('ada', {})).access_token;
    const b = (await baton.login('bob', {})).access_token;
    // The same header through the Web Request: one malformed header.
    const viaRequest = await app.request('/api/me', { headers: { authorization: `Bearer ${a}, Bearer ${b}` } });
    expect(viaRequest.status).toBe(400);
    const res = await get('/api/me', [`Bearer ${a}`, `Bearer ${b}`]);
    expect(res.status).toBe(400);
    expect(res.body).not.toContain('"sub":"ada"');
  });

  it('two authorization fields over HTTP/2 are refused (Node keeps the first, the Request joins them)', async () => {
    const a = (await baton.login('ada', {})).access_token;
    const b = (await baton.login('bob', {})).access_token;
    expect(await get2('/api/me', [`Bearer ${a}`])).toBe(200);
    expect(await get2('/api/me', [`Bearer ${a}`, `Bearer ${b}`])).toBe(400);
  });

  it('a header a middleware removed is not judged', async () => {
    const a = (await baton.login('ada', {})).access_token;
    expect((await get('/api/stripped', [`Bearer ${a}`])).status).toBe(401);
  });

  it('a request a middleware replaced is judged, not the Node one', async () => {
    const a = (await baton.login('ada', {})).access_token;
    replacement = `Bearer ${(await baton.login('carol', {})).access_token}`;
    const res = await get('/api/replaced', [`Bearer ${a}`]);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ sub: 'carol' });
    replacement = 'Basic Zm9vOmJhcg==';
    expect((await get('/api/replaced', [`Bearer ${a}`])).status).toBe(401);
  });

  it("another runtime's env binding named incoming (a Workers JSON var) is not read as the request", async () => {
    const a = (await baton.login('ada', {})).access_token;
    const env = { incoming: { url: '/api/me', headers: { authorization: `Bearer ${a}` }, rawHeaders: ['Authorization', `Bearer ${a}`] } };
    expect((await app.request('/api/me', {}, env)).status).toBe(401);
  });
});
