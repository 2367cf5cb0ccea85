/**
 * Interoperability: the client keeps a session alive against a standard OAuth 2.0 / OpenID
 * server that is not Baton — `oidc-provider`, with refresh-token rotation and 2-second access
 * tokens — using only the server's discovery document.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenClient, memoryStorage } from 'baton-auth-client';

const server = createServer();
let issuer = '';
let provider: Provider;

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  provider = new Provider(issuer, {
    clients: [{ client_id: 'cli', token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['http://127.0.0.1/cb'], response_types: ['code'] }],
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    ttl: { AccessToken: 2, RefreshToken: 3600, Grant: 3600, Session: 3600, IdToken: 3600, Interaction: 3600 },
    scopes: ['openid', 'offline_access'],
    issueRefreshToken: async () => true,
    features: { devInteractions: { enabled: false }, revocation: { enabled: true } },
  });
  server.on('request', provider.callback());
});
afterAll(() => server.close());

async function refreshTokenFor(accountId: string): Promise<string> {
  // What a code flow would have left behind: a grant and a refresh token of it.
  const grant = new provider.Grant({ accountId, clientId: 'cli' });
  grant.addOIDCScope('openid offline_access');
  const grantId = await grant.save();
  const client = await provider.Client.find('cli');
  const token = new provider.RefreshToken({ accountId, client, grantId, scope: 'openid offline_access', gty: 'authorization_code' } as never);
  return token.save();
}

describe('against oidc-provider (not Baton)', () => {
  it('keeps a session alive across several access-token lifetimes, rotating refresh tokens', async () => {
    const rotated: string[] = [];
    provider.on('refresh_token.consumed', (token: { jti: string }) => rotated.push(token.jti));
    const client = createTokenClient({ issuer, clientId: 'cli', storage: memoryStorage() });
    let refreshed = 0;
    const expired: string[] = [];
    client.on('refreshed', () => refreshed++);
    client.on('sessionExpired', (e) => expired.push(e.reason));
    await client.setTokens({ access_token: 'none-yet', expires_in: 0, refresh_token: await refreshTokenFor('alice') });
    const end = Date.now() + 7000; // three and a half lifetimes of 2 s
    let calls = 0;
    while (Date.now() < end) {
      const res = await client.fetch(`${issuer}/me`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ sub: 'alice' });
      calls++;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(calls).toBeGreaterThan(20);
    expect(refreshed).toBeGreaterThanOrEqual(3);
    expect(rotated.length).toBe(refreshed); // every refresh consumed (rotated) the previous refresh token
    expect(expired).toEqual([]);
  }, 20_000);
});
