/**
 * Red team (passkeys): the attacks that held, kept proved. The hosted page's passkey keeps the code
 * flow's consent for a third-party app; a third-party app signs no one in with a passkey and manages
 * none; a credential id registered on another account takes nothing from its owner; a user handle
 * naming another user, a ceremony's state or type swapped, another RP ID or origin: refused; refused
 * sign-ins write nothing but counters; an oversized answer is refused before it is read; a refusal
 * says nothing of the answer's secrets, and the page shows it escaped.
 */
import { describe, expect, it } from 'vitest';
import { generateKey } from 'baton-auth';
import type { AuditEvent } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { createPasskeys } from 'baton-auth/passkeys';
import { Browser, CB, CLIENTS, ISSUER, pkce, redirectedTo, txnOf } from '../support/authz.ts';
import { countingStore } from '../support/counting-store.ts';
import { makeBaton, codeOf } from '../support/baton.ts';
import { softwareAuthenticator } from '../support/software-authenticator.ts';
import { passkeysHarness } from './passkeys-harness.ts';

const WRITE = /^(put|delete|consume|create|deny|save|rotate|revoke|announce|record)/;

async function hosted() {
  // The real memory store, with its writes counted.
  const { store, raw, writes } = countingStore(WRITE);
  const audit: AuditEvent[] = [];
  const logs: string[] = [];
  const log = (o: object, m?: string) => void logs.push(JSON.stringify([o, m]));
  const { baton } = makeBaton({ store, keys: [generateKey('EdDSA', 'ed-1')], audit: (e) => audit.push(e) });
  const passkeys = createPasskeys({ baton, store, rpId: 'auth.test', origins: [ISSUER] });
  const handler = createAuthHandler({
    baton,
    authenticate: async () => null,
    clients: staticClients(CLIENTS),
    passkeys,
    userScope: async () => 'profile',
    authorization: { passkeyScript: '/passkey-sign-in.js' },
    logger: { info: log, warn: log, error: log },
  });
  const call = (path: string, init: RequestInit = {}) => handler(new Request(`${ISSUER}${path}`, init), { ip: '203.0.113.7' });
  const key = softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' });
  const reg = await passkeys.registrationOptions({ id: 'id-alice', name: 'alice' });
  await passkeys.register({ id: 'id-alice' }, key.register(reg.options), reg.state);
  const onPage = async (clientId: string) => {
    const q = new URLSearchParams({ client_id: clientId, redirect_uri: CB, response_type: 'code', state: 'st-1', scope: 'profile' });
    q.set('code_challenge', pkce().challenge);
    q.set('code_challenge_method', 'S256');
    const b = new Browser(call);
    const html = await (await b.get(`/oauth/authorize?${q}`)).text();
    const options = (await (await b.post('/auth/passkeys/sign-in-options', {})).json()) as { challenge: string };
    return { b, txn: txnOf(html), options };
  };
  return { baton, raw, writes, audit, logs, passkeys, call, key, onPage };
}

