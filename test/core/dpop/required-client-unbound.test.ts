/**
 * Found by a red-team review (each test failed before its fix): a client registered `dpop: 'required'` is promised that it "never gets an unbound
 * token", so that every refresh token of it is useless without its key. But a proof at the
 * refresh grant only binds the *access* token: a session that is not bound (opened before the
 * client was switched to `required`, or by the application's own `baton.login` with that
 * client id) keeps answering `rt_` refresh tokens, with the 'required' client's proof. A copy of
 * that refresh token works for anyone who makes a proof with their own key.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { dpopKey, dpopProof } from '../../support/dpop.ts';
import type { DpopKey } from '../../support/dpop.ts';

const ISSUER = 'https://auth.test';
const TOKEN = `${ISSUER}/oauth/token`;

describe("a client registered dpop: 'required'", () => {
  it('never receives an unbound refresh token, even for a session opened before the policy (or by baton.login)', async () => {
    const baton = createBaton({ issuer: ISSUER, keys: [generateKey('ES256')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
    const handler = createAuthHandler({
      baton,
      authenticate: async () => null,
      clients: staticClients([{ id: 'default' }, { id: 'strict', dpop: 'required' }]),
    });
    const refresh = async (key: DpopKey, refreshToken: string) => {
      const post = async (nonce?: string) =>
        handler(
          new Request(TOKEN, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await dpopProof(key, 'POST', TOKEN, nonce === undefined ? {} : { nonce }) },
            body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'strict' }).toString(),
          }),
          { ip: '203.0.113.9' },
        );
      const first = await post();
      return first.status === 400 && first.headers.get('dpop-nonce') !== null ? post(first.headers.get('dpop-nonce') as string) : first;
    };
    // A session of the 'strict' client that is not bound (the policy came later, or the app logged in itself).
    const opened = await baton.login('alice', { clientId: 'strict' });
    const owner = await dpopKey();
    const res = await refresh(owner, opened.refresh_token);
    if (res.status === 200) {
      const pair = (await res.json()) as { refresh_token: string; token_type: string };
      expect(pair.token_type).toBe('DPoP');
      // The promise: nothing unbound reaches a 'required' client.
      expect(pair.refresh_token.startsWith('rtd_'), `got ${pair.refresh_token.slice(0, 4)}…`).toBe(true);
      // And so a copy is useless to a thief with their own key.
      const thief = await dpopKey();
      expect((await refresh(thief, pair.refresh_token)).status).toBe(400);
    } else {
      expect(res.status).toBe(400); // refusing the unbound session outright keeps the promise too
    }
  });
});
