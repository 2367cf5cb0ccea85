/**
 * `node:http` adapter: turns an `IncomingMessage` into a Web `Request`, and a `Response` back.
 * Import from `baton/adapters/node`.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { toNodeListener } from 'baton/adapters/node';
 * createServer(toNodeListener(handler)).listen(3000);
 * ```
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { AuthHandler } from '../http/handler.ts';

function nodeHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  return headers;
}

/** The Web `Request` of a Node request, its body streamed; `origin` is the scheme and host the server is reached at. */
export function toWebRequest(req: IncomingMessage, origin: string): Request {
  const method = req.method ?? 'GET';
  const init: RequestInit & { duplex?: 'half' } = { method, headers: nodeHeaders(req) };
  if (method !== 'GET' && method !== 'HEAD') {
    init.body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  return new Request(new URL(req.url ?? '/', origin), init);
}

/**
 * The body of a Node request, read until it passes `limit` bytes: enough for the handler to answer
 * 413, and Node discards the rest once the response ends. Token requests are small, and a buffered
 * body spares the Web stream that `Readable.toWeb` builds (about 4 % of a refresh grant's CPU).
 * A request aborted before its end rejects.
 */
function readNodeBody(req: IncomingMessage, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const aborted = (): void => reject(new Error('The request ended before its body'));
    const done = (): void => {
      req.off('data', onData).off('end', done).off('error', reject).off('close', aborted);
      resolve((chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)) as Uint8Array<ArrayBuffer>);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) done();
    };
    req.on('data', onData).on('end', done).on('error', reject).on('close', aborted);
  });
}

/** Writes a Web `Response` to a Node response. */
export async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  res.writeHead(response.status, headers);
  if (response.body === null) return void res.end();
  const body = Buffer.from(await response.arrayBuffer());
  res.end(body);
}

/** A `node:http` request listener serving `handler`. */
export function toNodeListener(handler: AuthHandler, options: { origin?: string } = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const toRequest = async (req: IncomingMessage): Promise<Request> => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', options.origin ?? `http://${req.headers.host ?? 'localhost'}`);
    const body = method === 'GET' || method === 'HEAD' ? null : await readNodeBody(req, handler.maxBodyBytes);
    return new Request(url, { method, headers: nodeHeaders(req), body });
  };
  return (req, res) => {
    toRequest(req).then(
      (request) =>
        handler(request, { ip: req.socket.remoteAddress ?? 'unknown' })
          .then((response) => writeResponse(res, response))
          .catch(() => {
            if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
            res.end('{"error":"server_error"}');
          }),
      () => {
        if (!res.headersSent) res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{"error":"invalid_request"}');
      },
    );
  };
}
