/**
 * Red team (authz2): a consent withdrawn while the third-party client's code is being redeemed.
 * `DELETE /auth/consents/{client}` forgets the consent, then ends the sessions of that client it
 * finds; the code grant reads the consent, then opens its session. Interleaved — the withdrawal
 * between the grant's read and its session — the withdrawal finds no session to end and the
 * redemption opens one: the app keeps access the user just took back. The consent store below
 * only pauses the grant's read until the withdrawal is answered (the real store, the real routes).
 */
import { describe, expect, it } from 'vitest';
import { memoryConsents } from '../../packages/baton-auth/src/authz/consent-store.ts';
import type { ConsentStore } from '../../packages/baton-auth/src/authz/consent-store.ts';
import { CB, redirectedTo, setup, txnOf } from '../support/authz.ts';

describe('a consent withdrawn while the code is redeemed', () => {
  it('leaves the app no session: the redemption is refused, or its session ended', async () => {
    const base = memoryConsents();
    let pause: (() => Promise<void>) | undefined;
    const consents: ConsentStore = {
      ...base,
      get: async (userId, clientId) => {
        const found = await base.get(userId, clientId);
        const hook = pause;
        pause = undefined;
        if (hook) await hook();
        return found;
      },
    };
    const s = setup({ authorization: { consents } });
    // The user's own app (no redirect URI: not a third party) manages the account.
    const own = await s.call('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'correct horse' }),
    });
    const account = ((await own.json()) as { access_token: string }).access_token;
    const b = s.browser();
    const consentPage = await s.signIn(b, await b.get(s.authorizePath({ client_id: 'app', scope: 'profile' })));
    expect(consentPage.status).toBe(200);
    const code = redirectedTo(await b.post('/oauth/authorize/consent', { txn: txnOf(await consentPage.text()), decision: 'allow' })).get('code') as string;

    let withdrawn: number | undefined;
    pause = async () => {
      const res = await s.call('/auth/consents/app', { method: 'DELETE', headers: { authorization: `Bearer ${account}` } });
      withdrawn = res.status;
    };
    const redeemed = await s.call('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: s.verifier, client_id: 'app' }).toString(),
    });
    expect(withdrawn).toBe(200); // the user's withdrawal was answered "done"
    const live = (await s.baton.listSessions('id-alice')).filter((x) => x.clientId === 'app');
    console.info(`[authz2-withdrawal-race] redemption ${redeemed.status}, live sessions of the app after withdrawal: ${live.length}`);
    expect(live).toHaveLength(0);
    expect(redeemed.status).toBe(400);
    expect(((await redeemed.json()) as { error: string }).error).toBe('invalid_grant');
  });
});
