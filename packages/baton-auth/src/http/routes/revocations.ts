/**
 * `GET /oauth/revocations`: the revocation feed, for resource servers outside the store's reach
 * (another service's `remoteIssuer`, a Python API). Confidential clients registered to introspect
 * only (the same trust as RFC 7662).
 *
 * With `Accept: text/event-stream`, Server-Sent Events: the backlog, an event `ready` (the backlog
 * is in), then each revocation as it is committed. Each event's `id` is an opaque cursor the store
 * assigns in commit order (`RevocationLog.revocationsAfter`), never a clock's time: a follower that
 * resumes with `?after=<last id>` (or `Last-Event-ID`) gets every revocation committed after it,
 * whatever the clocks of the instances that made them. Without a cursor (or with the last
 * release's `?since=<ms>`), the backlog is every revocation in force (at or after `since`).
 * Without that Accept, JSON: `{ events, cursor }`, at most a page of them; ask again `?after=<cursor>`
 * until `events` is empty.
 * Each event says only what a verifier needs: `{ kind: 'session' | 'token' | 'key', id, at, expiresAt }`.
 *
 * A stream is paced by its reader (a pull source under a byte high-water mark, and adapters that
 * wait for `drain`): a reader that does not read holds at most `MAX_BEHIND_BYTES`, then the stream
 * is dropped; its follower resumes from its cursor, so dropping loses nothing. So is a stream whose
 * reader has taken nothing for `STALLED_HEARTBEATS` heartbeats (1 min) while something is queued.
 * The backlog is read from the store a page at a time (commit order, what is out of force left
 * out), never whole: a stream holds at most about a page and the queue, whatever the backlog.
 */
import type { RevocationEvent } from '../../core/store.ts';
import { authenticateClient, invalidClient } from '../client-auth.ts';
import type { HandlerContext, Route } from '../context.ts';
import { HttpError, json } from '../respond.ts';

/** Open streams per client at most: a resource server needs one per instance, not one per request. */
const MAX_STREAMS_PER_CLIENT = 16;

/** How often an idle stream sends a comment, so that proxies keep it open (and the log is read again). */
const HEARTBEAT_MS = 15_000;

/** Revocations read from the store at a time, and sent as one chunk. */
const PAGE = 500;
/** Bytes a stream keeps queued for its reader before it stops reading the store. */
const HIGH_WATER_BYTES = 64 * 1024;
/** Bytes of revocations a stream may fall behind a reader that takes nothing; past it the stream is dropped. */
export const MAX_BEHIND_BYTES = 1024 * 1024;

/** Heartbeats in a row with data queued and nothing taken, after which a stream is dropped (a stalled reader). */
export const STALLED_HEARTBEATS = 4;

/** A `since` this far past now is no time but a cursor: what a follower of the last release resumes with. */
const FAR_FUTURE_MS = 86_400_000;

const publicEvent = (e: RevocationEvent) => ({ kind: e.kind, id: e.id, at: e.at, expiresAt: e.expiresAt });
const sse = (e: RevocationEvent): string => `${e.seq === undefined ? '' : `id: ${e.seq}\n`}event: revocation\ndata: ${JSON.stringify(publicEvent(e))}\n\n`;

/**
 * A page of the log after `cursor` in commit order, without a cursor from the client: only what
 * is still in force (at or after `since`). The backlog is read page by page from the store, never
 * held whole (#21 round 3, B4). Resolves to the events to send and the cursor past the page.
 */
async function backlogPage(c: HandlerContext, cursor: number, since: number): Promise<{ events: RevocationEvent[]; cursor: number; end: boolean }> {
  const page = await c.baton.revocationsAfter(cursor, PAGE);
  const now = Date.now();
  return {
    events: page.filter((e) => e.expiresAt > now && e.at >= since),
    cursor: page.at(-1)?.seq ?? cursor,
    end: page.length < PAGE,
  };
}

/** A cursor or time from the request, or a 400 saying what it is. */
function whole(value: string, what: string): number {
  const n = Number(value);
  if (value === '' || !Number.isSafeInteger(n) || n < 0) throw new HttpError('ERR_INVALID_REQUEST', what);
  return n;
}

