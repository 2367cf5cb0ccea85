/**
 * `toNodeListener` writes the answers of one event-loop turn together, in its check phase: every
 * request read in the turn is handled before any answer goes out (adapters/node.ts, #26).
 */
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { toNodeListener } from 'baton-auth/adapters/node';
import type { AuthHandler } from 'baton-auth/http';
import { listening } from '../support/ports.ts';

// The requests are held as they arrive, then given to the listener in one synchronous block.
const arrived: { req: IncomingMessage; res: ServerResponse }[] = [];
const server = createServer((req, res) => void arrived.push({ req, res }));
let port = 0;
beforeAll(async () => {
  port = await listening(server);
});
afterAll(() => server.close());

/** What happened, in order: `handled <path>` and `wrote <path>`. */
const log: string[] = [];
const handler = Object.assign(
  async (request: Request) => {
    const path = new URL(request.url).pathname;
    // Request i takes 20 × i more microtasks to handle than the first: all within the turn.
    for (let k = 0; k < 20 * Number(path.slice(2)); k++) await Promise.resolve();
    log.push(`handled ${path}`);
    return new Response(JSON.stringify({ ok: true }), { headers: { 'content-type': 'application/json' } });
  },
  { maxBodyBytes: 1024, handles: () => true },
) as unknown as AuthHandler;
const listener = toNodeListener(handler, { origin: 'http://127.0.0.1' });

/** Sends `n` GETs on `n` sockets; resolves once the server holds them all, with their answers' bodies to come. */
async function held(n: number): Promise<Promise<string>[]> {
  const answers = Array.from(
    { length: n },
    (_, i) =>
      new Promise<string>((resolve, reject) => {
        const out = httpRequest({ host: '127.0.0.1', port, path: `/r${i}`, agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve(body));
        });
        out.on('error', reject).end();
      }),
  );
  while (arrived.length < n) await new Promise((r) => setTimeout(r, 5));
  return answers;
}

function watch(res: ServerResponse, path: string): void {
  const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
  res.end = ((...a: unknown[]) => (log.push(`wrote ${path}`), end(...a))) as ServerResponse['end'];
}

describe('the Node listener writes the answers of a turn together', () => {
  it('every request given to it in one turn is handled before the first answer is written, and all are answered', async () => {
    const answers = await held(8);
    log.length = 0;
    for (const { req, res } of arrived.splice(0)) {
      watch(res, req.url as string);
      listener(req, res);
    }
    expect(await Promise.all(answers)).toEqual(Array(8).fill('{"ok":true}'));
    const firstWrite = log.findIndex((e) => e.startsWith('wrote'));
    expect(log.slice(0, firstWrite).filter((e) => e.startsWith('handled'))).toHaveLength(8);
    expect(log.filter((e) => e.startsWith('wrote'))).toHaveLength(8);
  });

  it('an answer ready is not written before the check phase of its turn (setImmediate), then is', async () => {
    const answers = await held(1);
    log.length = 0;
    const { req, res } = arrived.shift() as { req: IncomingMessage; res: ServerResponse };
    watch(res, req.url as string);
    listener(req, res);
    for (let i = 0; i < 100 && !log.includes('handled /r0'); i++) await Promise.resolve();
    expect(log).toEqual(['handled /r0']);
    for (let i = 0; i < 100; i++) await Promise.resolve(); // microtasks alone never write it
    expect(log).toEqual(['handled /r0']);
    expect(await answers[0]).toBe('{"ok":true}');
    expect(log).toEqual(['handled /r0', 'wrote /r0']);
  });

  it("an app's tests with fake timers (vitest's default set fakes setImmediate) still get their answers", async () => {
    const answers = await held(1);
    vi.useFakeTimers();
    try {
      const { req, res } = arrived.shift() as { req: IncomingMessage; res: ServerResponse };
      listener(req, res);
      expect(await answers[0]).toBe('{"ok":true}');
    } finally {
      vi.useRealTimers();
    }
  });
});
