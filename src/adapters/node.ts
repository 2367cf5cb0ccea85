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

/** The Web `Request` of a Node request; `origin` is the scheme and host the server is reached at. */
export function toWebRequest(req: IncomingMessage, origin: string): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  const method = req.method ?? 'GET';
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  if (method !== 'GET' && method !== 'HEAD') {
    init.body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  return new Request(new URL(req.url ?? '/', origin), init);
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
  return (req, res) => {
    const origin = options.origin ?? `http://${req.headers.host ?? 'localhost'}`;
    let request: Request;
    try {
      request = toWebRequest(req, origin);
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_request"}');
      return;
    }
    handler(request, { ip: req.socket.remoteAddress ?? 'unknown' })
      .then((response) => writeResponse(res, response))
      .catch(() => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"server_error"}');
      });
  };
}
