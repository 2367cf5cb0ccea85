/**
 * Red team, consent bypass by impersonating a native app (RFC 8252 §8.6, the hole of Doorkeeper's
 * GHSA-7w2c-w47h-789w). A public client whose redirect URI is a loopback one or a private-use scheme
 * cannot be told from any other program on the device: whoever listens on a loopback port, or claims
 * the scheme, can start a flow with its own PKCE verifier under that client's id. Once the user has
 * allowed the real app, a remembered consent must not hand such a program a code without asking:
 * "the authorization server SHOULD NOT process authorization requests automatically without user
 * consent or interaction, except when the identity of the client can be assured. This includes the
 * case where the user has previously approved an authorization request for a given client id".
 */
import { describe, expect, it } from 'vitest';
import { CLIENTS, redirectedTo, setup, txnOf } from '../support/authz.ts';

const NATIVE = [
  { id: 'cli', name: 'Notes CLI', redirectUris: ['http://127.0.0.1/callback'], scopes: ['profile'] },
  { id: 'phone', name: 'Notes app', redirectUris: ['com.notes.app:/cb'], scopes: ['profile'] },
  { id: 'spa', name: 'Notes web', redirectUris: ['https://notes.example/cb'], scopes: ['profile'] },
];

function flow(clientId: string, redirectUri: string) {
  const s = setup({}, [...CLIENTS, ...NATIVE]);
  const b = s.browser();
  const path = (extra: Record<string, string> = {}) => s.authorizePath({ client_id: clientId, redirect_uri: redirectUri, scope: 'profile', ...extra });
  const allowOnce = async () => {
    const consent = await s.signIn(b, await b.get(path()));
    expect(consent.status).toBe(200);
    const res = await b.post('/oauth/authorize/consent', { txn: txnOf(await consent.text()), decision: 'allow' });
    expect(res.status).toBe(303);
  };
  return { b, path, allowOnce };
}

describe('a remembered consent to a public native client', () => {
  for (const [id, uri, again] of [
    ['cli', 'http://127.0.0.1:49152/callback', 'http://127.0.0.1:61000/callback'],
    ['phone', 'com.notes.app:/cb', 'com.notes.app:/cb'],
  ] as const) {
    it(`${id}: another request is asked again, never answered with a code at once`, async () => {
      const { b, path, allowOnce } = flow(id, uri);
      await allowOnce();
      const second = await b.get(path({ redirect_uri: again }));
      expect(second.headers.get('location')).toBeNull();
      expect(second.status).toBe(200);
      expect(await second.text()).toContain('Allow access?');
      const silent = await b.get(path({ redirect_uri: again, prompt: 'none' }));
      expect(redirectedTo(silent, again).get('error')).toBe('consent_required');
    });
  }

  it('a public web client (https redirect URI: the code goes to its origin) is not asked again', async () => {
    const { b, path, allowOnce } = flow('spa', 'https://notes.example/cb');
    await allowOnce();
    expect(redirectedTo(await b.get(path()), 'https://notes.example/cb').get('code')).toBeTruthy();
  });
});
