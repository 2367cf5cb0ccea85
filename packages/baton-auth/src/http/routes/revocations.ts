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
import { feedStream, PAGE, publicEvent } from './revocation-stream.ts';

export { MAX_BEHIND_BYTES, STALLED_HEARTBEATS } from './revocation-stream.ts';

/** Open streams per client at most: a resource server needs one per instance, not one per request. */
const MAX_STREAMS_PER_CLIENT = 16;

/** A `since` this far past now is no time but a cursor: what a follower of the last release resumes with. */
const FAR_FUTURE_MS = 86_400_000;

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

/** Where the follower resumes: `after` its cursor, or the backlog in force at or after `since`. */
async function resumeFrom(c: HandlerContext, request: Request): Promise<{ after: number | undefined; since: number }> {
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
    if (head !== undefined && after > head) return { after: undefined, since: 0 };
  }
  return { after, since };
}

/** The feed as JSON: a page of events and the cursor past them. */
async function jsonPage(c: HandlerContext, after: number | undefined, since: number): Promise<Response> {
  if (after === undefined) {
    // A page of what is in force, from the start of the log; pages wholly out of force are skipped.
    let page = await backlogPage(c, 0, since);
    while (page.events.length === 0 && !page.end) page = await backlogPage(c, page.cursor, since);
    return json({ events: page.events.map(publicEvent), cursor: page.cursor });
  }
  const events = await c.baton.revocationsAfter(after, PAGE);
  return json({ events: events.map(publicEvent), cursor: events.at(-1)?.seq ?? after });
}

export function revocations(c: HandlerContext): Route {
  return {
    GET: async (request, ctx) => {
      // Wrong secrets are throttled (429) and a store outage is a 503, as at every endpoint; a public client is refused.
      const client = await authenticateClient(c, request, {}, ctx.ip ?? 'unknown');
      if (client.type !== 'confidential' || client.introspect !== true) {
        throw invalidClient('The revocation feed is for resource servers: a confidential client registered to introspect, with client_secret_basic');
      }
      const { after, since } = await resumeFrom(c, request);
      if (!(request.headers.get('accept') ?? '').includes('text/event-stream')) return jsonPage(c, after, since);
      // Stopping: no new stream (a client reconnecting on a kept-alive socket would hold the server open).
      if (c.streams.closed) throw new HttpError('ERR_SHUTTING_DOWN', 'The service is stopping', { headers: { 'retry-after': '1', connection: 'close' } });
      if (c.streams.count(client.id) >= MAX_STREAMS_PER_CLIENT) {
        throw new HttpError('ERR_RATE_LIMITED', `Client ${client.id} already has ${MAX_STREAMS_PER_CLIENT} feed streams open; one per instance is enough`, {
          headers: { 'retry-after': '5' },
        });
      }
      return feedStream(c, client.id, after, since);
    },
  };
}
