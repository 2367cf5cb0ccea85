/**
 * Red team, the end of RP-initiated logout as a redirector. Anyone who registers a client (RFC 7591)
 * names its own `post_logout_redirect_uris`; `/oauth/end-session?client_id=<theirs>&post_logout_redirect_uri=<phish>`
 * shows this issuer's "Sign out?" page under the name the client chose, and one click on it sends
 * the browser to the phishing page. As on the consent page, the user must see where the button sends
 * them: the host of the post-logout redirect URI.
 */
import { describe, expect, it } from 'vitest';
import { createAuthHandler } from 'baton-auth/http';
import { ISSUER, makeBaton } from '../support/baton.ts';
import { keepingClients } from '../support/authz.ts';

describe("the sign-out confirmation of a registered client's logout", () => {
  it('names the host the browser goes to afterwards', async () => {
    const { baton } = makeBaton();
    const clients = keepingClients();
    const handler = createAuthHandler({ baton, authenticate: async () => null, clients, authorization: { registration: { maxClients: 10 } } });
    const call = (path: string, init: RequestInit = {}) => handler(new Request(`${ISSUER}${path}`, init), { ip: '203.0.113.1' });
    const reg = await call('/oauth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: ['https://phish.example/cb'],
        post_logout_redirect_uris: ['https://phish.example/out'],
        token_endpoint_auth_method: 'none',
        client_name: 'auth.test',
      }),
    });
    const { client_id } = (await reg.json()) as { client_id: string };
    const page = await call(`/oauth/end-session?${new URLSearchParams({ client_id, post_logout_redirect_uri: 'https://phish.example/out' })}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Sign out?');
    expect(html).toMatch(/<strong>phish\.example<\/strong>/);
  });
});
