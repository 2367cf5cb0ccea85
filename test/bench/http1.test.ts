/**
 * The benches' hand-written HTTP/1.1 client (bench/http1.ts): it reads what Node's server writes —
 * Content-Length or chunked, with or without trailers, split anywhere — and a keep-alive
 * connection answers its requests in turn.
 */
import { createServer } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection, parseAnswer } from '../../bench/http1.ts';
import { freePort, listening } from '../support/ports.ts';

const chunked = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n';
const trailers = 'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-trailer: 1\r\n\r\n';
const sized = 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 10\r\n\r\n{"a":"é"}';

describe('parseAnswer', () => {
  it('reads Content-Length, chunked and chunked-with-trailers answers, and where each ends', () => {
    expect(parseAnswer(Buffer.from(chunked))).toEqual({ answer: { status: 200, text: 'hello, world' }, end: Buffer.byteLength(chunked) });
    expect(parseAnswer(Buffer.from(trailers))).toEqual({ answer: { status: 201, text: 'abc' }, end: Buffer.byteLength(trailers) });
    expect(parseAnswer(Buffer.from(sized))).toEqual({ answer: { status: 401, text: '{"a":"é"}' }, end: Buffer.byteLength(sized) });
    // Two answers in one read: the first, and where the second starts.
    expect(parseAnswer(Buffer.from(sized + chunked))?.end).toBe(Buffer.byteLength(sized));
    expect(() => parseAnswer(Buffer.from('HTTP/1.1 200 OK\r\n\r\nbody'))).toThrow(/without Content-Length or chunked/);
  });

  it('a prefix of an answer, cut anywhere, is incomplete', () => {
    fc.assert(
      fc.property(fc.constantFrom(chunked, trailers, sized), fc.nat(), (text, n) => {
        const bytes = Buffer.from(text);
        expect(parseAnswer(bytes.subarray(0, n % bytes.length))).toBeUndefined();
      }),
    );
  });
});

describe('Connection', () => {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      const text = JSON.stringify({ method: req.method, url: req.url, body, auth: req.headers.authorization ?? null });
      // Both framings Node writes: a head written first (chunked), or a body of known length.
      if (req.url === '/chunked') res.writeHead(200, { 'content-type': 'application/json' }).end(text);
      else res.end(text);
    });
  });
  let port = 0;
  beforeAll(async () => {
    port = await listening(server);
  });
  afterAll(() => server.close());

  it('sends its requests on one keep-alive connection and reads each answer', async () => {
    const c = new Connection('127.0.0.1', port);
    let sockets = 0;
    server.on('connection', () => sockets++);
    for (let i = 0; i < 20; i++) {
      const path = i % 2 === 0 ? '/chunked' : '/sized';
      const a = i % 3 === 0 ? await c.send('GET', path, { authorization: 'Bearer t' }) : await c.send('POST', path, { 'content-type': 'text/plain' }, `n=${i}`);
      expect(a.status).toBe(200);
      expect(JSON.parse(a.text)).toEqual({
        method: i % 3 === 0 ? 'GET' : 'POST',
        url: path,
        body: i % 3 === 0 ? '' : `n=${i}`,
        auth: i % 3 === 0 ? 'Bearer t' : null,
      });
    }
    expect(sockets).toBeLessThanOrEqual(1);
    c.close();
  });

  it('a connection that fails refuses its request and every one after it', async () => {
    const c = new Connection('127.0.0.1', await freePort()); // nothing listens there
    await expect(c.send('GET', '/', {})).rejects.toThrow();
    expect(c.failed).toBe(true);
    await expect(c.send('GET', '/', {})).rejects.toThrow();
  });
});
