/**
 * oidc-provider on loopback for the SDK's interoperability tests: one public client `cli`,
 * refresh-token rotation, 2-second access tokens; `configure` adds to (and overrides) that, and
 * `refreshTokenFor` leaves behind what a code flow would have: a grant and a refresh token of it,
 * bound to a DPoP key when given its thumbprint.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { expect } from 'vitest';
import type { Configuration } from 'oidc-provider';

export interface StartedProvider {
  issuer: string;
  provider: Provider;
  refreshTokenFor(accountId: string, jkt?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startProvider(
  configure: Partial<Configuration> = {},
  onRequest?: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<StartedProvider> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'cli',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: ['http://127.0.0.1/cb'],
        response_types: ['code'],
      },
    ],
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    ttl: { AccessToken: 2, RefreshToken: 3600, Grant: 3600, Session: 3600, IdToken: 3600, Interaction: 3600 },
    scopes: ['openid', 'offline_access'],
    issueRefreshToken: async () => true,
    ...configure,
    features: { devInteractions: { enabled: false }, revocation: { enabled: true }, ...configure.features },
  });
  const callback = provider.callback();
  server.on('request', (req, res) => {
    onRequest?.(req, res);
    callback(req, res);
  });
  return {
    issuer,
    provider,
    async refreshTokenFor(accountId, jkt) {
      const grant = new provider.Grant({ accountId, clientId: 'cli' });
      grant.addOIDCScope('openid offline_access');
      const grantId = await grant.save();
      const client = await provider.Client.find('cli');
      const token = new provider.RefreshToken({
        accountId,
        client,
        grantId,
        scope: 'openid offline_access',
        gty: 'authorization_code',
        ...(jkt === undefined ? {} : { jkt }),
      } as never);
      return token.save();
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Calls `url` through `client` every 100 ms for `ms`, each answer a 200 for `sub`; returns how many calls it made. */
export async function keepCalling(client: { fetch(url: string): Promise<Response> }, url: string, sub: string, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let calls = 0;
  while (Date.now() < end) {
    const res = await client.fetch(url);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ sub });
    calls++;
    await new Promise((r) => setTimeout(r, 100));
  }
  return calls;
}
