/**
 * `node:http` adapter: turns an `IncomingMessage` into a Web `Request`, and a `Response` back.
 * Import from `baton-auth/adapters/node`.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { toNodeListener } from 'baton-auth/adapters/node';
 * createServer(toNodeListener(handler)).listen(3000);
 * ```
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
// node:timers' own binding: an app's tests that fake the global timers (vitest's default set includes setImmediate) still get their answers.
import { setImmediate } from 'node:timers';
import type { AuthHandler } from '../http/handler.ts';
import { unbuiltText } from '../http/lazy-response.ts';
import { realRequest } from '../protocol/lazy-request.ts';
import { lazyWebRequest } from './node-request.ts';

/** How to read a Node request as a Web `Request`. */
export interface ToWebRequestOptions {
  /** The scheme and host the server is reached at. */
  origin: string;
  /** The handler's body limit (`handler.maxBodyBytes`): reading stops past it, and the handler answers 413. */
  maxBodyBytes: number;
  /** The path and query, when a framework has rewritten `req.url` (Express's `originalUrl`). */
  url?: string;
}

/**
 * The Web `Request` of a Node request, its body buffered up to the handler's limit. A real
 * `Request`: the adapters of this package hand the handler a lazy one instead (`node-request.ts`),
 * which undici's own code (`new Request(request)`, `fetch(request)`) would refuse.
 */
export async function toWebRequest(req: IncomingMessage, options: ToWebRequestOptions): Promise<Request> {
  return realRequest(await lazyWebRequest(req, options));
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
  const text = unbuiltText(response);
  if (text !== undefined) return void res.end(text);
  if (response.body === null) return void res.end();
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    // A stream (the revocation feed): written as the client takes it — the next chunk is read only
    // once the socket drained, so a client that does not read makes the stream wait (and drop it),
    // never this buffer grow — and cancelled when the client goes.
    const reader = response.body.getReader();
    let gone = false;
    const drained = (): Promise<void> =>
      new Promise((resolve) => {
        const done = (): void => {
          res.off('drain', done).off('close', done);
          resolve();
        };
        res.on('drain', done).on('close', done);
      });
    const leave = (): void => {
      gone = true;
      void reader.cancel().catch(() => undefined);
    };
    // The client may have gone before its answer is written (while the handler read the store, or
    // before the check phase the listener writes in): its 'close' is past, so the stream ends now.
    if (res.destroyed) return leave();
    res.once('close', leave);
    res.flushHeaders();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch {
        return void res.destroy(); // the stream was dropped: free what the socket still holds
      }
      if (chunk.done || gone) break;
      // Waiting for the client, yet told at once when the stream is dropped (a reader that never reads never drains).
      if (!res.write(chunk.value)) await Promise.race([drained(), reader.closed.catch(() => undefined)]);
    }
    return void res.end();
  }
  res.end(Buffer.from(await response.arrayBuffer()));
}

let turn: Promise<void> | undefined;

/**
 * Resolves in this event-loop turn's check phase (`setImmediate`), one timer for every answer ready
 * in the turn: the answers to the requests read in one poll phase go out back to back once all of
 * them were handled, instead of one write between each read and the next. Each write to a loopback
 * or LAN socket wakes the peer from inside the system call: one by one, a refresh grant's `writev`
 * cost about 50 µs of this machine's CPU, in a batch about 7 (an A/B of the service on memory,
 * 2026-12-07: server CPU per refresh grant −20 %, throughput +15–35 %). The cost: an answer waits
 * for the rest of its turn's reads.
 */
function checkPhase(): Promise<void> {
  return (turn ??= new Promise((resolve) =>
    setImmediate(() => {
      turn = undefined;
      resolve();
    }),
  ));
}

/** Options of `toNodeListener`. */
export interface NodeListenerOptions {
  /** The scheme and host the server is reached at. Default: from the Host header. */
  origin?: string;
  /** The client's address. Default: the socket's; behind a proxy, e.g. `proxy-addr` over X-Forwarded-For. */
  address?: (req: IncomingMessage) => string;
}

/** A `node:http` request listener serving `handler`. */
export function toNodeListener(handler: AuthHandler, options: NodeListenerOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const address = options.address ?? ((req: IncomingMessage) => req.socket.remoteAddress ?? 'unknown');
  return (req, res) => {
    const origin = options.origin ?? `http://${req.headers.host ?? 'localhost'}`;
    lazyWebRequest(req, { origin, maxBodyBytes: handler.maxBodyBytes }).then(
      (request) =>
        handler(request, { ip: address(req) })
          .then((response) => checkPhase().then(() => writeResponse(res, response)))
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
