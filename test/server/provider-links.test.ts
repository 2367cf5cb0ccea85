/**
 * Account links of sign-in with other providers (issue #27), on the service's store: the same
 * upstream account (issuer and subject) always signs in as the same user — concurrent first
 * sign-ins included —; a verified email links to the user of that email (any case), an unverified
 * one to no one; a new user gets a generated unique username and no scope; a link to a user who was
 * removed links afresh.
 */
import { describe, expect, it } from 'vitest';
import { memoryStore } from 'baton-auth/stores/memory';
import type { UpstreamIdentity } from 'baton-auth/http';
import { linkUser, providers, storeProviders } from '../../packages/baton-auth-server/src/server/providers.ts';
import { users } from '../../packages/baton-auth-server/src/server/users.ts';

const identity = (over: Partial<UpstreamIdentity> = {}): UpstreamIdentity => ({
  provider: 'google',
  issuer: 'https://accounts.google.com',
  subject: '1001',
  emailVerified: false,
  ...over,
});

describe('linkUser', () => {
  it('ten first sign-ins of one account at once make one user, and all sign in as it', async () => {
    const store = memoryStore();
    const all = await Promise.all(Array.from({ length: 10 }, () => linkUser(store, identity({ username: 'newcomer' }))));
    expect(new Set(all.map((u) => u.userId)).size).toBe(1);
    expect((await users.list(store)).map((u) => u.username)).toEqual([all[0]?.username]);
    expect(all[0]?.username).toMatch(/^newcomer-[0-9a-f]{8}$/);
    expect(all[0]?.scope).toBe('');
  });

  it('a verified email links to its user (any case); unverified, or of another provider account, it does not', async () => {
    const store = memoryStore();
    const carol = await users.add(store, 'carol', 'a long password', 'profile', 'Carol@Example.com');
    expect((await linkUser(store, identity({ subject: 'a', email: 'carol@example.COM', emailVerified: true }))).userId).toBe(carol.id);
    expect((await linkUser(store, identity({ subject: 'b', email: 'carol@example.com', emailVerified: false }))).userId).not.toBe(carol.id);
    // The same issuer and subject again, whatever email it says now: the user it was linked to.
    expect((await linkUser(store, identity({ subject: 'b', email: 'carol@example.com', emailVerified: true }))).userId).not.toBe(carol.id);
    // Another issuer with the same subject is another account.
    expect((await linkUser(store, identity({ issuer: 'https://github.com', subject: 'a' }))).userId).not.toBe(carol.id);
  });

  it('a username that is the verified email links too; a link whose user was removed links afresh', async () => {
    const store = memoryStore();
    const dave = await users.add(store, 'dave@example.com', 'a long password');
    const first = await linkUser(store, identity({ email: 'dave@example.com', emailVerified: true }));
    expect(first.userId).toBe(dave.id);
    await users.remove(store, 'dave@example.com');
    const again = await linkUser(store, identity({ email: 'dave@example.com', emailVerified: true }));
    expect(again.userId).not.toBe(dave.id);
    expect((await linkUser(store, identity())).userId).toBe(again.userId);
  });
});

describe("a provider's client secret and the service secret", () => {
  it('is sealed under the service secret, and `secret rotate` (reseal) moves it to the new one', async () => {
    const store = memoryStore();
    const [a, b] = [
      { bytes: new Uint8Array(32).fill(1), origin: 'a' },
      { bytes: new Uint8Array(32).fill(2), origin: 'b' },
    ];
    await providers.add(store, a, { name: 'acme', issuer: 'https://login.acme.example', clientId: 'x', clientSecret: 'the-secret' }, { check: false });
    expect((await store.listRecords('providers'))[0]?.value).not.toContain('the-secret');
    expect((await storeProviders(store, a)()).map((p) => p.name)).toEqual(['acme']);
    await providers.reseal(store, a, b.bytes);
    expect(await storeProviders(store, a)()).toEqual([]); // the old secret opens it no more: no button
    expect((await storeProviders(store, b)()).map((p) => p.name)).toEqual(['acme']);
  });
});
