/**
 * The revocation feed's stream as `followFeed` reads it (through `eventsource-parser`): events
 * split anywhere across chunks, CRLF or LF, comments between them; an event whose data grows past
 * 64 KiB over many `data:` lines drops the stream, as a line that long does.
 */
import { describe, expect, it } from 'vitest';
import { followFeed } from '../../packages/baton-auth/src/remote/feed.ts';
import type { FeedEvent } from '../../packages/baton-auth/src/remote/feed.ts';

/** A fetch answering one stream of `chunks`, then holding it open. */
function streamOf(chunks: string[]): typeof fetch {
  return (async () =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
        },
      }),
      { headers: { 'content-type': 'text/event-stream' } },
    )) as typeof fetch;
}

function follow(chunks: string[]) {
  const events: FeedEvent[] = [];
  const states: (string | true)[] = [];
  const feed = followFeed({
    url: 'http://127.0.0.1:1/oauth/revocations',
    authorization: 'Basic x',
    fetch: streamOf(chunks),
    backoffMs: () => 60_000,
    onEvent: (e) => events.push(e),
    onState: (connected, err) => states.push(connected ? true : (err?.message ?? 'down')),
  });
  return { events, states, close: () => feed.close() };
}
const tick = () => new Promise((r) => setTimeout(r, 50));

describe('followFeed reads the stream', () => {
  it('takes events split anywhere, CRLF or LF, with comments, and `ready` once the backlog is in', async () => {
    const e1 = JSON.stringify({ kind: 'session', id: 's1', at: 1, expiresAt: 2 });
    const e2 = JSON.stringify({ kind: 'token', id: 't1', at: 1, expiresAt: 2 });
    const text = `: baton revocation feed\n\nid: 1\r\nevent: revocation\r\ndata: ${e1}\r\n\r\n: ping\n\nid: 2\nevent: revocation\ndata: ${e2}\n\nevent: junk\ndata: {}\n\nid: 2\nevent: ready\ndata: {}\n\n`;
    const chunks = [];
    for (let i = 0; i < text.length; i += 7) chunks.push(text.slice(i, i + 7));
    const f = follow(chunks);
    await tick();
    f.close();
    expect(f.events.map((e) => e.id)).toEqual(['s1', 't1']);
    expect(f.states).toEqual([true]);
  });

  it('drops a stream whose event grows past 64 KiB over many data lines', async () => {
    const f = follow([...Array(100)].map(() => `data: ${'x'.repeat(1000)}\n`));
    await tick();
    f.close();
    expect(f.states).toEqual(['the revocation feed sent an oversized event']);
  });
});

describe('followFeed drops a silent stream (red team 2)', () => {
  // Fixed: a stream that sent `ready` and then nothing (a half-open connection, a proxy holding
  // it) passed for connected forever — no revocation arrived and `maxFeedOutageMs` never started.
  it('drops a stream silent for idleMs, says so, and follows the feed again', async () => {
    let fetched = 0;
    const silentAfterReady = (async () => {
      fetched++;
      return new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('id: 1\nevent: ready\ndata: {}\n\n'));
          },
        }),
        { headers: { 'content-type': 'text/event-stream' } },
      );
    }) as typeof fetch;
    const states: (string | true)[] = [];
    const feed = followFeed({
      url: 'http://127.0.0.1:1/oauth/revocations',
      authorization: 'Basic x',
      fetch: silentAfterReady,
      backoffMs: () => 10,
      idleMs: 100,
      onEvent: () => undefined,
      onState: (connected, err) => states.push(connected ? true : (err?.message ?? 'down')),
    });
    await new Promise((r) => setTimeout(r, 180));
    feed.close();
    expect(states.slice(0, 3)).toEqual([true, 'the revocation feed sent nothing for 100 ms', true]);
    expect(fetched).toBe(2);
  });
});
