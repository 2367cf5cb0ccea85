/**
 * RFC 9700 §2.4: a password is never handed to a third-party app. `/auth/login` (the password
 * form of the service's own page and first-party apps) refuses a client registered as third-party
 * — by dynamic registration, a client ID metadata document or `firstParty: false` — before the
 * password is checked or a failure counted; such a client signs users in through `/oauth/authorize`.
 */
import { describe, expect, it } from 'vitest';
import { createAuthHandler, createLoginProtection, staticClients } from 'baton-auth/http';
import type { ClientRecord } from 'baton-auth/http';
import { ISSUER, makeBaton } from '../support/baton.ts';

function setup() {
  const { baton } = makeBaton();
  let checked = 0;
  const registered = new Map<string, ClientRecord>();
  const fixed = staticClients([
    { id: 'default' },
    { id: 'legacy' },
    { id: 'mine', firstParty: true, redirectUris: ['https://mine.example/cb'] },
    { id: 'partner', firstParty: false },
    { id: 'shop', redirectUris: ['https://shop.example/cb'] }, // redirect URIs, not first-party: gets the consent page
  ]);
  const handler = createAuthHandler({
    baton,
    authenticate: async (u, p) => {
      checked += 1;
      return u === 'alice' && p === 'pw' ? { userId: 'alice' } : null;
    },
    loginProtection: createLoginProtection({ failures: { max: 2, blockMs: 3_600_000 } }),
    clients: {
      get: async (id) => registered.get(id) ?? (await fixed.get(id)),
      register: async (record) => (registered.set(record.id, record), true),
    },
    authorization: { registration: { maxClients: 10 } },
  });
  const login = (client_id: string, password = 'pw') =>
    handler(new Request(`${ISSUER}/auth/login`, { method: 'POST', body: new URLSearchParams({ username: 'alice', password, client_id }) }), {
      ip: '198.51.100.7',
    });
  return { handler, login, checked: () => checked };
}

describe('/auth/login and third-party clients', () => {
  it('first-party and unmarked clients sign in with a password as before', async () => {
    const { login } = setup();
    for (const id of ['default', 'legacy', 'mine']) expect((await login(id)).status, id).toBe(200);
  });

  it('a client registered as third-party is unauthorized_client, its password never checked and no failure counted', async () => {
    const { login, checked } = setup();
    // A code-flow client that is not first-party would skip its consent page here.
    for (let i = 0; i < 6; i++) {
      const res = await login(i % 2 === 0 ? 'partner' : 'shop', 'wrong');
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'unauthorized_client', error_description: expect.stringMatching(/third-party.*\/oauth\/authorize/) });
    }
    expect(checked()).toBe(0);
    // Five refusals counted nothing: alice is not locked out.
    expect((await login('default')).status).toBe(200);
  });

  it('a dynamically registered client is third-party: no password login', async () => {
    const { handler, login } = setup();
    const reg = await handler(
      new Request(`${ISSUER}/oauth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['https://notes.example/cb'], token_endpoint_auth_method: 'none' }),
      }),
      { ip: '198.51.100.7' },
    );
    expect(reg.status).toBe(201);
    const { client_id } = (await reg.json()) as { client_id: string };
    expect(await (await login(client_id)).json()).toMatchObject({ error: 'unauthorized_client' });
  });
});
