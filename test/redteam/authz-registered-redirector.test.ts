/**
 * Red team, the authorization server as an open redirector (RFC 9700 §4.11.2). With open
 * registration (RFC 7591) anyone registers a client whose redirect URI is their phishing page,
 * then hands out `https://<issuer>/oauth/authorize?client_id=<theirs>&redirect_uri=<phish>` with a
 * deliberate error (no `response_type`, a bad scope) or `prompt=none`: the browser is sent on at
 * once, under the issuer's trusted name, before anyone signed in. §4.11.2: "The authorization
 * server MUST always authenticate the user first ... before redirecting the user." So an error for
 * a third-party client (not `firstParty`: the registered ones always are) is the error page until
 * the browser's user is signed in; a first-party client's errors are redirected as before.
 */
import { generateKey } from 'baton-auth';
import { describe, expect, it } from 'vitest';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { ISSUER, makeBaton } from '../support/baton.ts';
import { Browser, CB, CLIENTS, keepingClients, pkce, txnOf } from '../support/authz.ts';

const PHISH = 'https://phish.example/login';

function setup() {
  const { baton } = makeBaton({ keys: [generateKey('EdDSA', 'ed-1')] }); // asymmetric: openid gets an ID token
  const fixed = staticClients(CLIENTS);
  const clients = keepingClients(fixed);
  const handler = createAuthHandler({
    baton,
    authenticate: async (u, p) => (p === 'pw' ? { userId: `id-${u}` } : null),
    clients,
    authorization: { registration: { maxClients: 100 } },
  });
  const call = (path: string, init: RequestInit = {}) => handler(new Request(`${ISSUER}${path}`, init), { ip: '203.0.113.1' });
  const register = async (): Promise<string> => {
    const res = await call('/oauth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [PHISH], token_endpoint_auth_method: 'none', client_name: 'Account security' }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { client_id: string }).client_id;
  };
  const url = (clientId: string, redirectUri: string, extra: Record<string, string>) =>
    `/oauth/authorize?${new URLSearchParams({ client_id: clientId, redirect_uri: redirectUri, ...extra })}`;
  return { call, register, url };
}

const VALID = { response_type: 'code', code_challenge: pkce().challenge, code_challenge_method: 'S256' };
const LURES: [string, Record<string, string>][] = [
  ['no response_type', {}],
  ['an unsupported response_type', { response_type: 'token' }],
  ['no PKCE', { response_type: 'code' }],
  ['a malformed scope', { ...VALID, scope: 'a"b' }],
  ['prompt=none, nobody signed in', { ...VALID, prompt: 'none' }],
];

describe("a registered client's redirect URI before anyone signed in", () => {
  for (const [what, extra] of LURES) {
    it(`${what}: the error page, never a Location to it`, async () => {
      const { call, register, url } = setup();
      const res = await call(url(await register(), PHISH, extra));
      expect(res.headers.get('location')).toBeNull();
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('text/html');
    });
  }

  it('once the user signed in here, the error goes back to the client (OAuth as usual)', async () => {
    const { call, register, url } = setup();
    const id = await register();
    const b = new Browser(call);
    const page = await b.get(url(id, PHISH, VALID));
    const consent = await b.post('/oauth/authorize/sign-in', { txn: txnOf(await page.text()), username: 'alice', password: 'pw' });
    expect(consent.status).toBe(200);
    const res = await b.get(url(id, PHISH, { response_type: 'token' }));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^https:\/\/phish\.example\/login\?error=unsupported_response_type&/);
  });

  it("a first-party client's errors are redirected at once, as before", async () => {
    const { call, url } = setup();
    const res = await call(url('first', CB, {}));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^https:\/\/app\.example\/cb\?error=invalid_request&/);
  });
});
