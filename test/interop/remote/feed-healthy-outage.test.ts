/**
 * Red team 2 (fixed): with `maxFeedOutageMs`, a feed that connected and stays connected was
 * counted as down from the moment it connected (revocations.ts `#onState` cleared `downSince`,
 * then set it again), so every token was refused with a 503 once `maxFeedOutageMs` had passed
 * on a perfectly healthy feed.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { remoteIssuer } from 'baton-auth/remote';
import { API, mockIssuer } from './mock-issuer.ts';

let issuer: Awaited<ReturnType<typeof mockIssuer>>;
beforeAll(async () => {
  issuer = await mockIssuer({
    feed: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: ready\nid: 1\ndata: {}\n\n'); // the backlog is in, and the stream stays open
    },
  });
});
afterAll(() => issuer.close());

it('accepts tokens while the feed is connected, however long past maxFeedOutageMs', async () => {
  let clock = Date.now();
  const states: boolean[] = [];
  const v = remoteIssuer({
    issuer: issuer.url,
    audience: API,
    introspection: { clientId: 'rs', clientSecret: 's' },
    maxFeedOutageMs: 10_000,
    now: () => clock,
    onFeedState: (up) => states.push(up),
  });
  try {
    expect((await v.verify(await issuer.sign({ jti: 'a' }))).sub).toBe('ada');
    expect(states).toEqual([true]);
    clock += 60_000; // a minute of a healthy, connected feed
    expect((await v.verify(await issuer.sign({ jti: 'b' }))).sub).toBe('ada');
    expect(states).toEqual([true]);
  } finally {
    v.close();
  }
});
