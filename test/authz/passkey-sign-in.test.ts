/**
 * The hosted sign-in page's passkey, in process (a software authenticator): the page offers it
 * (the username field's autofill, the button, the same-origin script the CSP then allows, and only
 * then), a passkey answer posted with the transaction signs in and the flow goes on to the code,
 * with the audit trail saying `passkey`; the form is refused cross-site or without the
 * transaction's CSRF cookie, and a refused passkey shows the page again with its sentence.
 */
import { describe, expect, it } from 'vitest';
import { generateKey } from 'baton-auth';
import type { AuditEvent } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import type { AuthHandlerOptions } from 'baton-auth/http';
import { createPasskeys } from 'baton-auth/passkeys';
import { memoryStore } from 'baton-auth/stores/memory';
import { Browser, CLIENTS, ISSUER, pkce, redirectedTo, txnOf } from '../support/authz.ts';
import { makeBaton } from '../support/baton.ts';
import { softwareAuthenticator } from '../support/software-authenticator.ts';

async function setup(o: Partial<AuthHandlerOptions> = {}, script: string | null = '/passkey-sign-in.js') {
  const store = memoryStore();
  const audit: AuditEvent[] = [];
  const { baton } = makeBaton({ store, keys: [generateKey('EdDSA', 'ed-1')], audit: (e) => audit.push(e) });
  const passkeys = createPasskeys({ baton, store, rpId: 'auth.test', origins: [ISSUER] });
  const handler = createAuthHandler({
    baton,
    authenticate: async () => null,
    clients: staticClients(CLIENTS),
    passkeys,
    userScope: async () => 'profile',
    authorization: script === null ? {} : { passkeyScript: script },
    ...o,
  });
  const call = (path: string, init: RequestInit = {}) => handler(new Request(`${ISSUER}${path}`, init), { ip: '203.0.113.7' });
  // alice's passkey, registered through the library.
  const key = softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' });
  const reg = await passkeys.registrationOptions({ id: 'id-alice', name: 'alice' });
  await passkeys.register({ id: 'id-alice' }, key.register(reg.options), reg.state);
  const q = new URLSearchParams({ client_id: 'first', redirect_uri: 'https://app.example/cb', response_type: 'code', state: 'st-1' });
  q.set('code_challenge', pkce().challenge);
  q.set('code_challenge_method', 'S256');
  const authorize = `/oauth/authorize?${q}`;
  /** A browser on the sign-in page, with the passkey's options it asked for. */
  const onPage = async () => {
    const b = new Browser(call);
    const page = await b.get(authorize);
    const html = await page.text();
    const txn = txnOf(html);
    const options = (await (await b.post('/auth/passkeys/sign-in-options', {})).json()) as { challenge: string };
    return { b, page, html, txn, options };
  };
  return { key, audit, call, authorize, onPage };
}

describe('the hosted sign-in page with passkeys', () => {
  it('offers the passkey: the autofill, the button, its same-origin script, which the CSP allows only then', async () => {
    const { onPage } = await setup();
    const { page, html } = await onPage();
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'; connect-src 'self'");
    expect(html).toContain('autocomplete="username webauthn"');
    expect(html).toContain('<script type="module" src="/passkey-sign-in.js"></script>');
    expect(html).toMatch(/<form method="post" action="\/oauth\/authorize\/sign-in" id="passkey-form" data-options="\/auth\/passkeys\/sign-in-options">/);
    // No script for the page: no passkey, no script-src.
    const without = await (await setup({}, null)).onPage();
    expect(without.page.headers.get('content-security-policy')).not.toContain('script-src');
    expect(without.html).not.toMatch(/<script|webauthn/);
  });

  it('a passkey answer posted with the transaction signs in, and the flow goes on to the code', async () => {
    const { key, audit, onPage } = await setup();
    const { b, txn, options } = await onPage();
    const res = await b.post('/oauth/authorize/sign-in', { txn, credential: JSON.stringify(key.signIn(options)) });
    expect(redirectedTo(res).get('code')).toBeTruthy();
    expect(res.headers.getSetCookie().some((c) => /baton_webauthn=;.*Max-Age=0/.test(c))).toBe(true);
    expect(audit.find((e) => e.type === 'login.succeeded')).toMatchObject({ user: 'id-alice', method: 'passkey', client: 'default' });
  });

  it('is refused cross-site and without the transaction’s CSRF cookie; a refused passkey shows the page again with its sentence', async () => {
    const { key, onPage } = await setup();
    for (const headers of [{ origin: 'https://evil.example' }, { origin: '', 'sec-fetch-site': 'cross-site' }]) {
      const { b, txn, options } = await onPage();
      const init: Record<string, string> = { ...headers };
      if (init.origin === '') delete init.origin;
      const res = await b.call('/oauth/authorize/sign-in', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: b.cookieHeader(), ...init },
        body: new URLSearchParams({ txn, credential: JSON.stringify(key.signIn(options)) }).toString(),
      });
      expect(res.status).toBe(403);
      expect(res.headers.get('location')).toBeNull();
    }
    const { b, txn, options } = await onPage();
    const webauthn = [...b.jar].filter(([k]) => k.includes('webauthn'));
    b.jar.clear();
    for (const [k, v] of webauthn) b.jar.set(k, v); // the passkey's state, but not the form's CSRF cookie
    expect((await b.post('/oauth/authorize/sign-in', { txn, credential: JSON.stringify(key.signIn(options)) })).status).toBe(403);

    // A passkey that names alice but was never registered here.
    const stranger = softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' });
    stranger.register({ challenge: 'none', user: { id: Buffer.from('id-alice').toString('base64url') } });
    const again = await onPage();
    const refused = await again.b.post('/oauth/authorize/sign-in', { txn: again.txn, credential: JSON.stringify(stranger.signIn(again.options)) });
    expect(refused.status).toBe(401);
    const html = await refused.text();
    expect(html).toContain('This passkey is not registered here');
    expect(html).toContain('id="passkey-form"');
  });
});
