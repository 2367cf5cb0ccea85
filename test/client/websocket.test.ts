/**
 * client.websocket against the service's GET /ws: re-authentication on token_expiring across
 * several token lifetimes on one socket; a revoked session ends it and signals sessionExpired.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenClient, memoryStorage } from 'baton-auth-client';
import { startTestService } from '../support/service.ts';
import type { TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService({ BATON_ACCESS_TTL: '3', BATON_REFRESH_TTL: '60' });
});
afterAll(() => service.stop());

describe('client.websocket', () => {
  it('keeps one socket authenticated across lifetimes; a revoked session closes it for good', async () => {
    const pair = await service.login();
    const client = createTokenClient({ issuer: service.url, storage: memoryStorage() });
    await client.setTokens(pair);
    let refreshed = 0;
    const expired: string[] = [];
    client.on('refreshed', () => refreshed++);
    client.on('sessionExpired', (e) => expired.push(e.reason));
    const messages: string[] = [];
    const ws = client.websocket(`${service.url.replace('http', 'ws')}/ws`, { onMessage: (d) => messages.push(String(d)) });
    await new Promise((r) => setTimeout(r, 500));
    const first = ws.current;
    expect(first?.readyState).toBe(WebSocket.OPEN);
    await new Promise((r) => setTimeout(r, 7000)); // more than two lifetimes of 3 s
    expect(ws.current).toBe(first); // the same socket, never reconnected
    expect(first?.readyState).toBe(WebSocket.OPEN);
    expect(refreshed).toBeGreaterThanOrEqual(2);
    ws.send('{"type":"ping"}');
    await new Promise((r) => setTimeout(r, 200));
    expect(messages).toContain('{"type":"pong"}');

    const closed = new Promise<number>((r) => first?.addEventListener('close', (e) => r(e.code)));
    await service.server.service.baton.revokeSession(pair.session_id, 'kicked');
    expect(await closed).toBe(4401);
    await new Promise((r) => setTimeout(r, 500));
    expect(expired).toEqual(['invalid_grant']);
    expect(ws.current).toBe(first); // no reconnection without a session
    ws.close();
  }, 20_000);
});
