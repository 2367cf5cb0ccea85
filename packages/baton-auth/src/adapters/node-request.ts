/**
 * A Web `Request` over a Node request, built lazily, as `@hono/node-server` does: the handler reads
 * the method, the URL, a few headers and the (buffered) body, and none of these needs undici's
 * `Request`, `Headers` or `ReadableStream` — building them was about 10 % of a refresh grant's CPU
 * (a profile of `npm run bench`, 2026-12-07). Anything else (`signal`, `clone()`, a header
 * written, `instanceof Request`) gets the real object, built once, from the same parts.
 * Hand-written because undici offers no lazy request and hono's is internal to its server.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { BUFFERED_BODY, delegateTo, REAL_REQUEST, underCurrent } from '../protocol/lazy-request.ts';
import type { ToWebRequestOptions } from './node.ts';

const incoming = Symbol('incoming');
const real = Symbol('real');

/** `Headers` over Node's parsed headers: `get` and `has` read them; anything else reads a real `Headers`, built once. */
class NodeHeaders {
  [incoming]: IncomingHttpHeaders;
  [real]: Headers | undefined;
  constructor(headers: IncomingHttpHeaders) {
    this[incoming] = headers;
  }
  /** The real `Headers`: each Node header once, Node's joins kept (repeated ones joined with ", ", cookies with "; "). */
  materialize(): Headers {
    if (this[real] !== undefined) return this[real];
    const headers = new Headers();
    for (const [name, value] of Object.entries(this[incoming])) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else headers.set(name, value);
    }
    return (this[real] = headers);
  }
  get(name: string): string | null {
    if (this[real] !== undefined) return this[real].get(name);
    const value = this[incoming][name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }
  has(name: string): boolean {
    return this[real] !== undefined ? this[real].has(name) : this[incoming][name.toLowerCase()] !== undefined;
  }
}
for (const key of ['append', 'delete', 'set', 'forEach', 'entries', 'keys', 'values', 'getSetCookie', Symbol.iterator] as const)
  Object.defineProperty(NodeHeaders.prototype, key, {
    value(this: NodeHeaders, ...args: unknown[]) {
      const headers = this.materialize() as unknown as Record<PropertyKey, (...a: unknown[]) => unknown>;
      return (headers[key] as (...a: unknown[]) => unknown).apply(headers, args);
    },
  });
Object.setPrototypeOf(NodeHeaders.prototype, Headers.prototype);

interface Parts {
  method: string;
  url: string;
  headers: NodeHeaders;
  body: Uint8Array<ArrayBuffer> | null;
}

const parts = Symbol('parts');
const built = Symbol('built');

interface LazyRequest {
  [parts]: Parts;
  [built]: Request | undefined;
}

function full(r: LazyRequest): Request {
  const p = r[parts];
  r[built] ??= new Request(p.url, { method: p.method, headers: p.headers.materialize(), body: p.body });
  return r[built];
}

const prototype = {
  get method(): string {
    return (this as unknown as LazyRequest)[parts].method;
  },
  get url(): string {
    return (this as unknown as LazyRequest)[parts].url;
  },
  get headers(): Headers {
    const r = this as unknown as LazyRequest;
    return r[built]?.headers ?? (r[parts].headers as unknown as Headers);
  },
  /** The buffered body for `readBody`, while nothing has read it as a stream. */
  get [BUFFERED_BODY](): Uint8Array | null | undefined {
    const r = this as unknown as LazyRequest;
    return r[built] === undefined ? r[parts].body : undefined;
  },
  [REAL_REQUEST](): Request {
    return full(this as unknown as LazyRequest);
  },
};
delegateTo(
  prototype,
  Request,
  full,
  ['body', 'bodyUsed', 'cache', 'credentials', 'destination', 'duplex', 'integrity', 'keepalive', 'mode', 'redirect', 'referrer', 'referrerPolicy', 'signal'],
  ['arrayBuffer', 'blob', 'bytes', 'clone', 'formData', 'json', 'text'],
);

/** A `Request` of `method` to `url` with Node's `headers` and a buffered `body`, built only when something needs more than the parts. */
export function lazyRequest(method: string, url: string, headers: IncomingHttpHeaders, body: Uint8Array<ArrayBuffer> | null): Request {
  underCurrent(prototype, Request);
  const request = Object.create(prototype) as LazyRequest;
  request[parts] = { method, url, headers: new NodeHeaders(headers), body };
  request[built] = undefined;
  return request as unknown as Request;
}

/**
 * The body of a Node request, read until it passes `limit` bytes: enough for the handler to answer
 * 413, and Node discards the rest once the response ends. Token requests are small, and a buffered
 * body spares the Web stream that `Readable.toWeb` builds (about 4 % of a refresh grant's CPU).
 * A request aborted before its end rejects; one already read (by a body parser) is empty.
 */
function readNodeBody(req: IncomingMessage, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  if (req.readableEnded) return Promise.resolve(new Uint8Array(0));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      req.off('data', onData).off('end', done).off('error', reject);
      resolve((chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)) as Uint8Array<ArrayBuffer>);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) done();
    };
    req.on('data', onData).on('end', done).on('error', reject); // Node emits 'error' (ECONNRESET) on an aborted request
  });
}

/** The lazy `Request` of a Node request for the handler (`toNodeListener`, the Express and Fastify adapters), its body buffered up to the handler's limit. */
export async function lazyWebRequest(req: IncomingMessage, options: ToWebRequestOptions): Promise<Request> {
  const method = req.method ?? 'GET';
  // Only the path and query of the request target: an absolute-form target (`POST http://other/…`,
  // RFC 9112 §3.2.2) must not replace the origin the handler knows itself by (DPoP's htu, cookies).
  const target = new URL(options.url ?? req.url ?? '/', 'http://target.invalid');
  const url = new URL(`${target.pathname}${target.search}`, options.origin);
  const body = method === 'GET' || method === 'HEAD' ? null : await readNodeBody(req, options.maxBodyBytes);
  return lazyRequest(method, url.href, req.headers, body);
}
