/**
 * Interoperability: the client keeps a session alive against a standard OAuth 2.0 / OpenID
 * server that is not Baton — `oidc-provider`, with refresh-token rotation and 2-second access
 * tokens — using only the server's discovery document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenClient, memoryStorage } from 'baton-auth-client';
import { keepCalling, startProvider } from '../support/oidc-provider.ts';
import type { StartedProvider } from '../support/oidc-provider.ts';

let op: StartedProvider;
let issuer = '';
beforeAll(async () => {
  op = await startProvider();
  issuer = op.issuer;
});
afterAll(() => op.close());

describe('against oidc-provider (not Baton)', () => {
  it('keeps a session alive across several access-token lifetimes, rotating refresh tokens', async () => {
    const rotated: string[] = [];
    op.provider.on('refresh_token.consumed', (token: { jti: string }) => rotated.push(token.jti));
    const client = createTokenClient({ issuer, clientId: 'cli', storage: memoryStorage() });
    let refreshed = 0;
    const expired: string[] = [];
    client.on('refreshed', () => refreshed++);
    client.on('sessionEnded', (e) => expired.push(e.reason));
    await client.setTokens({ access_token: 'none-yet', expires_in: 0, refresh_token: await op.refreshTokenFor('alice') });
    const calls = await keepCalling(client, `${issuer}/me`, 'alice', 7000); // three and a half lifetimes of 2 s
    expect(calls).toBeGreaterThan(20);
    expect(refreshed).toBeGreaterThanOrEqual(3);
    expect(rotated.length).toBe(refreshed); // every refresh consumed (rotated) the previous refresh token
    expect(expired).toEqual([]);
  }, 20_000);
});
