/**
 * Red team (passkeys): an answer made in a frame of another site's page (`clientDataJSON.crossOrigin`
 * true, with or without `topOrigin`) was accepted — at registration always, at sign-in whenever the
 * browser left `topOrigin` out (Safari). WebAuthn L3 §7.1 step 10 / §7.2 step 13: such an answer
 * counts only where the relying party expects to be framed; Baton's pages are never framed
 * (`frame-ancestors 'none'`), so a page embedding a sign-in origin (an app origin of
 * `BATON_PASSKEYS_ORIGINS` whose own pages allow framing) to borrow its passkeys is refused.
 */
import { describe, expect, it } from 'vitest';
import { codeOf } from '../support/baton.ts';
import { passkeysHarness } from './passkeys-harness.ts';

describe('red team: an answer from a cross-origin frame', () => {
  it.each([
    ['crossOrigin without topOrigin', { crossOrigin: true }],
    ['crossOrigin with topOrigin', { crossOrigin: true, topOrigin: 'https://evil.example' }],
  ])('is refused at sign-in (%s)', async (_label, clientData) => {
    const t = passkeysHarness();
    const key = t.authenticator();
    await t.register(key);
    expect(await codeOf(t.signIn(key, { clientData }))).toBe('ERR_PASSKEY_REFUSED');
    // The same passkey in a top-level page signs in.
    expect((await t.signIn(key)).userId).toBe('usr_alice');
  });

  it('is refused at registration', async () => {
    const t = passkeysHarness();
    const key = t.authenticator();
    const { options, state } = await t.passkeys.registrationOptions({ id: 'usr_alice', name: 'alice' }, 'sid-1');
    const framed = key.register(options, { clientData: { crossOrigin: true, topOrigin: 'https://evil.example' } });
    expect(await codeOf(t.passkeys.register({ id: 'usr_alice' }, framed, state, { bind: 'sid-1' }))).toBe('ERR_PASSKEY_REFUSED');
    expect(await t.passkeys.list('usr_alice')).toEqual([]);
  });
});
