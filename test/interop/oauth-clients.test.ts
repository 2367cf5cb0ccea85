/**
 * Independent OAuth 2.0 clients against the running service, with their strict defaults:
 * openid-client and oauth4webapi (discovery, refresh, revocation, introspection,
 * `client_credentials` with `client_secret_basic`), jose's remote JWKS with an API's own audience.
 *
 * Options still needed, and why:
 * - `allowInsecureRequests` (both): the service listens on plain http on loopback in this test;
 *   behind TLS, as in production, it is not needed.
 * - openid-client `algorithm: 'oauth2'`: Baton is an OAuth 2.0 authorization server (RFC 8414
 *   metadata), not an OpenID Provider, so discovery reads `oauth-authorization-server`.
 */
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clients } from 'baton-auth-server';
import { dpopKey, postWithProof } from '../support/dpop.ts';
import type { DpopKey } from '../support/dpop.ts';
import { startTestService } from '../support/service.ts';
import type { TestService } from '../support/service.ts';

const API = 'https://orders.api.test';
const RS_SECRET = 'resource-server-secret-of-32-characters-at-least';
let service: TestService;
let machineSecret: string;

beforeAll(async () => {
  service = await startTestService({ BATON_RESOURCES: API, BATON_INTROSPECTION_SECRET: RS_SECRET, BATON_REFRESH_RATE: '3/1m' });
  const made = await clients.add(service.server.service.store, 'machine', { clientCredentials: true, scopes: 'orders:sync', resources: [API] });
  machineSecret = made.secret as string;
});
afterAll(() => service.stop());

