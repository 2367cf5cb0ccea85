/**
 * The revocation feed as Server-Sent Events (`GET /oauth/revocations`, `revocations.ts`): the
 * backlog, `ready`, then each revocation as it is committed, paced by its reader. A reader that does
 * not read holds at most `MAX_BEHIND_BYTES`, then the stream is dropped; so is one that has taken
 * nothing for `STALLED_HEARTBEATS` heartbeats while something is queued. Its follower resumes from
 * its cursor, so dropping loses nothing.
 */
import type { RevocationEvent } from '../../core/store.ts';
import type { HandlerContext } from '../context.ts';

/** How often an idle stream sends a comment, so that proxies keep it open (and the log is read again). */
const HEARTBEAT_MS = 15_000;

/** Revocations read from the store at a time, and sent as one chunk. */
export const PAGE = 500;
/** Bytes a stream keeps queued for its reader before it stops reading the store. */
const HIGH_WATER_BYTES = 64 * 1024;
/** Bytes of revocations a stream may fall behind a reader that takes nothing; past it the stream is dropped. */
export const MAX_BEHIND_BYTES = 1024 * 1024;

/** Heartbeats in a row with data queued and nothing taken, after which a stream is dropped (a stalled reader). */
export const STALLED_HEARTBEATS = 4;

/** What a verifier needs of an event. */
export const publicEvent = (e: RevocationEvent) => ({ kind: e.kind, id: e.id, at: e.at, expiresAt: e.expiresAt });
const sse = (e: RevocationEvent): string => `${e.seq === undefined ? '' : `id: ${e.seq}\n`}event: revocation\ndata: ${JSON.stringify(publicEvent(e))}\n\n`;

/** One stream of the feed: its pump, its bounds and its end. */
class Feed {
  readonly #encoder = new TextEncoder();
  #closed = false;
  #stop = (): void => undefined;
  // The pump waits for a reason to go on: the reader took something (pull), or a revocation came.
  #pending = false;
  #resume: (() => void) | undefined;
  // Bytes of revocations that came while the queue was full, since the reader last took something.
  #behind = 0;
  // Heartbeats in a row that found data queued and nothing taken since the last one.
  #stalled = 0;
  #recheck: ReturnType<typeof setTimeout> | undefined;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  readonly #c: HandlerContext;
  readonly #clientId: string;
  /** The follower's cursor, or undefined: the backlog in force (at or after `since`). */
  readonly #after: number | undefined;
  readonly #since: number;

  constructor(c: HandlerContext, clientId: string, after: number | undefined, since: number) {
    this.#c = c;
    this.#clientId = clientId;
    this.#after = after;
    this.#since = since;
  }

  get #desired(): number {
    return this.#controller.desiredSize ?? 0;
  }

  #wake(): void {
    this.#pending = true;
    const r = this.#resume;
    this.#resume = undefined;
    r?.();
  }

  #signal(): Promise<void> {
    return new Promise((r) => (this.#resume = r));
  }

  #drop(why: string): void {
    if (this.#closed) return;
    this.#stop();
    try {
      this.#controller.error(new Error(why));
    } catch {
      // already closed
    }
  }

  #send(text: string): void {
    try {
      this.#controller.enqueue(this.#encoder.encode(text));
    } catch {
      this.#stop(); // the stream was closed
    }
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
    const unsubscribe = this.#c.baton.onRevocation((e) => {
      // A reader that takes nothing while revocations keep coming is dropped past the bound.
      if (this.#desired <= 0) {
        this.#behind += sse(e).length;
        if (HIGH_WATER_BYTES + this.#behind > MAX_BEHIND_BYTES)
          return this.#drop('the follower does not read the revocation feed: dropped, it resumes from its cursor');
      }
      this.#wake(); // the event itself is read from the log, in commit order, after the cursor
    });
    const heartbeat = setInterval(() => {
      // A reader that takes nothing of what is queued holds it: dropped after a while, it resumes from its cursor.
      this.#stalled = this.#desired < HIGH_WATER_BYTES ? this.#stalled + 1 : 0;
      if (this.#stalled >= STALLED_HEARTBEATS) {
        return this.#drop('the follower took nothing from the revocation feed: dropped, it resumes from its cursor');
      }
      if (this.#desired > 0) this.#send(': ping\n\n');
      this.#wake(); // and read the log again: a revocation whose message came before its log entry (Redis Cluster)
    }, HEARTBEAT_MS);
    heartbeat.unref?.();
    const unregister = this.#c.streams.add(() => {
      this.#stop();
      try {
        controller.close();
      } catch {
        // already closed
      }
    }, this.#clientId);
    this.#stop = () => {
      this.#closed = true;
      unsubscribe();
      clearInterval(heartbeat);
      clearTimeout(this.#recheck);
      unregister();
      this.#wake();
    };
    this.#send(': baton revocation feed\n\n');
    // The store away: the stream ends and the follower reconnects, from its cursor.
    this.#pump().catch(() => this.#drop('the store is unavailable'));
  }

  pull(): void {
    this.#behind = 0;
    this.#stalled = 0;
    this.#wake();
  }

  cancel(): void {
    this.#stop();
  }

  /**
   * Sends the log after the cursor as the reader takes it. Without a cursor: the log from its start,
   * page by page in commit order, only what is still in force (at or after `since`) until `ready`;
   * never the whole backlog at once.
   */
  async #pump(): Promise<void> {
    let cursor = this.#after ?? 0;
    let ready = false;
    while (!this.#closed) {
      if (this.#desired <= 0) {
        await this.#signal(); // back-pressure: the reader has not taken what is queued
        continue;
      }
      const woken = this.#pending;
      this.#pending = false;
      const page = await this.#c.baton.revocationsAfter(cursor, PAGE);
      if (this.#closed) return;
      if (page.length > 0) {
        const now = Date.now();
        const events = this.#after === undefined && !ready ? page.filter((e) => e.expiresAt > now && e.at >= this.#since) : page;
        if (events.length > 0) this.#send(events.map(sse).join(''));
        cursor = page.at(-1)?.seq ?? cursor;
        continue;
      }
      if (!ready) {
        ready = true;
        this.#send(`id: ${cursor}\nevent: ready\ndata: {}\n\n`); // the backlog is in: a follower may trust what it holds
      } else if (woken) this.#recheckSoon();
      if (!this.#pending) await this.#signal();
    }
  }

  /** Woken but nothing logged yet (a message can precede its log entry): look again shortly. */
  #recheckSoon(): void {
    if (this.#recheck !== undefined) return;
    this.#recheck = setTimeout(() => {
      this.#recheck = undefined;
      this.#wake();
    }, 1000);
    this.#recheck.unref?.();
  }
}

/** The feed's answer as Server-Sent Events for `clientId`, from `after` (or the backlog in force at or after `since`). */
export function feedStream(c: HandlerContext, clientId: string, after: number | undefined, since: number): Response {
  const feed = new Feed(c, clientId, after, since);
  const body = new ReadableStream<Uint8Array>(
    {
      start: (controller) => feed.start(controller),
      pull: () => feed.pull(),
      cancel: () => feed.cancel(),
    },
    { highWaterMark: HIGH_WATER_BYTES, size: (chunk) => chunk.byteLength },
  );
  return new Response(body, { headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' } });
}
