/**
 * Red-team regression (fixed; each failed before): feed.ts:44-62 buffers an SSE line (and `data`) without limit, and issuer.ts:136 keeps
 * every revocation until its (issuer-chosen) expiresAt. A hostile or broken feed that never sends
 * a newline grows `buffer` until the resource server runs out of memory (and each indexOf rescans it).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { remoteIssuer } from 'baton-auth/remote';
import { API, mockIssuer } from './mock-issuer.ts';

const LIMIT = 24 * 1024 * 1024;
let sent = 0;
let clientGaveUp = false;
let issuer: Awaited<ReturnType<typeof mockIssuer>>;
beforeAll(async () => {
  issuer = await mockIssuer({
    feed: (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      req.socket.on('close', () => {
        if (sent < LIMIT) clientGaveUp = true;
      });
      const chunk = Buffer.alloc(1024 * 1024, 'a'); // 1 MiB, no newline, ever
      const pump = () => {
        while (sent < LIMIT) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      pump();
    },
  });
});
afterAll(() => issuer.close());

it('drops a feed whose line exceeds a sane limit instead of buffering it', { timeout: 60_000 }, async () => {
  const v = remoteIssuer({ issuer: issuer.url, audience: API, introspection: { clientId: 'rs', clientSecret: 's' } });
  try {
    await v.verify(await issuer.sign()); // starts the feed
    for (let i = 0; i < 300 && sent < LIMIT && !clientGaveUp; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500)); // let the last MiBs be consumed
    expect(clientGaveUp).toBe(true); // dropped at 64 KiB
  } finally {
    v.close();
  }
});
