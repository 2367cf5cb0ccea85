/**
 * `GET /oauth/revocations`: the revocation feed, for resource servers outside the store's reach
 * (another service's `remoteIssuer`, a Python API). Confidential clients registered to introspect
 * only (the same trust as RFC 7662). `?since=<ms>` (or `Last-Event-ID`) lists the revocations in
 * force since then as JSON; with `Accept: text/event-stream` the same backlog, then each new
 * revocation as it happens, as Server-Sent Events whose `id` is the cursor to resume from (an
 * event `ready` marks the end of the backlog).
 * Each event says only what a verifier needs: `{ kind: 'session' | 'token' | 'key', id, at, expiresAt }`.
 */
import type { RevocationEvent } from '../../core/store.ts';
import { authenticateClient, invalidClient } from '../client-auth.ts';
import type { HandlerContext, Route } from '../context.ts';
import { HttpError, json } from '../respond.ts';

/** Open streams per client at most: a resource server needs one per instance, not one per request. */
const MAX_STREAMS_PER_CLIENT = 16;

/** How often an idle stream sends a comment, so that proxies keep it open. */
const HEARTBEAT_MS = 15_000;

const publicEvent = (e: RevocationEvent) => ({ kind: e.kind, id: e.id, at: e.at, expiresAt: e.expiresAt });
const sse = (e: RevocationEvent): string => `id: ${e.at}\nevent: revocation\ndata: ${JSON.stringify(publicEvent(e))}\n\n`;

export function revocations(c: HandlerContext): Route {
  return {
    GET: async (request, ctx) => {
      // Wrong secrets are throttled (429) and a store outage is a 503, as at every endpoint; a public client is refused.
      const client = await authenticateClient(c, request, {}, ctx.ip ?? 'unknown');
      if (client.type !== 'confidential' || client.introspect !== true) {
        throw invalidClient('The revocation feed is for resource servers: a confidential client registered to introspect, with client_secret_basic');
      }
      const cursor = new URL(request.url).searchParams.get('since') ?? request.headers.get('last-event-id') ?? '0';
      const since = Number(cursor);
      if (!Number.isSafeInteger(since) || since < 0) throw new HttpError(400, 'invalid_request', 'since is a time in ms since the epoch, as the feed\'s event ids are');
      if (!(request.headers.get('accept') ?? '').includes('text/event-stream')) {
        const events = await c.baton.revocationsSince(since);
        return json({ events: events.map(publicEvent), cursor: events.at(-1)?.at ?? since });
      }
      // Stopping: no new stream (a client reconnecting on a kept-alive socket would hold the server open).
      if (c.streams.closed) throw new HttpError(503, 'temporarily_unavailable', 'The service is stopping', { 'retry-after': '1', connection: 'close' });
      if (c.streams.count(client.id) >= MAX_STREAMS_PER_CLIENT) {
        throw new HttpError(429, 'slow_down', `Client ${client.id} already has ${MAX_STREAMS_PER_CLIENT} feed streams open; one per instance is enough`, { 'retry-after': '5' });
      }
      const encoder = new TextEncoder();
      let stop = (): void => undefined;
      const body = new ReadableStream<Uint8Array>({
        start: async (controller) => {
          const send = (text: string): void => {
            try {
              controller.enqueue(encoder.encode(text));
            } catch {
              stop(); // the stream was closed
            }
          };
          // Live events first, so that none falls between the backlog's read and the subscription.
          const queued: RevocationEvent[] = [];
          let live = false;
          const unsubscribe = c.baton.onRevocation((e) => (live ? send(sse(e)) : queued.push(e)));
          const heartbeat = setInterval(() => send(': ping\n\n'), HEARTBEAT_MS);
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
            unsubscribe();
            clearInterval(heartbeat);
            unregister();
          };
          send(': baton revocation feed\n\n');
          for (const e of await c.baton.revocationsSince(since)) send(sse(e));
          live = true;
          for (const e of queued) send(sse(e));
          send('event: ready\ndata: {}\n\n'); // the backlog is in: a follower may trust what it holds
        },
        cancel: () => stop(),
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' } });
    },
  };
}
