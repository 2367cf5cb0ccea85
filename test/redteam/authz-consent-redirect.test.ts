/**
 * Red team, open redirect at the end of consent: a consent page's transaction lives 10 minutes.
 * When the client's redirect URI is removed in between (a domain lost, a URI found to leak codes),
 * the answer to that page — "Allow" and "Deny" alike — must not send the browser, a code or an
 * error to it any more: every other resumed step re-checks the URI (`txnClient`), and so must this one.
 */
import { describe, expect, it } from 'vitest';
import { memoryConsents, staticClients } from 'baton-auth/http';
import type { ClientRecord } from 'baton-auth/http';
import { CLIENTS, setup, txnOf } from '../support/authz.ts';

describe('the consent answer after the redirect URI was removed', () => {
  for (const decision of ['allow', 'deny']) {
    it(`${decision}: an error page, no redirect to the removed URI`, async () => {
      const registered = staticClients(CLIENTS);
      let removed = false;
      const clients = {
        get: async (id: string): Promise<ClientRecord | null> => {
          const client = await registered.get(id);
          return client !== null && removed && id === 'app' ? { ...client, redirectUris: ['https://app.example/other?keep=1'] } : client;
        },
      };
      const consents = memoryConsents();
      const s = setup({ clients, authorization: { consents } });
      const b = s.browser();
      const page = await s.signIn(b, await b.get(s.authorizePath({ client_id: 'app', scope: 'profile' })));
      const txn = txnOf(await page.text());
      removed = true;
      const res = await b.post('/oauth/authorize/consent', { txn, decision });
      expect(res.headers.get('location')).toBeNull();
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('no longer registered');
      expect(await consents.get('id-alice', 'app')).toBeNull();
    });
  }
});
