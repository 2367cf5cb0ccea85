/**
 * Following a Baton service's revocation feed (`GET /oauth/revocations`, Server-Sent Events): one
 * long request, resumed after any drop from the last event's id (`?after=`), so a reconnect misses
 * nothing. The id is an opaque cursor the issuer's store assigns in commit order: kept as sent,
 * never compared or read as a time.
 * The stream (WHATWG HTML §9.2) is read by `eventsource-parser`, not the browser's `EventSource`,
 * which cannot send client credentials; a line or an event past 64 KiB drops the stream.
 */
import { createParser } from 'eventsource-parser';
import type { EventSourceMessage } from 'eventsource-parser';

/** A revocation as the feed tells it. */
export interface FeedEvent {
  kind: 'session' | 'token' | 'key';
  id: string;
  at: number;
  expiresAt: number;
}

export interface FeedOptions {
  url: string;
  authorization: string;
  fetch: typeof fetch;
  onEvent(event: FeedEvent): void;
  /** Told when the stream is connected and has sent its backlog (`ready`), and when it drops or is refused (with why). */
  onState?(connected: boolean, error?: Error): void;
  /** The wait before reconnecting after the n-th failure in a row, ms. Default 250 · 2ⁿ, at most 5 s. */
  backoffMs?(failures: number): number;
  /** The longest silence a stream may keep before it is dropped and followed again, ms. Default 45 s (`IDLE_MS`). */
  idleMs?: number;
}

/** The feed refused the credentials: a configuration mistake, not an outage. */
export class FeedRefusedError extends Error {}

/** Longest line or event the feed may send: a stream past it is dropped (a broken or hostile issuer). */
const MAX_LINE = 64 * 1024;
/**
 * The longest a stream may send nothing: the issuer writes a comment every 15 s, so three missed
 * in a row are a half-open connection or a proxy holding the stream. Without this bound a silent
 * stream would pass for a connected one — no revocation arrives, and `maxFeedOutageMs` never starts.
 */
const IDLE_MS = 45_000;
const KINDS = new Set(['session', 'token', 'key']);

/** An event of the shape the feed promises, or undefined. */
function feedEvent(data: string): FeedEvent | undefined {
  let e: Partial<FeedEvent>;
  try {
    e = JSON.parse(data) as Partial<FeedEvent>;
  } catch {
    return undefined;
  }
  const ok =
    typeof e === 'object' &&
    e !== null &&
    KINDS.has(e.kind as string) &&
    typeof e.id === 'string' &&
    e.id.length > 0 &&
    e.id.length <= 512 &&
    Number.isFinite(e.at) &&
    Number.isFinite(e.expiresAt);
  return ok ? (e as FeedEvent) : undefined;
}

/**
 * The length of the line still open at the end of `text`, given the one open before it. Bounded
 * here, apart from the parser's own buffer: the parser drops a line that can be no field without
 * buffering it, and a feed sending one endlessly must be dropped, not read forever.
 */
function openLine(before: number, text: string): number {
  const end = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
  return end === -1 ? before + text.length : text.length - end - 1;
}

/** The next chunk of `chunks`, or an error once `idleMs` passed without one. */
async function nextChunk(chunks: AsyncIterator<Uint8Array>, idleMs: number): Promise<IteratorResult<Uint8Array>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the revocation feed sent nothing for ${idleMs} ms`)), idleMs);
    timer.unref?.(); // a follower alone keeps no process alive
  });
  try {
    return await Promise.race([chunks.next(), silent]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads one stream to its end through `eventsource-parser`, each message to `onMessage`; throws on
 * a line or an event past `MAX_LINE`, or after `idleMs` of silence.
 */
async function readStream(body: AsyncIterable<Uint8Array>, onMessage: (message: EventSourceMessage) => void, idleMs: number): Promise<void> {
  let oversized = false;
  const parser = createParser({
    maxBufferSize: MAX_LINE, // the open line and the event's data so far
    onEvent: onMessage,
    onError: (err) => {
      if (err.type === 'max-buffer-size-exceeded') oversized = true;
    },
  });
  const decoder = new TextDecoder();
  let open = 0;
  const chunks = body[Symbol.asyncIterator]();
  try {
    for (let next = await nextChunk(chunks, idleMs); next.done !== true; next = await nextChunk(chunks, idleMs)) {
      const text = decoder.decode(next.value, { stream: true });
      open = openLine(open, text);
      if (open > MAX_LINE) throw new Error('the revocation feed sent an oversized line');
      parser.feed(text);
      if (oversized) throw new Error('the revocation feed sent an oversized event');
    }
  } catch (err) {
    chunks.return?.()?.catch(() => undefined); // the stream is cancelled, its connection closed
    throw err;
  }
}

/**
 * Follows the feed until `close()`; reconnects with a capped backoff, after the last cursor.
 * `restart()` drops the stream and starts again from the whole backlog (every revocation in force).
 */
export function followFeed(o: FeedOptions): { close(): void; restart(): void } {
  const abort = new AbortController();
  let request: AbortController | undefined;
  let cursor: string | undefined;
  let failures = 0;
  const onMessage = ({ event: type = 'message', id, data }: EventSourceMessage): void => {
    if (type === 'ready') {
      if (id !== undefined && id !== '') cursor = id;
      failures = 0; // connected, and the backlog is in
      o.onState?.(true);
    } else if ((type === 'revocation' || type === 'message') && data !== '') {
      const event = feedEvent(data);
      if (event !== undefined) o.onEvent(event);
      if (id !== undefined && id !== '') cursor = id; // after the event is applied
    }
  };
  /** One connection, read until it ends: why it ended. */
  const connect = async (): Promise<Error> => {
    try {
      const url = new URL(o.url);
      if (cursor !== undefined) url.searchParams.set('after', cursor);
      request = new AbortController();
      const signal = AbortSignal.any([abort.signal, request.signal]);
      const res = await o.fetch(url, { headers: { accept: 'text/event-stream', authorization: o.authorization }, signal, redirect: 'manual' });
      if (res.status === 401 || res.status === 403)
        throw new FeedRefusedError(`the revocation feed refused the credentials (${res.status}): use a confidential client registered to introspect`);
      if (!res.ok || res.body === null) throw new Error(`the revocation feed answered ${res.status}`);
      const opened = Date.now();
      await readStream(res.body as unknown as AsyncIterable<Uint8Array>, onMessage, o.idleMs ?? IDLE_MS);
      if (Date.now() - opened > 5000) failures = 0; // it held: reconnect at once, from the cursor
      return new Error('the revocation feed closed');
    } catch (err) {
      request?.abort(); // nothing more is read from this connection
      return err as Error; // dropped, refused, oversized, silent: try again
    }
  };
  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      const why = await connect();
      if (abort.signal.aborted) return;
      o.onState?.(false, why);
      const wait = o.backoffMs?.(failures) ?? Math.min(5000, 250 * 2 ** failures);
      failures++;
      await new Promise((r) => setTimeout(r, wait).unref?.());
    }
  };
  void run();
  return {
    close: () => abort.abort(),
    restart: () => {
      cursor = undefined;
      failures = 0;
      request?.abort();
    },
  };
}
