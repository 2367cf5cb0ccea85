/**
 * Red team, consent bypass: the user allowed a third-party app (`app`, not first-party) the scope
 * `profile` on the consent page. Its access token must not manage the user's account — list the
 * user's sessions and their addresses, read the security history, sign the user out everywhere,
 * end another device's session, revoke another app's consent — nor read the account's own `/auth/me`
 * (the sign-in name): those are the account's endpoints, for its first-party apps. UserInfo stays
 * open to it (OIDC Core §5.3): that is what the consented scope is for.
 */
import { describe, expect, it } from 'vitest';
import { generateKey } from 'baton-auth';
import { CB, CLIENTS, redirectedTo, setup as base, txnOf } from '../support/authz.ts';

// OpenID Connect needs an asymmetric signing key (ID tokens).
const setup = () => base({}, CLIENTS, { keys: [generateKey('EdDSA', 'ed-1')] });

async function tokenOf(s: ReturnType<typeof base>, clientId: 'app' | 'first'): Promise<string> {
  const b = s.browser();
  const page = await s.signIn(b, await b.get(s.authorizePath({ client_id: clientId, scope: 'openid profile' })));
  const answer = clientId === 'app' ? await b.post('/oauth/authorize/consent', { txn: txnOf(await page.text()), decision: 'allow' }) : page;
  const q = redirectedTo(answer);
  const res = await s.call('/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: q.get('code') as string,
      redirect_uri: CB,
      code_verifier: s.verifier,
      client_id: clientId,
    }).toString(),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const ACCOUNT: [string, string, string?][] = [
  ['GET', '/auth/sessions'],
  ['GET', '/auth/sessions/history'],
  ['GET', '/auth/me'],
  ['GET', '/auth/consents'],
  ['POST', '/auth/logout', 'scope=global'],
  ['DELETE', '/auth/consents/first'],
];

describe("a third-party app's token and the account's endpoints", () => {
  it('is refused (403 insufficient_scope) by every one of them, and nothing is changed', async () => {
    const s = setup();
    const token = await tokenOf(s, 'app');
    const before = (await s.baton.listSessions('id-alice')).map((x) => x.id).sort();
    expect(before.length).toBe(2); // the hosted sign-in's own, and the app's
    for (const [method, path, body] of ACCOUNT) {
      const res = await s.call(path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) },
        ...(body === undefined ? {} : { body }),
      });
      expect([method, path, res.status]).toEqual([method, path, 403]);
      expect(((await res.json()) as { error: string }).error).toBe('insufficient_scope');
    }
    const other = (await s.baton.listSessions('id-alice')).find((x) => x.clientId === 'default')?.id as string;
    const kick = await s.call(`/auth/sessions/${other}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(kick.status).toBe(403);
    expect((await s.baton.listSessions('id-alice')).map((x) => x.id).sort()).toEqual(before);
  });

  it('still gets the claims it was allowed at UserInfo', async () => {
    const s = setup();
    const token = await tokenOf(s, 'app');
    const res = await s.call('/oauth/userinfo', { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { sub: string }).sub).toBe('id-alice');
  });

  it("a first-party app's token still manages the account", async () => {
    const s = setup();
    const token = await tokenOf(s, 'first');
    for (const path of ['/auth/sessions', '/auth/sessions/history', '/auth/me', '/auth/consents'])
      expect([path, (await s.call(path, { headers: { authorization: `Bearer ${token}` } })).status]).toEqual([path, 200]);
  });
});
