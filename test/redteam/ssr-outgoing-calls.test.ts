/**
 * Red team, `baton-auth/ssr` remote mode: the sockets a stranger makes the app open. Each junk
 * refresh cookie is a call to the token service; 300 requests at once were 300 calls at once —
 * sockets without bound on the app, and past the service's connections per address (125 by
 * default; the app is one address for all its users) the service reset them: every user's refresh
 * failed while the flood lasted. The app now has at most 32 calls in flight; the others wait their
 * turn (within `timeoutMs`, then `unavailable`, the session kept).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerSession } from 'baton-auth/ssr';
import type { ServerSession } from 'baton-auth/ssr';
import { startTestService } from '../support/service.ts';
import type { TestService } from '../support/service.ts';

describe('calls to the service in flight', () => {
  it('300 junk refresh cookies at once: at most 32 calls in flight, each answered', async () => {
    let inFlight = 0;
    let most = 0;
    const fetcher: typeof fetch = async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return new Response(JSON.stringify({ error: 'invalid_grant' }), { status: 400, headers: { 'content-type': 'application/json' } });
    };
    const session = createServerSession({ issuer: 'http://127.0.0.1:9', clientId: 'web', fetch: fetcher });
    const outcomes = await Promise.all(Array.from({ length: 300 }, (_, i) => session.refresh(`__Host-baton_rt=junk-${i}`)));
    session.close();
    expect(most).toBe(32);
    expect([...new Set(outcomes.map((o) => o.state.status))]).toEqual(['signed-out']);
  });

  it('a call that waits past timeoutMs for its turn is the service away: unavailable, the cookies kept', async () => {
    const fetcher: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
    const session = createServerSession({ issuer: 'http://127.0.0.1:9', clientId: 'web', fetch: fetcher, timeoutMs: 200 });
    const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => session.refresh(`__Host-baton_rt=rt-${i}`)));
    session.close();
    expect(outcomes.map((o) => [o.state.status, o.setCookies.length])).toEqual(Array.from({ length: 40 }, () => ['unavailable', 0]));
  });
});

describe('against the service', () => {
  let service: TestService;
  let session: ServerSession;
  beforeAll(async () => {
    service = await startTestService({}, { username: 'ada', password: 'ada password 1' });
    session = createServerSession({ issuer: service.url, clientId: 'default' });
  });
  afterAll(async () => {
    session?.close();
    await service?.stop();
  });

  it("300 junk refresh cookies at once: each signed out, none reset by the service's cap, and a user's refresh right after works", async () => {
    const ok = await session.signIn({ username: 'ada', password: 'ada password 1' });
    const rt = ok.setCookies.find((c) => c.startsWith('__Host-baton_rt='))?.split(';')[0] as string;
    const [junk, mine] = await Promise.all([
      Promise.all(Array.from({ length: 300 }, (_, i) => session.refresh(`__Host-baton_rt=junk-${i}`))),
      session.refresh(rt),
    ]);
    expect([...new Set(junk.map((o) => o.state.status))]).toEqual(['signed-out']);
    expect(mine.state.status).toBe('signed-in');
  });
});