export function revocations(c: HandlerContext): Route {
  return {
    GET: async (request, ctx) => {
      // Wrong secrets are throttled (429) and a store outage is a 503, as at every endpoint; a public client is refused.
      const client = await authenticateClient(c, request, {}, ctx.ip ?? 'unknown');
      if (client.type !== 'confidential' || client.introspect !== true) {
        throw invalidClient('The revocation feed is for resource servers: a confidential client registered to introspect, with client_secret_basic');
      }
      const params = new URL(request.url).searchParams;
      const afterParam = params.get('after') ?? request.headers.get('last-event-id');
      let after: number | undefined;
      let since = 0;
      if (afterParam !== null) after = whole(afterParam, 'after is a cursor of the feed: the id of the last event received');
      else {
        since = whole(params.get('since') ?? '0', 'since is a time in ms since the epoch');
        if (since > Date.now() + FAR_FUTURE_MS) after = since; // the last release's followers resume with since=<last id>
      }
      // A cursor above the log's head was never handed out by it (the store lost its last writes, #21 round 3 B2):
      // unknown, so the whole backlog in force, rather than waiting for seqs the follower claims to have passed.
      if (after !== undefined && after > 0) {
        const head = await c.baton.revocationHead();
        if (head !== undefined && after > head) {
          after = undefined;
          since = 0;
        }
      }
      if (!(request.headers.get('accept') ?? '').includes('text/event-stream')) {
        if (after === undefined) {
          // A page of what is in force, from the start of the log; pages wholly out of force are skipped.
          let page = await backlogPage(c, 0, since);
          while (page.events.length === 0 && !page.end) page = await backlogPage(c, page.cursor, since);
          return json({ events: page.events.map(publicEvent), cursor: page.cursor });
        }
        const events = await c.baton.revocationsAfter(after, PAGE);
        return json({ events: events.map(publicEvent), cursor: events.at(-1)?.seq ?? after });
      }
      // Stopping: no new stream (a client reconnecting on a kept-alive socket would hold the server open).
      if (c.streams.closed) throw new HttpError('ERR_SHUTTING_DOWN', 'The service is stopping', { headers: { 'retry-after': '1', connection: 'close' } });
      if (c.streams.count(client.id) >= MAX_STREAMS_PER_CLIENT) {
        throw new HttpError('ERR_RATE_LIMITED', `Client ${client.id} already has ${MAX_STREAMS_PER_CLIENT} feed streams open; one per instance is enough`, { headers: { 'retry-after': '5' } });
      }
      const encoder = new TextEncoder();
      let closed = false;
      let stop = (): void => undefined;
      // The pump waits for a reason to go on: the reader took something (pull), or a revocation came.
      let pending = false;
      let resume: (() => void) | undefined;
      const wake = (): void => {
        pending = true;
        const r = resume;
        resume = undefined;
        r?.();
      };
      const signal = (): Promise<void> => new Promise((r) => (resume = r));
      // Bytes of revocations that came while the queue was full, since the reader last took something.
      let behind = 0;
      // Heartbeats in a row that found data queued and nothing taken since the last one.
      let stalled = 0;
      let recheck: ReturnType<typeof setTimeout> | undefined;
      const body = new ReadableStream<Uint8Array>({
        start: (controller) => {
          const drop = (why: string): void => {
            if (closed) return;
            stop();
            try {
              controller.error(new Error(why));
            } catch {
              // already closed
            }
          };
          const send = (text: string): void => {
            try {
              controller.enqueue(encoder.encode(text));
            } catch {
              stop(); // the stream was closed
            }
          };
          const unsubscribe = c.baton.onRevocation((e) => {
            // A reader that takes nothing while revocations keep coming is dropped past the bound.
            if ((controller.desiredSize ?? 0) <= 0) {
              behind += sse(e).length;
              if (HIGH_WATER_BYTES + behind > MAX_BEHIND_BYTES) return drop('the follower does not read the revocation feed: dropped, it resumes from its cursor');
            }
            wake(); // the event itself is read from the log, in commit order, after the cursor
          });
          const heartbeat = setInterval(() => {
            // A reader that takes nothing of what is queued holds it: dropped after a while, it resumes from its cursor.
            stalled = (controller.desiredSize ?? 0) < HIGH_WATER_BYTES ? stalled + 1 : 0;
            if (stalled >= STALLED_HEARTBEATS) {
              return drop('the follower took nothing from the revocation feed: dropped, it resumes from its cursor');
            }
            if ((controller.desiredSize ?? 0) > 0) send(': ping\n\n');
            wake(); // and read the log again: a revocation whose message came before its log entry (Redis Cluster)
          }, HEARTBEAT_MS);
          heartbeat.unref?.();
          const unregister = c.streams.add(() => {
            stop();
            try {
              controller.close();
            } catch {
              // already closed
            }
          }, client.id);
          stop = () => {
            closed = true;
            unsubscribe();
            clearInterval(heartbeat);
            clearTimeout(recheck);
            unregister();
            wake();
          };
          send(': baton revocation feed\n\n');
          const pump = async (): Promise<void> => {
            // Without a cursor: the log from its start, page by page in commit order, only what is
            // still in force (at or after `since`) until `ready`; never the whole backlog at once.
            let cursor = after ?? 0;
            let ready = false;
            while (!closed) {
              if ((controller.desiredSize ?? 0) <= 0) {
                await signal(); // back-pressure: the reader has not taken what is queued
                continue;
              }
              const woken = pending;
              pending = false;
              const page = await c.baton.revocationsAfter(cursor, PAGE);
              if (closed) return;
              if (page.length > 0) {
                const now = Date.now();
                const events = after === undefined && !ready ? page.filter((e) => e.expiresAt > now && e.at >= since) : page;
                if (events.length > 0) send(events.map(sse).join(''));
                cursor = page.at(-1)?.seq ?? cursor;
                continue;
              }
              if (!ready) {
                ready = true;
                send(`id: ${cursor}\nevent: ready\ndata: {}\n\n`); // the backlog is in: a follower may trust what it holds
              } else if (woken && recheck === undefined) {
                // Woken but nothing logged yet (a message can precede its log entry): look again shortly.
                recheck = setTimeout(() => {
                  recheck = undefined;
                  wake();
                }, 1000);
                recheck.unref?.();
              }
              if (!pending) await signal();
            }
          };
          // The store away: the stream ends and the follower reconnects, from its cursor.
          pump().catch(() => drop('the store is unavailable'));
        },
        pull: () => {
          behind = 0;
          stalled = 0;
          wake();
        },
        cancel: () => stop(),
      }, { highWaterMark: HIGH_WATER_BYTES, size: (chunk) => chunk.byteLength });
      return new Response(body, { headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' } });
    },
  };
}
