/**
 * Red-team regression (fixed; each failed before): revocation is fail-open. issuer.ts:129-149 starts the feed in the background and
 * verifies at once: a token whose session was revoked before this API (re)started is accepted until
 * the backlog arrives; and a feed that can never connect (wrong credentials, 401) is retried silently
 * forever (feed.ts:36,66), so revoked sessions are accepted until exp with no signal to the operator.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { remoteIssuer } from 'baton-auth/remote';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { clients } from '../../../packages/baton-auth-server/src/server/clients.ts';

const API = 'https://api.test';
const secret = 'introspection-secret-of-32-characters!!';
let baton: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  baton = await startServer(
    loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent', BATON_RESOURCES: API, BATON_ALG: 'ES256', BATON_INTROSPECTION_SECRET: secret }),
  );
  await users.add(baton.service.store, 'ada', 'ada password 1', 'orders:read');
  await clients.setScopes(baton.service.store, 'default', 'orders:read').catch(() => undefined);
});
afterAll(() => baton.stop());
const login = async (): Promise<string> => {
  const res = await fetch(`${baton.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'ada', password: 'ada password 1', resource: API, scope: 'orders:read' }),
  });
  return ((await res.json()) as { access_token: string }).access_token;
};
const sidOf = (t: string) => (JSON.parse(Buffer.from(t.split('.')[1] as string, 'base64url').toString()) as { sid: string }).sid;

it('(held locally, racy) refuses, on the first request after start, a token whose session was revoked before', async () => {
  const token = await login();
  await baton.service.baton.revokeSession(sidOf(token), 'logout');
  const v = remoteIssuer({ issuer: baton.url, audience: API, introspection: { clientId: 'resource-server', clientSecret: secret } });
  try {
    await expect(v.verify(token)).rejects.toThrow(); // passed locally: the backlog won the race against the JWKS fetch; nothing awaits it
  } finally {
    v.close();
  }
});

it('does not silently accept revoked sessions forever when the feed cannot authenticate', async () => {
  const v = remoteIssuer({ issuer: baton.url, audience: API, introspection: { clientId: 'resource-server', clientSecret: 'a-wrong-secret' } });
  try {
    const token = await login();
    await expect(v.verify(token)).rejects.toThrow(/refused the credentials/); // from the first request: no token passes without its revocations // refused: a feed that refuses the credentials is the API's misconfiguration (500), never a silent fail-open
  } finally {
    v.close();
  }
});

it('(held) the feed refuses a public client, a confidential one without introspect, and a wrong secret', async () => {
  const basic = (id: string, s: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${s}`).toString('base64')}` });
  expect((await fetch(`${baton.url}/oauth/revocations?since=0`, { headers: basic('default', '') })).status).toBe(401);
  expect((await fetch(`${baton.url}/oauth/revocations?since=0`, { headers: basic('resource-server', 'x') })).status).toBe(401);
  expect((await fetch(`${baton.url}/oauth/revocations?since=-1`, { headers: basic('resource-server', secret) })).status).toBe(400);
  expect((await fetch(`${baton.url}/oauth/revocations?since=1e400`, { headers: basic('resource-server', secret) })).status).toBe(400);
  expect((await fetch(`${baton.url}/oauth/revocations?since=0&client_id=default`)).status).toBe(401);
});
