/**
 * One keep-alive HTTP/1.1 connection that sends a request and reads its answer (Content-Length or
 * chunked), nothing else: the load client of the peers and workers benches. Written by hand
 * because the client shares the two cores with the server under test, and every µs it spends is
 * taken from the server: in an interleaved A/B of refresh grants against the service (2026-12-07),
 * node:http's client cost 81–103 µs of CPU a request, undici's Pool 106–142 in another, this
 * 34–38 (`npm run bench` prints the client's CPU per request beside the server's). Loopback only;
 * no redirects, no TLS, no pipelining.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface Answer {
  status: number;
  text: string;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** The answer at the start of `buf`, and where it ends; undefined while it is incomplete. */
export function parseAnswer(buf: Buffer): { answer: Answer; end: number } | undefined {
  const headEnd = buf.indexOf(HEAD_END);
  if (headEnd < 0) return undefined;
  const head = buf.toString('latin1', 0, headEnd);
  const status = Number(head.slice(9, 12));
  if (!head.startsWith('HTTP/1.1 ') || !Number.isInteger(status)) throw new Error(`not an HTTP/1.1 answer: ${head.slice(0, 40)}`);
  let at = headEnd + 4;
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (length !== null) {
    const end = at + Number(length[1]);
    return end > buf.length ? undefined : { answer: { status, text: buf.toString('utf8', at, end) }, end };
  }
  if (!/\r\ntransfer-encoding: *chunked/i.test(head)) {
    if (status === 204 || status === 304) return { answer: { status, text: '' }, end: at };
    throw new Error('an answer without Content-Length or chunked encoding');
  }
  // RFC 9112 §7.1: chunk-size (hex, maybe extensions) CRLF data CRLF … 0 CRLF (trailers) CRLF.
  const parts: Buffer[] = [];
  for (;;) {
    const line = buf.indexOf('\r\n', at);
    if (line < 0) return undefined;
    const size = parseInt(buf.toString('latin1', at, line), 16);
    if (Number.isNaN(size)) throw new Error('a malformed chunk size');
    at = line + 2;
    if (size === 0) {
      const trailersEnd = buf.indexOf('\r\n', at) === at ? at : buf.indexOf(HEAD_END, at);
      if (trailersEnd < 0) return undefined;
      const end = trailersEnd === at ? at + 2 : trailersEnd + 4;
      return end > buf.length ? undefined : { answer: { status, text: Buffer.concat(parts).toString('utf8') }, end };
    }
    if (at + size + 2 > buf.length) return undefined;
    parts.push(buf.subarray(at, at + size));
    at += size + 2;
  }
}

/** A connection to `host:port`; `send` waits for the previous answer (one request at a time). */
export class Connection {
  readonly #socket: Socket;
  readonly #host: string;
  #buf: Buffer = Buffer.alloc(0);
  #waiting: { resolve: (a: Answer) => void; reject: (e: Error) => void } | undefined;
  #failed: Error | undefined;

  constructor(host: string, port: number) {
    this.#host = `${host}:${port}`;
    this.#socket = connect(port, host).setNoDelay(true);
    this.#socket.on('data', (d: Buffer) => this.#read(d));
    this.#socket.on('error', (err) => this.#fail(err));
    this.#socket.on('close', () => this.#fail(new Error('the connection closed')));
  }

  send(method: string, path: string, headers: Record<string, string>, body = ''): Promise<Answer> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.#host}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    if (body !== '' || method === 'POST') head += `content-length: ${Buffer.byteLength(body)}\r\n`;
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#socket.write(`${head}\r\n${body}`);
    });
  }

  /** The connection failed (closed, refused, an answer it could not read): every `send` is refused. */
  get failed(): boolean {
    return this.#failed !== undefined;
  }

  close(): void {
    this.#socket.destroy();
  }

  #read(data: Buffer): void {
    this.#buf = this.#buf.length === 0 ? data : Buffer.concat([this.#buf, data]);
    let parsed: ReturnType<typeof parseAnswer>;
    try {
      parsed = parseAnswer(this.#buf);
    } catch (err) {
      return this.#fail(err as Error);
    }
    if (parsed === undefined) return;
    this.#buf = this.#buf.subarray(parsed.end);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.resolve(parsed.answer);
  }

  #fail(err: Error): void {
    this.#failed ??= err;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(err);
  }
}
