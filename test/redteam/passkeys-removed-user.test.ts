/**
 * Red team (passkeys): a passkey whose user no longer exists signed in. The password path asks
 * `authenticate`, which knows removed users; the passkey path asked nothing, and opened a session
 * (and, on the hosted page, an authorization code) for any user id a stored passkey names — one
 * that came back after its user's removal (test/redteam/passkeys-deleted-comes-back.test.ts), or
 * one an app forgot when it removed a user. The service's `userScope` also answered for a removed
 * user with the scopes of whoever took the username since (`users.byId` trusted a remembered name).
 * Fixed: `userScope` undefined means no such user, and the passkey is refused; `byId` checks the id.
 */
import { describe, expect, it } from 'vitest';
import { createAuthHandler } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { users } from 'baton-auth-server';
import { passkeysHarness, ORIGIN } from './passkeys-harness.ts';

describe('red team: a passkey of a user who is gone', () => {
  it('opens no session', async () => {
    const t = passkeysHarness();
    const key = t.authenticator();
    await t.register(key, 'usr_gone');
    // The app removed usr_gone but not its passkeys.
    const known = new Set(['usr_alice']);
    const handler = createAuthHandler({
      baton: t.baton,
      authenticate: async () => null,
      passkeys: t.passkeys,
      userScope: async (id) => (known.has(id) ? '' : undefined),
    });
    const call = (path: string, cookie = '', body?: unknown) =>
      handler(
        new Request(`${ORIGIN}${path}`, {
          method: 'POST',
          headers: { origin: ORIGIN, cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }),
        { ip: '203.0.113.9' },
      );
    const opts = await call('/auth/passkeys/sign-in-options');
    const cookie = (opts.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const res = await call('/auth/passkeys/sign-in', cookie, { credential: JSON.stringify(key.signIn((await opts.json()) as { challenge: string })) });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error_description: string }).error_description).toMatch(/no longer exists/);
    expect(await t.baton.listSessions('usr_gone')).toEqual([]);
  });

  it('the service does not take a removed user’s id for the user who took the name since', async () => {
    const store = memoryStore();
    const old = await users.add(store, 'carol', 'old password 1');
    expect((await users.byId(store, old.id))?.id).toBe(old.id); // remembered by name
    await users.remove(store, 'carol');
    const next = await users.add(store, 'carol', 'new password 2', 'admin');
    expect(await users.byId(store, old.id)).toBeNull();
    expect((await users.byId(store, next.id))?.scopes).toEqual(['admin']);
  });
});