describe('red team (passkeys): held', () => {
  it('a passkey on the hosted page keeps a third-party app’s consent page; a first-party app goes on to the code', async () => {
    const h = await hosted();
    const third = await h.onPage('app');
    const res = await third.b.post('/oauth/authorize/sign-in', { txn: third.txn, credential: JSON.stringify(h.key.signIn(third.options)) });
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    const consent = await res.text();
    expect(consent).toContain('<h1>Allow access?</h1><p><strong>Shop &#60;App&#62;</strong> wants to access your account.');
    const first = await h.onPage('first');
    expect(
      redirectedTo(await first.b.post('/oauth/authorize/sign-in', { txn: first.txn, credential: JSON.stringify(h.key.signIn(first.options)) })).get('code'),
    ).toBeTruthy();
  });

  it('a third-party app signs no one in at /auth/passkeys/sign-in, and its token manages no passkey', async () => {
    const h = await hosted();
    const b = new Browser(h.call);
    const options = (await (await b.post('/auth/passkeys/sign-in-options', {})).json()) as { challenge: string };
    const res = await b.post('/auth/passkeys/sign-in', { client_id: 'app', credential: JSON.stringify(h.key.signIn(options)) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('unauthorized_client');
    expect(await h.baton.listSessions('id-alice')).toEqual([]);
    const token = (await h.baton.login('id-alice', { clientId: 'app' })).access_token;
    for (const [method, path] of [
      ['GET', '/auth/passkeys'],
      ['POST', '/auth/passkeys/registration-options'],
      ['DELETE', `/auth/passkeys/${h.key.id}`],
    ] as const) {
      expect((await h.call(path, { method, headers: { authorization: `Bearer ${token}`, origin: ISSUER } })).status, `${method} ${path}`).toBe(403);
    }
    expect(await h.passkeys.list('id-alice')).toHaveLength(1);
  });

  it('alice’s credential id registered on mallory’s account takes nothing from alice; a user handle naming alice with mallory’s key is refused', async () => {
    const t = passkeysHarness();
    const alice = t.authenticator();
    await t.register(alice);
    const mallory = t.authenticator();
    // Mallory's key, under alice's credential id (an attestation of "none" proves nothing of the id).
    await t
      .register(mallory, 'usr_mallory', (a) => {
        const att = a.response.attestationObject;
        return { ...a, id: alice.id, rawId: alice.id, response: { ...a.response, attestationObject: att } };
      })
      .catch(() => undefined);
    // Mallory signing in with alice's id and handle: mallory's signature, alice's key.
    const forged = async () => {
      const { options, state } = await t.passkeys.signInOptions();
      const answer = mallory.signIn(options);
      return t.passkeys.signIn(
        { ...answer, id: alice.id, rawId: alice.id, response: { ...answer.response, userHandle: Buffer.from('usr_alice').toString('base64url') } },
        state,
      );
    };
    expect(await codeOf(forged())).toBe('ERR_PASSKEY_REFUSED');
    // Mallory's own passkey answering with alice's handle: not alice's passkey.
    const { options, state } = await t.passkeys.signInOptions();
    await t.register(mallory, 'usr_mallory');
    const answer = mallory.signIn(options);
    expect(
      await codeOf(t.passkeys.signIn({ ...answer, response: { ...answer.response, userHandle: Buffer.from('usr_alice').toString('base64url') } }, state)),
    ).toBe('ERR_PASSKEY_REFUSED');
    expect(await t.passkeys.remove('usr_mallory', alice.id)).toBe(false);
    expect((await t.signIn(alice)).userId).toBe('usr_alice');
  });

  it('a ceremony’s state or type swapped, another RP ID or origin: refused', async () => {
    const t = passkeysHarness();
    const key = t.authenticator();
    await t.register(key);
    // A sign-in's state for a registration.
    const signIn = await t.passkeys.signInOptions();
    const asReg = key.register({ challenge: signIn.options.challenge, user: { id: Buffer.from('usr_alice').toString('base64url') } });
    expect(await codeOf(t.passkeys.register({ id: 'usr_alice' }, asReg, signIn.state))).toBe('ERR_PASSKEY_REFUSED');
    // A registration answer typed webauthn.get, a sign-in answer typed webauthn.create.
    const reg = await t.passkeys.registrationOptions({ id: 'usr_alice', name: 'alice' }, 'sid');
    const other = t.authenticator();
    expect(
      await codeOf(t.passkeys.register({ id: 'usr_alice' }, other.register(reg.options, { clientData: { type: 'webauthn.get' } }), reg.state, { bind: 'sid' })),
    ).toBe('ERR_PASSKEY_REFUSED');
    expect(await codeOf(t.signIn(key, { clientData: { type: 'webauthn.create' } }))).toBe('ERR_PASSKEY_REFUSED');
    expect(await codeOf(t.signIn(key, { rpId: 'evil.test' }))).toBe('ERR_PASSKEY_REFUSED');
    expect(await codeOf(t.signIn(key, { origin: 'https://auth.test.evil.example' }))).toBe('ERR_PASSKEY_REFUSED');
    expect(await codeOf(t.signIn(key, { origin: 'http://auth.test' }))).toBe('ERR_PASSKEY_REFUSED');
    expect((await t.signIn(key)).userId).toBe('usr_alice');
  });

  it('500 refused sign-ins (a stranger’s signature on alice’s passkey) write nothing but the login counters', async () => {
    const h = await hosted();
    const stranger = softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' });
    stranger.register({ challenge: 'none', user: { id: Buffer.from('id-alice').toString('base64url') } });
    const b = new Browser(h.call);
    const before = h.writes.length;
    for (let i = 0; i < 500; i++) {
      const options = (await (await b.post('/auth/passkeys/sign-in-options', {})).json()) as { challenge: string };
      const answer = stranger.signIn(options);
      const res = await b.post('/auth/passkeys/sign-in', { credential: JSON.stringify({ ...answer, id: h.key.id, rawId: h.key.id }) });
      expect([401, 429]).toContain(res.status);
    }
    expect(h.writes.slice(before)).toEqual([]); // the login counters are `hitCounter`s
    expect(await h.raw.listRecords('passkey-use:id-alice')).toHaveLength(1); // its registration's, unchanged
  });

  it('an oversized answer is refused before it is read; a refusal carries no secret of the answer, and the page shows it escaped', async () => {
    const h = await hosted();
    const b = new Browser(h.call);
    await b.post('/auth/passkeys/sign-in-options', {});
    const huge = await b.post('/auth/passkeys/sign-in', { credential: 'x'.repeat(64 * 1024) });
    expect(huge.status).toBe(413);
    const page = await h.onPage('first');
    const answer = h.key.signIn(page.options, { origin: 'https://evil.example/"><script>alert(1)</script>' });
    const state = page.b.jar.get('__Host-baton_webauthn');
    expect(state).toBeTruthy();
    const res = await page.b.post('/oauth/authorize/sign-in', { txn: page.txn, credential: JSON.stringify(answer) });
    expect(res.status).toBe(401);
    const html = await res.text();
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('&#60;script&#62;');
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    for (const secret of [answer.response.signature, answer.response.clientDataJSON, answer.response.authenticatorData, state as string]) {
      expect(html).not.toContain(secret);
      expect(h.logs.join('\n')).not.toContain(secret);
      expect(JSON.stringify(h.audit)).not.toContain(secret);
    }
  });
});
