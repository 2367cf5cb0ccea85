/**
 * Red team: a client ID metadata document's client id could be up to 2,000 characters
 * (`metadataUrlProblem`), but the engine keeps client ids of at most 256 (`baton.login`, the ID
 * token, end-session's `client_id`). Such a client was served the sign-in and consent pages, the
 * user signed in and allowed it, and then the code exchange spent the code and failed with
 * `invalid_request` — every time, for every user. An id past 256 characters is now no metadata
 * URL: refused before anything (the authorization endpoint's error page, never a fetch).
 */
import { describe, expect, it } from 'vitest';
import { generateKey } from 'baton-auth';
import { clientMetadataDocuments } from '../../packages/baton-auth/src/authz/client-metadata.ts';
import { setup, txnOf } from '../support/authz.ts';

const CB = 'https://notes.example/cb';
const idOf = (length: number) => `https://apps.example/c/${'a'.repeat(length - 'https://apps.example/c/'.length)}`;

function listedHost() {
  const fetched: string[] = [];
  const fetch: typeof globalThis.fetch = async (input) => {
    const id = String(input);
    fetched.push(id);
    const doc = { client_id: id, client_name: 'Notes', redirect_uris: [CB], post_logout_redirect_uris: ['https://notes.example/bye'] };
    return new Response(JSON.stringify(doc), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  return { fetch, fetched };
}

describe('a metadata document client id longer than the engine keeps', () => {
  it('is refused at the authorization endpoint, before any page or fetch', async () => {
    const host = listedHost();
    const s = setup({ authorization: { clientMetadataDocuments: { hosts: ['apps.example'], fetch: host.fetch } } });
    const page = await s.browser().get(s.authorizePath({ client_id: idOf(257), redirect_uri: CB, scope: 'openid' }));
    expect(page.status).toBe(400);
    expect(page.headers.get('location')).toBeNull();
    expect(host.fetched).toHaveLength(0);
    expect(await clientMetadataDocuments({ hosts: ['apps.example'], fetch: host.fetch }).get(idOf(2000))).toBeNull();
    expect(host.fetched).toHaveLength(0);
  });

  it('one of 256 characters runs the whole flow: ID token, then RP-initiated logout with its client_id', async () => {
    const id = idOf(256);
    const s = setup({ authorization: { clientMetadataDocuments: { hosts: ['apps.example'], fetch: listedHost().fetch } } }, undefined, {
      keys: [generateKey('EdDSA', 'ed-1')],
    });
    const b = s.browser();
    const consent = await s.signIn(b, await b.get(s.authorizePath({ client_id: id, redirect_uri: CB, scope: 'openid', nonce: 'n-1' })));
    const answer = await b.post('/oauth/authorize/consent', { txn: txnOf(await consent.text()), decision: 'allow' });
    const code = new URL(answer.headers.get('location') ?? '').searchParams.get('code') ?? '';
    const token = await s.call('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CB, code_verifier: s.verifier, client_id: id }).toString(),
    });
    const body = (await token.json()) as { id_token?: string; error_description?: string };
    expect(token.status, body.error_description).toBe(200);
    const logout = await b.get(
      `/oauth/end-session?${new URLSearchParams({ id_token_hint: body.id_token ?? '', client_id: id, post_logout_redirect_uri: 'https://notes.example/bye' })}`,
    );
    expect(logout.headers.get('location')).toBe('https://notes.example/bye');
  });
});
