/**
 * client.websocket against the service's GET /ws: re-authentication on token_expiring across
 * several token lifetimes on one socket; a revoked session ends it and signals sessionEnded.
 *
 * The service takes no clock of its own (its engine reads `Date.now`), so time here is vitest's
 * fake `Date` and `setTimeout`, installed before the service starts and moved by the test: the
 * service's clock, its WebSocket timers and the client's clock move together, and the test waits
 * only for the network.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenClient, memoryStorage } from 'baton-auth-client';
import { startTestService } from '../support/service.ts';
import type { TestService } from '../support/service.ts';
import { eventually } from '../support/eventually.ts';

const TTL_S = 60;
const NOTICE_MS = 12_000; // the service's default: 30 s, at most a fifth of the token's life

let service: TestService;
beforeAll(async () => {
  // Years away from the real time, so that nothing here can pass on the real clock.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: Date.UTC(2040, 0, 1) });
  service = await startTestService({ BATON_ACCESS_TTL: String(TTL_S), BATON_REFRESH_TTL: '3600' });
});
afterAll(async () => {
  vi.useRealTimers();
  await service.stop();
});

/** The WebSocket the client opens, recording what the server sent it and what it sent. */
function recordingWebSocket(log: string[]): typeof WebSocket {
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener('message', (e) => log.push(`← ${(JSON.parse(String(e.data)) as { type: string }).type}`));
    }

    override send(data: string): void {
      log.push(`→ ${(JSON.parse(data) as { type: string }).type}`);
      super.send(data);
    }
  };
}

describe('client.websocket', () => {
  it('keeps one socket authenticated across lifetimes; a revoked session closes it for good', async () => {
    const pair = await service.login();
    // Bearer: a DPoP proof's iat follows the server's Date header, which Node writes from the real
    // clock, not this test's fake one (DPoP sockets: test/client/dpop-baton.test.ts).
    const client = createTokenClient({ issuer: service.url, storage: memoryStorage(), dpop: false });
    await client.setTokens(pair);
    let refreshed = 0;
    const expired: string[] = [];
    client.on('refreshed', () => refreshed++);
    client.on('sessionEnded', (e) => expired.push(e.reason));
    const messages: string[] = [];
    const log: string[] = [];
    const ws = client.websocket(`${service.url.replace('http', 'ws')}/ws`, { onMessage: (d) => messages.push(String(d)), WebSocket: recordingWebSocket(log) });
    await eventually(() => log.includes('← authenticated'), { what: 'the socket to authenticate' });
    const first = ws.current;
    expect(first?.readyState).toBe(WebSocket.OPEN);
    // Each token's notice is due NOTICE_MS before its exp; the client answers at that instant.
    for (let lifetime = 1; lifetime <= 3; lifetime++) {
      await vi.advanceTimersByTimeAsync(TTL_S * 1000 - NOTICE_MS);
      await eventually(() => log.filter((l) => l === '← reauth_ok').length === lifetime, { what: `re-authentication ${lifetime}` });
    }
    // 144 s on the clock, more than two lifetimes: the same socket, never reconnected.
    expect(ws.current).toBe(first);
    expect(refreshed).toBe(3);
    ws.send('{"type":"ping"}');
    await eventually(() => messages.includes('{"type":"pong"}'), { what: 'the pong' });
    expect(first?.readyState).toBe(WebSocket.OPEN);
    expect(log).toEqual(['← authenticated', ...Array(3).fill(['← token_expiring', '→ reauth', '← reauth_ok']).flat(), '→ ping', '← pong']);

    const closed = new Promise<number>((r) => first?.addEventListener('close', (e) => r(e.code)));
    await service.server.service.baton.revokeSession(pair.session_id, 'kicked');
    expect(await closed).toBe(4401);
    await eventually(() => expired.length > 0, { what: 'sessionEnded' });
    expect(expired).toEqual(['kicked']); // the server's session_end, not a bare invalid_grant
    await vi.advanceTimersByTimeAsync(60_000); // longer than any reconnection backoff
    expect(ws.current).toBe(first); // no reconnection without a session
    ws.close();
  });
});
