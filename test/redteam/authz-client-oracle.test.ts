/**
 * Red team, information leak: which client ids exist. Client authentication answers one sentence
 * for an unknown client and a wrong secret (client-auth.ts), so that a caller cannot list the
 * confidential clients to aim at. The authorization endpoint must not tell them either: a client
 * that has no redirect URI (a backend, a resource server, a `client_credentials` client) gets the
 * very page an unknown id gets.
 */
import { describe, expect, it } from 'vitest';
import { CB, CLIENTS, SECRET, setup } from '../support/authz.ts';

const backend = { id: 'billing-backend', secret: SECRET, grantTypes: ['client_credentials' as const] };

describe('a client without a redirect URI at /oauth/authorize', () => {
  it('gets the same answer as a client id that does not exist', async () => {
    const s = setup({}, [...CLIENTS, backend]);
    const page = async (id: string) => {
      const res = await s.call(`/oauth/authorize?client_id=${id}&redirect_uri=${encodeURIComponent(CB)}&response_type=code`);
      expect(res.headers.get('location')).toBeNull();
      return [res.status, await res.text()];
    };
    const unknown = await page('no-such-client');
    expect(unknown[0]).toBe(400);
    expect(await page('billing-backend')).toEqual(unknown);
    expect(await page('default')).toEqual(unknown);
  });
});
