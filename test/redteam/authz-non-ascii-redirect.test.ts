/**
 * Red team, a redirect URI outside ASCII. RFC 3986 URIs are ASCII (an IRI is mapped to one first,
 * RFC 3987 §3.1); a `Location` header can carry nothing past U+00FF (Fetch's ByteString), and what a
 * browser makes of the Latin-1 ones is not the string that was compared. Registered anyway (RFC 7591,
 * a metadata document, or the operator's list), such a URI turned every authorization request of
 * its client into a 500, and a bidirectional override (U+202E) hid where it goes. Refused at
 * registration with `invalid_redirect_uri`, as any other malformed URI.
 */
import { describe, expect, it } from 'vitest';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import type { ClientRecord } from 'baton-auth/http';
import { ISSUER, makeBaton } from '../support/baton.ts';
import { keepingClients } from '../support/authz.ts';

const HOSTILE = ['https://app.example/€', 'https://app.example/cb\u202egpj.exe', 'https://app.example/é', 'https://bücher.example/cb', 'com.example.app:/ćb'];

function setup() {
  const { baton } = makeBaton();
  const clients = keepingClients();
  const handler = createAuthHandler({ baton, authenticate: async () => null, clients, authorization: { registration: { maxClients: 100 } } });
  return (path: string, init: RequestInit = {}) => handler(new Request(`${ISSUER}${path}`, init), { ip: '203.0.113.1' });
}

describe('a redirect URI with a character outside ASCII', () => {
  for (const uri of HOSTILE) {
    it(`${JSON.stringify(uri)}: refused at registration`, async () => {
      const call = setup();
      const reg = await call('/oauth/register', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [uri], token_endpoint_auth_method: 'none' }),
      });
      const body = (await reg.json()) as { error?: string };
      expect([reg.status, body.error]).toEqual([400, 'invalid_redirect_uri']);
    });
  }

  it('kept from before (a store record), it matches nothing: the error page, not a 500', async () => {
    const { baton } = makeBaton();
    const record: ClientRecord = { id: 'old', type: 'public', firstParty: true, redirectUris: ['https://app.example/€'] };
    const handler = createAuthHandler({ baton, authenticate: async () => null, clients: { get: async (id) => (id === 'old' ? record : null) } });
    const query = new URLSearchParams({ client_id: 'old', redirect_uri: 'https://app.example/€', response_type: 'token' });
    const res = await handler(new Request(`${ISSUER}/oauth/authorize?${query}`));
    expect([res.status, res.headers.get('location')]).toEqual([400, null]);
  });

  it('is refused in a static client list too, with a sentence', () => {
    expect(() => staticClients([{ id: 'web', redirectUris: ['https://app.example/€'] }])).toThrow(/ASCII/);
  });
});
