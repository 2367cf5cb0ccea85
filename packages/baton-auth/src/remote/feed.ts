/**
 * Following a Baton service's revocation feed (`GET /oauth/revocations`, Server-Sent Events): one
 * long request, resumed after any drop from the last event's id, so a reconnect misses nothing.
 * Written by hand: the browser's `EventSource` cannot send client credentials, and the stream
 * format is a few lines (WHATWG HTML §9.2).
 */

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
  /** Told when the stream is (re)connected and when it drops. */
  onState?(connected: boolean): void;
}

/** Follows the feed until `close()`; reconnects with a capped backoff, from the last cursor. */
export function followFeed(o: FeedOptions): { close(): void } {
  const abort = new AbortController();
  let cursor = 0;
  let failures = 0;
  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      try {
        const url = new URL(o.url);
        url.searchParams.set('since', String(cursor));
        const res = await o.fetch(url, { headers: { accept: 'text/event-stream', authorization: o.authorization }, signal: abort.signal, redirect: 'manual' });
        if (!res.ok || res.body === null) throw new Error(`the feed answered ${res.status}`);
        o.onState?.(true);
        const opened = Date.now();
        let buffer = '';
        let id: string | undefined;
        let data = '';
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let newline: number;
          while ((newline = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, newline).replace(/\r$/, '');
            buffer = buffer.slice(newline + 1);
            if (line === '') {
              if (data !== '') {
                failures = 0; // a stream that delivers is a good one
                try {
                  o.onEvent(JSON.parse(data) as FeedEvent);
                } catch {
                  // not an event of ours
                }
                if (id !== undefined && Number(id) > cursor) cursor = Number(id);
              }
              data = '';
              id = undefined;
            } else if (line.startsWith('data:')) data += line.slice(5).trimStart();
            else if (line.startsWith('id:')) id = line.slice(3).trim();
          }
        }
        if (Date.now() - opened > 5000) failures = 0; // it held: reconnect at once, from the cursor
      } catch {
        // dropped, refused, or closed: try again below
      }
      o.onState?.(false);
      if (abort.signal.aborted) return;
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** failures++)).unref?.());
    }
  };
  void run();
  return { close: () => abort.abort() };
}
