/**
 * Red team, first-party spoofing on the consent page. A client's name is whatever its registrant
 * wrote (RFC 7591 `client_name`, a metadata document's): anyone registers "Account security" or
 * the service's own name. The page must also say where "Allow" sends the user — the redirect URI's
 * host, which the registrant cannot choose to be someone else's, since the code goes there.
 */
import { generateKey } from 'baton-auth';
import { describe, expect, it } from 'vitest';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { ISSUER, makeBaton } from '../support/baton.ts';
import { Browser, CLIENTS, keepingClients, pkce, txnOf } from '../support/authz.ts';

async function consentPage(redirectUri: string): Promise<string> {
  const { baton } = makeBaton({ keys: [generateKey('EdDSA', 'ed-1')] }); // asymmetric: openid gets an ID token
  const fixed = staticClients(CLIENTS);
  const clients = keepingClients(fixed);
  const handler = createAuthHandler({
    baton,
    authenticate: async (u, p) => (p === 'pw' ? { userId: `id-${u}` } : null),
    clients,
    authorization: { registration: { maxClients: 10 } },
  });
  const call = (path: string, init: RequestInit = {}) => handler(new Request(`${ISSUER}${path}`, init), { ip: '203.0.113.1' });
  const reg = await call('/oauth/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [redirectUri], token_endpoint_auth_method: 'none', client_name: 'auth.test account settings' }),
  });
  const { client_id } = (await reg.json()) as { client_id: string };
  const query = new URLSearchParams({
    client_id,
    redirect_uri: redirectUri,
    response_type: 'code',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
  });
  const b = new Browser(call);
  const page = await b.get(`/oauth/authorize?${query}`);
  const consent = await b.post('/oauth/authorize/sign-in', { txn: txnOf(await page.text()), username: 'alice', password: 'pw' });
  expect(consent.status).toBe(200);
  return consent.text();
}

describe('the consent page of a registered client', () => {
  it('names the host Allow sends the user to, beside the name the client chose', async () => {
    const html = await consentPage('https://collect.evil.example/cb');
    expect(html).toContain('auth.test account settings');
    expect(html).toMatch(/<strong>collect\.evil\.example<\/strong>/);
  });

  it('names the app scheme of a native client, and a loopback one as an app on this device', async () => {
    expect(await consentPage('com.evil.app:/cb')).toMatch(/<strong>com\.evil\.app<\/strong>/);
    expect(await consentPage('http://127.0.0.1/cb')).toMatch(/an app on this device/);
  });
});
