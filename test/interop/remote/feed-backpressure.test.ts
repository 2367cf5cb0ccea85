/**
 * Red-team regression (#21, finding 11; failed before): the revocation feed ignored back-pressure.
 * A follower that stops reading made the server buffer every revocation for it (16 stalled streams
 * and 50,000 revocations: 125 → 544 MB, kept after they closed). Here a real `node:http` server
 * (`toNodeListener`) and a raw socket that sends its request and never reads (a Unix socket: its
 * kernel buffers are small, where loopback TCP's grow to tens of MB): what the server holds for it
 * stays under the stream's bound, and past it the stream is dropped (its follower would resume
 * from its cursor, so nothing is lost).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { toNodeListener } from 'baton-auth/adapters/node';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { eventually } from '../../support/eventually.ts';

const SECRET = 'resource-server-secret-of-32-characters';
/** The route's bound (`MAX_BEHIND_BYTES`): 1 MiB a stream. */
const BOUND = 1024 * 1024;

it('holds at most its bound for a follower that never reads, then drops the stream', async () => {
  const store = memoryStore();
  const issuer = 'http://127.0.0.1';
  const baton = createBaton({ issuer, keys: [generateKey('EdDSA', 'ed')], refreshTokenSecret: randomBytes(32), store });
  const handler = createAuthHandler({ baton, authenticate: async () => null, clients: staticClients([{ id: 'rs', secret: SECRET, introspect: true }]) });
  const listener = toNodeListener(handler);
  const responses: ServerResponse[] = [];
  const server = createServer((req, res) => {
    responses.push(res);
    listener(req, res);
  });
  const dir = mkdtempSync(join(tmpdir(), 'baton-feed-'));
  const path = join(dir, 'feed.sock');
  await new Promise<void>((r) => server.listen(path, r));
  const stalled = connect(path);
  stalled.on('error', () => undefined);
  try {
    // The request, then nothing read: no 'data' listener, so Node stops reading past its small buffer.
    stalled.write(
      `GET /oauth/revocations HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nAuthorization: Basic ${Buffer.from(`rs:${SECRET}`).toString('base64')}\r\n\r\n`,
    );
    const res = await eventually(() => responses[0]?.headersSent === true && responses[0], { what: 'the stream open' });
    let maxBuffered = 0;
    let sent = 0;
    const now = Date.now();
    // Up to 50,000 revocations (about 9 MB of events): far more than the socket's buffers take.
    for (let batch = 0; batch < 50 && !res.destroyed; batch++) {
      for (let i = 0; i < 1000; i++)
        await store.announce({ kind: 'token', id: `jti-${batch}-${i}-${'x'.repeat(64)}`, at: now, expiresAt: now + 600_000, reason: 'revoked' });
      sent += 1000;
      await new Promise((r) => setTimeout(r, 1));
      maxBuffered = Math.max(maxBuffered, res.writableLength);
    }
    console.info(
      `feed back-pressure: ${sent} revocations sent; the server held at most ${maxBuffered} bytes in the response; stream destroyed: ${res.destroyed}`,
    );
    expect(maxBuffered, 'bytes the server buffered for the stalled stream').toBeLessThan(BOUND);
    await eventually(() => res.destroyed, { timeoutMs: 2000, what: 'the stalled stream dropped' });
  } finally {
    stalled.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    baton.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

it('Fastify serves the feed as a stream paced by its reader (before: it buffered the endless body whole and sent nothing)', async () => {
  const { default: Fastify } = await import('fastify');
  const { endpoints } = await import('baton-auth/adapters/fastify');
  const store = memoryStore();
  const baton = createBaton({ issuer: 'http://127.0.0.1', keys: [generateKey('EdDSA', 'ed')], refreshTokenSecret: randomBytes(32), store });
  const handler = createAuthHandler({ baton, authenticate: async () => null, clients: staticClients([{ id: 'rs', secret: SECRET, introspect: true }]) });
  const app = Fastify();
  await app.register(endpoints(handler));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const abort = new AbortController();
  try {
    const res = await fetch(`${url}/oauth/revocations`, {
      headers: { accept: 'text/event-stream', authorization: `Basic ${Buffer.from(`rs:${SECRET}`).toString('base64')}` },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    const until = async (needle: string): Promise<void> => {
      while (!text.includes(needle)) text += decoder.decode((await reader.read()).value, { stream: true });
    };
    await until('event: ready');
    await store.announce({ kind: 'token', id: 'jti-through-fastify', at: Date.now(), expiresAt: Date.now() + 60_000, reason: 'revoked' });
    await until('jti-through-fastify');
  } finally {
    abort.abort();
    handler.closeStreams?.(true);
    await app.close();
    baton.close();
    await store.close();
  }
}, 20_000);
