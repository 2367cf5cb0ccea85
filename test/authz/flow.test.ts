/**
 * The whole code flow through one handler: the hosted sign-in (and consent), the code, and its
 * exchange at `/oauth/token` for tokens of a session of the client — with an ID token for `openid`.
 */
import { describe, expect, it } from 'vitest';
import { generateKey } from 'baton-auth';
import { decodeJwt } from 'jose';
import { CB, CLIENTS, ISSUER, redirectedTo, setup, txnOf } from '../support/authz.ts';

function exchange(s: ReturnType<typeof setup>, code: string, clientId: string, verifier = s.verifier) {
  return s.call('/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: verifier, client_id: clientId }).toString(),
  });
}

describe('the code flow, end to end', () => {
  it('sign-in, consent, code, tokens: the session is the client one, with the granted scope', async () => {
    const s = setup({}, CLIENTS, { keys: [generateKey('EdDSA', 'ed-1')] });
    const b = s.browser();
    const consent = await s.signIn(b, await b.get(s.authorizePath({ client_id: 'app', scope: 'openid orders:read', nonce: 'n-42' })));
    const q = redirectedTo(await b.post('/oauth/authorize/consent', { txn: txnOf(await consent.text()), decision: 'allow' }));
    const res = await exchange(s, q.get('code') as string, 'app');
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as { access_token: string; refresh_token: string; scope: string; id_token: string; session_id: string };
    expect(tokens.scope).toBe('openid orders:read');
    const claims = await s.baton.verify(tokens.access_token);
    expect(claims).toMatchObject({ sub: 'id-alice', client_id: 'app' });
    expect(decodeJwt(tokens.id_token)).toMatchObject({ iss: ISSUER, sub: 'id-alice', aud: 'app', nonce: 'n-42', sid: tokens.session_id });
    const sessions = await s.baton.listSessions('id-alice');
    expect(sessions.map((x) => x.clientId).sort()).toEqual(['app', 'default']); // the client's, and the sign-in's own
    // The code is single use.
    expect((await exchange(s, q.get('code') as string, 'app')).status).toBe(400);
  });

  it('a wrong PKCE verifier gets no tokens', async () => {
    const s = setup();
    const b = s.browser();
    const q = redirectedTo(await s.signIn(b, await b.get(s.authorizePath({ scope: 'profile' }))));
    const res = await exchange(s, q.get('code') as string, 'first', 'x'.repeat(43));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
  });
});