const login = async (resource?: string) => {
  const res = await fetch(`${service.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'tester', password: 'tester password 1', ...(resource ? { resource } : {}) }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { access_token: string; refresh_token: string };
};

describe('openid-client', () => {
  const configure = (id: string, auth: client.ClientAuth) =>
    client.discovery(new URL(service.url), id, undefined, auth, { algorithm: 'oauth2', execute: [client.allowInsecureRequests] });

  it('discovers, refreshes, introspects and revokes', async () => {
    const pub = await configure('default', client.None());
    expect(pub.serverMetadata().issuer).toBe(service.url);
    const pair = await login();
    const refreshed = await client.refreshTokenGrant(pub, pair.refresh_token);
    expect(refreshed.token_type).toBe('bearer'); // normalised by the library
    expect(refreshed.refresh_token).not.toBe(pair.refresh_token);

    const rs = await configure('resource-server', client.ClientSecretBasic(RS_SECRET));
    expect(await client.tokenIntrospection(rs, refreshed.access_token)).toMatchObject({ active: true, token_type: 'Bearer', client_id: 'default' });
    await client.tokenRevocation(pub, refreshed.refresh_token as string);
    expect((await client.tokenIntrospection(rs, refreshed.refresh_token as string)).active).toBe(false);
    await expect(client.refreshTokenGrant(pub, refreshed.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant', status: 400 });
  });

  it('client_credentials with client_secret_basic, for an API by its resource indicator', async () => {
    const machine = await configure('machine', client.ClientSecretBasic(machineSecret));
    const issued = await client.clientCredentialsGrant(machine, { resource: API });
    expect(issued.refresh_token).toBeUndefined();
    expect(issued.scope).toBe('orders:sync');
    const { payload } = await jwtVerify(issued.access_token, createRemoteJWKSet(new URL(`${service.url}/.well-known/jwks.json`)), {
      issuer: service.url,
      audience: API,
      typ: 'at+jwt',
    });
    expect(payload).toMatchObject({ sub: 'machine', client_id: 'machine', aud: API });
  });

  it('a rate-limited refresh surfaces as 429 slow_down and loses nothing', async () => {
    const pub = await configure('default', client.None());
    let token = (await login()).refresh_token;
    for (let i = 0; i < 3; i++) token = (await client.refreshTokenGrant(pub, token)).refresh_token as string;
    await expect(client.refreshTokenGrant(pub, token)).rejects.toMatchObject({ error: 'slow_down', status: 429 });
    const rs = await configure('resource-server', client.ClientSecretBasic(RS_SECRET));
    expect((await client.tokenIntrospection(rs, token)).active).toBe(true); // still the live token
  });
});

describe('oauth4webapi', () => {
  const insecure = { [oauth.allowInsecureRequests]: true };
  const server = async () => {
    const issuer = new URL(service.url);
    return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  };

  it('discovers, refreshes, introspects and revokes', async () => {
    const as = await server();
    const pub: oauth.Client = { client_id: 'default' };
    const pair = await login();
    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      pub,
      await oauth.refreshTokenGrantRequest(as, pub, oauth.None(), pair.refresh_token, insecure),
    );
    expect(refreshed.refresh_token).toMatch(/\.1\./);
    const rs: oauth.Client = { client_id: 'resource-server' };
    const seen = await oauth.processIntrospectionResponse(
      as,
      rs,
      await oauth.introspectionRequest(as, rs, oauth.ClientSecretBasic(RS_SECRET), refreshed.access_token, insecure),
    );
    expect(seen).toMatchObject({ active: true, sub: expect.stringMatching(/^usr_/) });
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, pub, oauth.None(), refreshed.refresh_token as string, insecure));
    await expect(
      oauth.processRefreshTokenResponse(as, pub, await oauth.refreshTokenGrantRequest(as, pub, oauth.None(), refreshed.refresh_token as string, insecure)),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('client_credentials with client_secret_basic; an API the client may not ask for is invalid_target', async () => {
    const as = await server();
    const machine: oauth.Client = { client_id: 'machine' };
    const auth = oauth.ClientSecretBasic(machineSecret);
    const issued = await oauth.processClientCredentialsResponse(
      as,
      machine,
      await oauth.clientCredentialsGrantRequest(as, machine, auth, { resource: API }, insecure),
    );
    expect(issued.token_type).toBe('bearer');
    await expect(
      oauth.processClientCredentialsResponse(
        as,
        machine,
        await oauth.clientCredentialsGrantRequest(as, machine, auth, { resource: 'https://other.api.test' }, insecure),
      ),
    ).rejects.toMatchObject({ error: 'invalid_target', status: 400 });
  });
});

/** A session bound to `key` (RFC 9449 §5): the login carries a proof by it. */
const boundLogin = async (key: DpopKey) => {
  const res = await postWithProof(key, `${service.url}/auth/login`, { username: 'tester', password: 'tester password 1' });
  expect(res.status).toBe(200);
  const pair = (await res.json()) as { access_token: string; refresh_token: string; token_type: string };
  expect(pair.token_type).toBe('DPoP');
  return pair;
};

describe('DPoP (RFC 9449) with independent clients', () => {
  it('openid-client refreshes a bound session with its key, reads a protected endpoint with the DPoP scheme, and another key gets invalid_grant', async () => {
    const config = await client.discovery(new URL(service.url), 'default', undefined, client.None(), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
    expect(config.serverMetadata().dpop_signing_alg_values_supported).toContain('ES256');
    const key = await dpopKey();
    const pair = await boundLogin(key);
    // openid-client answers use_dpop_nonce by retrying once with the nonce it was given.
    const DPoP = client.getDPoPHandle(config, { privateKey: key.privateKey, publicKey: key.publicKey });
    const refreshed = await client.refreshTokenGrant(config, pair.refresh_token, undefined, { DPoP });
    expect(refreshed.token_type).toBe('dpop');
    const me = await client.fetchProtectedResource(config, refreshed.access_token, new URL(`${service.url}/auth/me`), 'GET', undefined, undefined, { DPoP });
    expect(me.status).toBe(200);
    const thief = await dpopKey();
    const stolen = client.getDPoPHandle(config, { privateKey: thief.privateKey, publicKey: thief.publicKey });
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token as string, undefined, { DPoP: stolen })).rejects.toMatchObject({
      error: 'invalid_grant',
      status: 400,
    });
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant', status: 400 });
    expect((await client.refreshTokenGrant(config, refreshed.refresh_token as string, undefined, { DPoP })).token_type).toBe('dpop');
  });

  it('openid-client and oauth4webapi revoke a DPoP-bound refresh token without a proof (RFC 7009 asks none, neither sends one): the session ends', async () => {
    const config = await client.discovery(new URL(service.url), 'default', undefined, client.None(), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
    const key = await dpopKey();
    const DPoP = client.getDPoPHandle(config, { privateKey: key.privateKey, publicKey: key.publicKey });
    const first = await boundLogin(key);
    await client.tokenRevocation(config, first.refresh_token);
    await expect(client.refreshTokenGrant(config, first.refresh_token, undefined, { DPoP })).rejects.toMatchObject({ error: 'invalid_grant', status: 400 });

    const issuer = new URL(service.url);
    const insecure = { [oauth.allowInsecureRequests]: true };
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
    const pub: oauth.Client = { client_id: 'default' };
    const second = await boundLogin(key);
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, pub, oauth.None(), second.refresh_token, insecure));
    await expect(client.refreshTokenGrant(config, second.refresh_token, undefined, { DPoP })).rejects.toMatchObject({ error: 'invalid_grant', status: 400 });
    const sessions = await service.server.service.baton.listSessions(decodeJwt(first.access_token).sub as string);
    expect(sessions.map((s) => s.jkt)).not.toContain(key.jkt); // both sessions of the key ended
  });

  it('oauth4webapi: client_credentials and refresh with its DPoP handle, following use_dpop_nonce as its docs say', async () => {
    const issuer = new URL(service.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }));
    const retryOnNonce = async <T>(request: () => Promise<T>): Promise<T> =>
      request().catch((err: unknown) => {
        if (oauth.isDPoPNonceError(err)) return request();
        throw err;
      });
    const key = await dpopKey('EdDSA');
    const machine: oauth.Client = { client_id: 'machine' };
    const DPoP = oauth.DPoP(machine, { privateKey: key.privateKey, publicKey: key.publicKey });
    const options = { DPoP, [oauth.allowInsecureRequests]: true };
    const issued = await retryOnNonce(async () =>
      oauth.processClientCredentialsResponse(
        as,
        machine,
        await oauth.clientCredentialsGrantRequest(as, machine, oauth.ClientSecretBasic(machineSecret), { resource: API }, options),
      ),
    );
    expect(issued.token_type).toBe('dpop');
    const rs: oauth.Client = { client_id: 'resource-server' };
    const seen = await oauth.processIntrospectionResponse(
      as,
      rs,
      await oauth.introspectionRequest(as, rs, oauth.ClientSecretBasic(RS_SECRET), issued.access_token, { [oauth.allowInsecureRequests]: true }),
    );
    expect(seen).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });

    const userKey = await dpopKey();
    const pair = await boundLogin(userKey);
    const pub: oauth.Client = { client_id: 'default' };
    const userDPoP = oauth.DPoP(pub, { privateKey: userKey.privateKey, publicKey: userKey.publicKey });
    const refreshed = await retryOnNonce(async () =>
      oauth.processRefreshTokenResponse(
        as,
        pub,
        await oauth.refreshTokenGrantRequest(as, pub, oauth.None(), pair.refresh_token, { DPoP: userDPoP, [oauth.allowInsecureRequests]: true }),
      ),
    );
    expect(refreshed.token_type).toBe('dpop');
    const me = await oauth.protectedResourceRequest(refreshed.access_token, 'GET', new URL(`${service.url}/auth/me`), undefined, undefined, {
      DPoP: userDPoP,
      [oauth.allowInsecureRequests]: true,
    });
    expect(me.status).toBe(200);
  });
});

describe('jose', () => {
  it('verifies a token for an API with that API as the audience, and refuses it for another', async () => {
    const pair = await login(API);
    const jwks = createRemoteJWKSet(new URL(`${service.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(pair.access_token, jwks, { issuer: service.url, audience: API, typ: 'at+jwt' });
    expect(payload.aud).toBe(API);
    await expect(jwtVerify(pair.access_token, jwks, { issuer: service.url, audience: 'https://reports.api.test', typ: 'at+jwt' })).rejects.toMatchObject({
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'aud',
    });
  });
});
