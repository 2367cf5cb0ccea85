/**
 * Red team (passkeys, lockout): failed passkey sign-ins were counted under one name for every
 * passkey ('#passkey') per address, ten in a row blocking the pair for an hour. Ten junk answers
 * (`credential={}`, no credentials needed) from an address shared by many people — a carrier's
 * CGNAT, an office, a campus, a café — so blocked every passkey sign-in from it for an hour, the
 * hosted page's too, again every hour; a wrong password locks only its own username there. Fixed:
 * an answer is counted under the user its user handle names (`#passkey:<user id>`, still no
 * username's), so a stranger's failures block that user from that address at most, and junk without
 * a user handle only junk; the address's daily budget (100) bounds the whole as before.
 */
import { describe, expect, it } from 'vitest';
import { createAuthHandler } from 'baton-auth/http';
import { passkeysHarness, ORIGIN } from './passkeys-harness.ts';
import { softwareAuthenticator } from '../support/software-authenticator.ts';

function service() {
  const t = passkeysHarness();
  const handler = createAuthHandler({ baton: t.baton, authenticate: async () => null, passkeys: t.passkeys, userScope: async () => '' });
  const post = (path: string, cookie = '', body?: unknown) =>
    handler(
      new Request(`${ORIGIN}${path}`, {
        method: 'POST',
        headers: { origin: ORIGIN, cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
      { ip: '198.51.100.20' }, // one address for everyone: a carrier-grade NAT
    );
  const signIn = async (answer: (options: { challenge: string }) => unknown) => {
    const opts = await post('/auth/passkeys/sign-in-options');
    const cookie = (opts.headers.get('set-cookie') ?? '').split(';')[0] as string;
    return post('/auth/passkeys/sign-in', cookie, { credential: JSON.stringify(answer((await opts.json()) as { challenge: string })) });
  };
  return { t, signIn };
}

describe('red team: passkey failures from an address many people share', () => {
  it('ten junk answers from it do not block the others’ passkeys', async () => {
    const { t, signIn } = service();
    const alice = t.authenticator();
    await t.register(alice);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await signIn(() => ({}))).status);
    expect(statuses.slice(0, 9), String(statuses)).toEqual(Array(9).fill(401));
    expect(statuses.at(-1)).toBe(429); // the junk itself is throttled
    expect((await signIn((o) => alice.signIn(o))).status).toBe(200);
  });

  it('ten wrong answers naming bob block bob’s passkeys from it, not alice’s', async () => {
    const { t, signIn } = service();
    const [alice, bob] = [t.authenticator(), t.authenticator()];
    await t.register(alice);
    await t.register(bob, 'usr_bob');
    // A stranger's authenticator answering with bob's user handle and credential id: a signature check each.
    const stranger = softwareAuthenticator({ origin: ORIGIN, rpId: 'auth.test' });
    stranger.register({ challenge: 'none', user: { id: Buffer.from('usr_bob').toString('base64url') } });
    const forged = (o: { challenge: string }) => ({ ...stranger.signIn(o), id: bob.id, rawId: bob.id });
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await signIn(forged)).status);
    expect(statuses.slice(0, 9)).toEqual(Array(9).fill(401));
    expect(statuses.at(-1)).toBe(429);
    expect((await signIn((o) => bob.signIn(o))).status).toBe(429);
    expect((await signIn((o) => alice.signIn(o))).status).toBe(200);
  });
});
