/**
 * Red team: a client that names itself. A client ID metadata document says
 * `client_name: "Baton Account"`; the sign-in, consent and sign-out pages showed that name alone,
 * so the user could not tell it from the service's own app (the consent page now also says where
 * "Allow" sends the user — redteam-authz — but that is the redirect URI's host, which a document
 * may put anywhere). They now show its client id's host beside the name: the one identity such a
 * client has. And a name with control or format characters (a bidirectional override reversing
 * the page's own words after it, a zero-width space) is refused at registration and in documents.
 */
import { describe, expect, it } from 'vitest';
import { createAuthHandler } from 'baton-auth/http';
import type { ClientRecord, ClientRegistry } from 'baton-auth/http';
import { clientMetadataDocuments } from '../../packages/baton-auth/src/authz/client-metadata.ts';
import { ISSUER, makeBaton } from '../support/baton.ts';
import { CB, setup } from '../support/authz.ts';

const DOC = 'https://apps.example/clients/assistant';

/** A fetch that serves one document per URL, as the listed host would. */
function documents(docs: Record<string, unknown>): typeof fetch {
  return async (input) => {
    const body = docs[String(input)];
    return body === undefined
      ? new Response('not found', { status: 404 })
      : new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  };
}

describe('the hosted pages name a third party with the host that vouches for it', () => {
  it('a metadata document calling itself "Baton Account": the sign-in and consent pages show its host', async () => {
    const fetch = documents({ [DOC]: { client_id: DOC, client_name: 'Baton Account', redirect_uris: ['https://evil.example/cb'] } });
    const s = setup({ authorization: { clientMetadataDocuments: { hosts: ['apps.example'], fetch } } });
    const b = s.browser();
    const page = await b.get(s.authorizePath({ client_id: DOC, redirect_uri: 'https://evil.example/cb', scope: 'openid' }));
    const signInHtml = await page.clone().text();
    expect(signInHtml).toContain('Baton Account (apps.example)');
    const consent = await s.signIn(b, page);
    expect(consent.status).toBe(200);
    const html = await consent.text();
    expect(html).toContain('Allow');
    expect(html).toContain('<strong>Baton Account (apps.example)</strong>');
  });

  it('a client of the registry keeps its name (where it sends the user is shown apart)', async () => {
    const s = setup();
    const b = s.browser();
    const consent = await s.signIn(b, await b.get(s.authorizePath({ client_id: 'app', redirect_uri: CB })));
    expect(await consent.text()).toContain('<strong>Shop &#60;App&#62;</strong> wants to access your account.');
  });

  it('a first-party client keeps its name alone', async () => {
    const s = setup();
    const html = await (await s.browser().get(s.authorizePath({ client_id: 'first' }))).text();
    expect(html).toContain('to continue to first<');
  });
});

describe('a name with control or format characters is refused where it comes in', () => {
  const spoofs = ['Notes\u202Etnuocca ruoy', 'Baton\u200BAccount', 'Line\nbreak', 'Tab\there', 'Iso\u2066late'];

  it('RFC 7591 registration: invalid_client_metadata, nothing kept', async () => {
    const kept: ClientRecord[] = [];
    const clients: ClientRegistry = { get: async () => null, register: async (r) => (kept.push(r), true) };
    const handler = createAuthHandler({
      baton: makeBaton().baton,
      authenticate: async () => null,
      clients,
      authorization: { registration: { maxClients: 100 } },
    });
    for (const client_name of spoofs) {
      const res = await handler(
        new Request(`${ISSUER}/oauth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ redirect_uris: ['https://notes.example/cb'], token_endpoint_auth_method: 'none', client_name }),
        }),
        { ip: '203.0.113.9' },
      );
      expect(res.status, JSON.stringify(client_name)).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_client_metadata' });
    }
    expect(kept).toHaveLength(0);
  });

  it('a client ID metadata document: refused (no client)', async () => {
    const docs = Object.fromEntries(
      spoofs.map((name, i) => [`${DOC}${i}`, { client_id: `${DOC}${i}`, client_name: name, redirect_uris: ['https://notes.example/cb'] }]),
    );
    const r = clientMetadataDocuments({ hosts: ['apps.example'], fetch: documents(docs) });
    for (const id of Object.keys(docs)) expect(await r.get(id), id).toBeNull();
    const plain = clientMetadataDocuments({
      hosts: ['apps.example'],
      fetch: documents({ [DOC]: { client_id: DOC, client_name: 'Notes — für alle', redirect_uris: ['https://notes.example/cb'] } }),
    });
    expect((await plain.get(DOC))?.name).toBe('Notes — für alle');
  });
});
