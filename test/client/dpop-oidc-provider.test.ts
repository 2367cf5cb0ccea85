/**
 * Interoperability of the SDK's DPoP (RFC 9449) with a server that is not Baton: `oidc-provider`
 * with `features.dPoP` on and nonces required (`requireNonce`), refresh-token rotation and
 * 2-second access tokens. The SDK finds DPoP in the discovery document, refreshes a refresh token
 * bound to its key (oidc-provider checks `jkt` on every refresh), and calls the userinfo endpoint
 * with the bound access token (`Authorization: DPoP` and a proof with `ath`).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenClient, memoryStorage } from 'baton-auth-client';
import { keepCalling, startProvider } from '../support/oidc-provider.ts';
import type { StartedProvider } from '../support/oidc-provider.ts';

let op: StartedProvider;
let issuer = '';
/** What came to the provider: path, status, the Authorization scheme, whether a proof came. */
const seen: { path: string; status: number; scheme: string | undefined; proof: boolean }[] = [];

beforeAll(async () => {
  op = await startProvider(
    {
      // oidc-provider does not rotate a sender-constrained refresh token by default (RFC 9449 §5
      // allows that); rotated here, so that every refresh also hands the SDK a new bound one.
      rotateRefreshToken: () => true,
      // Nonces everywhere (§8, §9): the SDK must follow use_dpop_nonce at the token endpoint and at userinfo.
      features: { dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true } },
    },
    (req, res) =>
      res.on('finish', () =>
        seen.push({
          path: (req.url ?? '').split('?')[0] as string,
          status: res.statusCode,
          scheme: req.headers.authorization?.split(' ')[0],
          proof: req.headers.dpop !== undefined,
        }),
      ),
  );
  issuer = op.issuer;
});
afterAll(() => op.close());

/** What a code flow with DPoP would have left behind: a grant and a refresh token bound to `jkt`. */
const boundRefreshToken = (accountId: string, jkt: string): Promise<string> => op.refreshTokenFor(accountId, jkt);

describe('DPoP against oidc-provider (not Baton)', () => {
  it('refreshes a bound refresh token across several lifetimes and calls userinfo with the bound access token', async () => {
    const rotated: string[] = [];
    op.provider.on('refresh_token.consumed', (token: { jti: string }) => rotated.push(token.jti));
    const client = createTokenClient({ issuer, clientId: 'cli', storage: memoryStorage() });
    const jkt = await client.dpopThumbprint();
    expect(jkt).toMatch(/^[\w-]{43}$/); // the discovery document lists ES256
    let refreshed = 0;
    const expired: string[] = [];
    const errors: string[] = [];
    client.on('refreshed', () => refreshed++);
    client.on('sessionEnded', (e) => expired.push(e.reason));
    client.on('error', (e) => errors.push(e.message));
    await client.setTokens({ access_token: 'none-yet', expires_in: 0, refresh_token: await boundRefreshToken('alice', jkt as string) });
    const calls = await keepCalling(client, `${issuer}/me`, 'alice', 5000); // two and a half lifetimes of 2 s
    expect(errors).toEqual([]);
    expect(expired).toEqual([]);
    expect(calls).toBeGreaterThan(15);
    expect(refreshed).toBeGreaterThanOrEqual(2);
    expect(rotated.length).toBe(refreshed);
    const tokens = seen.filter((s) => s.path === '/token');
    const userinfo = seen.filter((s) => s.path === '/me');
    expect(tokens.every((s) => s.proof)).toBe(true);
    // The first refresh learnt the nonce (one use_dpop_nonce), and every answer carried the next one.
    expect(tokens.filter((s) => s.status === 400).length).toBe(1);
    expect(tokens.filter((s) => s.status === 200).length).toBe(refreshed);
    expect(userinfo.every((s) => s.scheme === 'DPoP' && s.proof)).toBe(true);
    expect(userinfo.filter((s) => s.status === 200).length).toBe(calls);
  }, 20_000);

  it('the bound refresh token does not refresh with another key (failed jkt verification → sessionEnded)', async () => {
    const owner = createTokenClient({ issuer, clientId: 'cli', storage: memoryStorage() });
    const refreshToken = await boundRefreshToken('bob', (await owner.dpopThumbprint()) as string);
    const thief = createTokenClient({ issuer, clientId: 'cli', storage: memoryStorage() });
    expect(await thief.dpopThumbprint()).not.toBe(await owner.dpopThumbprint());
    const expired: string[] = [];
    thief.on('sessionEnded', (e) => expired.push(e.reason));
    await thief.setTokens({ access_token: 'x', expires_in: 0, refresh_token: refreshToken });
    await expect(thief.refresh()).rejects.toMatchObject({ code: 'ERR_SESSION_ENDED' });
    expect(expired).toEqual(['invalid_grant']);
    // The owner, with the key, refreshes it.
    await owner.setTokens({ access_token: 'x', expires_in: 0, refresh_token: refreshToken });
    expect((await owner.refresh()).tokenType).toBe('DPoP');
  });
});
