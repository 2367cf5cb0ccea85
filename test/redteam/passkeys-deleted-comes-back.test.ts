/**
 * Red team (passkeys): a passkey deleted while a sign-in with it was being checked came back. The
 * sign-in read the passkey, checked the signature, spent the challenge, then wrote the whole record
 * again with its new counter — after the deletion. A thief holding a stolen authenticator who keeps
 * signing in (each options request is free and writes nothing) wins that race when the owner deletes
 * the passkey, or when an operator removes the user: the passkey is back, and it signs in for good
 * (for a removed user too: nothing else remembers the id). Fixed: a passkey's own record is written
 * once and deleted once; a sign-in or rename writes only the mutable part (its own record kind), and
 * a sign-in whose passkey was deleted meanwhile is refused.
 */
import { describe, expect, it } from 'vitest';
import { passkeyRecords } from 'baton-auth/passkeys';
import { codeOf } from '../support/baton.ts';
import { passkeysHarness } from './passkeys-harness.ts';

describe('red team: a passkey deleted mid-sign-in', () => {
  it('stays deleted, and the sign-in it raced is refused', async () => {
    const t = passkeysHarness();
    const thief = t.authenticator();
    await t.register(thief);
    // The owner's deletion lands while the thief's answer is being checked (just before its challenge is spent).
    t.before.set('consumeJti', async () => {
      expect(await t.passkeys.remove('usr_alice', thief.id)).toBe(true);
    });
    expect(await codeOf(t.signIn(thief))).toBe('ERR_PASSKEY_REFUSED');
    expect(await t.passkeys.list('usr_alice')).toEqual([]);
    // Nothing of it is left to sign in with.
    expect(await codeOf(t.signIn(thief))).toBe('ERR_PASSKEY_REFUSED');
    expect(await t.raw.listRecords('passkey-use:usr_alice')).toEqual([]);
  });

  it('a user removed mid-sign-in (every passkey deleted, as `baton users remove` does) keeps none', async () => {
    const t = passkeysHarness();
    const thief = t.authenticator();
    await t.register(thief);
    t.before.set('consumeJti', async () => {
      for (const p of await passkeyRecords.list(t.store, 'usr_alice')) await passkeyRecords.remove(t.store, 'usr_alice', p.id);
    });
    await t.signIn(thief).catch(() => undefined);
    expect(await t.raw.listRecords('passkeys:usr_alice')).toEqual([]);
    expect(await codeOf(t.signIn(thief))).toBe('ERR_PASSKEY_REFUSED');
  });

  it('a rename racing a deletion leaves it deleted', async () => {
    const t = passkeysHarness();
    const key = t.authenticator();
    await t.register(key);
    t.before.set('putRecord', async () => {
      await t.passkeys.remove('usr_alice', key.id);
    });
    await t.passkeys.rename('usr_alice', key.id, 'Renamed').catch(() => undefined);
    expect(await t.passkeys.list('usr_alice')).toEqual([]);
    expect(await codeOf(t.signIn(key))).toBe('ERR_PASSKEY_REFUSED');
  });

  it('a sign-in that passes keeps its counter (a clone is still refused), a rename its name', async () => {
    const t = passkeysHarness();
    const key = t.authenticator();
    await t.register(key);
    await t.signIn(key, { counter: 7 });
    await t.passkeys.rename('usr_alice', key.id, 'Work laptop');
    expect(await t.passkeys.list('usr_alice')).toMatchObject([{ id: key.id, name: 'Work laptop' }]);
    expect((await t.passkeys.list('usr_alice'))[0]?.lastUsedAt).toBeTypeOf('number');
    expect(await codeOf(t.signIn(key, { counter: 6 }))).toBe('ERR_PASSKEY_REFUSED');
    expect(t.audit.filter((e) => e.type === 'passkey.cloned')).toHaveLength(1);
    await t.signIn(key, { counter: 8 });
  });
});
