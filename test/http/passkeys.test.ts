/**
 * Passkeys over HTTP, in process (`createAuthHandler`'s `passkeys`, made by `baton-auth/passkeys`),
 * answered by a software authenticator (test/support/software-authenticator.ts): a registration and
 * a sign-in opening a session that says "passkey"; the challenge written nowhere (2,000 sign-in
 * options, no store write), bound to the browser's cookie, short-lived and spent once; user
 * verification required; counters of 0 accepted while both stay 0, a counter that goes back refused
 * and audited; at most `maxPerUser` passkeys; every endpoint refused cross-site, the user's own
 * refused without the access token; the relying party ID and origins checked when made.
 */
import { describe, expect, it } from 'vitest';
import { BatonConfigError } from 'baton-auth';
import type { AuditEvent } from 'baton-auth';
import { createAuthHandler, createLoginProtection } from 'baton-auth/http';
import type { LoginProtection } from 'baton-auth/http';
import { createPasskeys } from 'baton-auth/passkeys';
import { memoryStore } from 'baton-auth/stores/memory';
import { loadConfig } from 'baton-auth-server';
import { countingStore } from '../support/counting-store.ts';
import { makeBaton } from '../support/baton.ts';
import { softwareAuthenticator } from '../support/software-authenticator.ts';

const ISSUER = 'https://auth.test';
const EVIL = 'https://evil.example';
/** The store methods that write. */
const WRITE = /^(put|delete|consume|hit|create|deny|save|rotate|revoke|announce|reset|record)/;

function setup(o: { maxPerUser?: number; loginProtection?: (now: () => number) => LoginProtection } = {}) {
  // The real memory store, with its writes counted.
  const { store, raw, writes } = countingStore(WRITE);
  const audit: AuditEvent[] = [];
  const { baton, clock } = makeBaton({ store, audit: (e) => audit.push(e) });
  const passkeys = createPasskeys({ baton, store, rpId: 'auth.test', origins: [ISSUER], ...(o.maxPerUser ? { maxPerUser: o.maxPerUser } : {}) });
  const handler = createAuthHandler({
    baton,
    authenticate: async () => null,
    passkeys,
    userScope: async () => '',
    ...(o.loginProtection ? { loginProtection: o.loginProtection(clock.now) } : {}),
  });
  const call = (method: string, path: string, o: { body?: unknown; headers?: Record<string, string> } = {}) =>
    handler(
      new Request(`${ISSUER}${path}`, {
        method,
        headers: { ...(o.body === undefined ? {} : { 'content-type': 'application/json' }), ...o.headers },
        ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
      }),
      { ip: '203.0.113.5' },
    );
  const cookieOf = (res: Response): string => (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const bearer = async (userId = 'usr_alice') => ({ authorization: `Bearer ${(await baton.login(userId)).access_token}` });
  /** Registers a passkey of `authenticator` for alice through the endpoints. */
  const register = async (authenticator: ReturnType<typeof softwareAuthenticator>, answer = {}) => {
    const auth = await bearer();
    const opts = await call('POST', '/auth/passkeys/registration-options', { headers: auth });
    expect(opts.status).toBe(200);
    return call('POST', '/auth/passkeys/registration', {
      headers: { ...auth, cookie: cookieOf(opts) },
      body: { credential: JSON.stringify(authenticator.register(await opts.json(), answer)), name: 'Laptop' },
    });
  };
  const signInOptions = async () => {
    const res = await call('POST', '/auth/passkeys/sign-in-options', { headers: { origin: ISSUER } });
    return { options: (await res.json()) as { challenge: string }, cookie: cookieOf(res), res };
  };
  const signIn = (answer: unknown, cookie: string) =>
    call('POST', '/auth/passkeys/sign-in', { headers: { origin: ISSUER, cookie }, body: { credential: JSON.stringify(answer) } });
  return { baton, clock, store, raw, writes, audit, passkeys, call, bearer, register, signInOptions, signIn, cookieOf };
}

const description = async (res: Response): Promise<string> => ((await res.json()) as { error_description: string }).error_description;

describe('passkeys over HTTP', () => {
  it('a passkey registered by a signed-in user signs in alone: a session whose device says passkey, the audit trail too', async () => {
    const t = setup();
    const key = softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' });
    const added = await t.register(key);
    expect(added.status).toBe(201);
    expect(await added.json()).toMatchObject({ id: key.id, name: 'Laptop' });
    const { options, cookie, res } = await t.signInOptions();
    expect(res.headers.get('set-cookie')).toMatch(/^__Host-baton_webauthn=[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Secure; Max-Age=600$/);
    const ok = await t.signIn(key.signIn(options), cookie);
    expect(ok.status).toBe(200);
    const { session_id } = (await ok.json()) as { session_id: string };
    expect((await t.baton.listSessions('usr_alice')).find((s) => s.id === session_id)?.device.method).toBe('passkey');
    expect(t.audit.filter((e) => e.type === 'login.succeeded').at(-1)).toMatchObject({ user: 'usr_alice', method: 'passkey', session: session_id });
    expect(t.audit.some((e) => e.type === 'passkey.registered' && e.credential === key.id)).toBe(true);
  });

  it('asking for sign-in options writes nothing: 2,000 of them, not one store write, each its own challenge', async () => {
    const t = setup();
    const before = t.writes.length;
    const challenges = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const { options, res } = await t.signInOptions();
      expect(res.status).toBe(200);
      challenges.add(options.challenge);
    }
    expect(t.writes.slice(before)).toEqual([]);
    expect(challenges.size).toBe(2000);
  });

  it('a challenge counts only from the browser that asked, for 5 minutes, once', async () => {
    const t = setup();
    const key = softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' });
    expect((await t.register(key)).status).toBe(201);
    // Another browser's answer: no state cookie, or another browser's.
    const mine = await t.signInOptions();
    const theirs = await t.signInOptions();
    const stale = /expired or was not started in this browser/;
    expect(await description(await t.signIn(key.signIn(mine.options), ''))).toMatch(stale);
    expect(await description(await t.signIn(key.signIn(mine.options), theirs.cookie))).toMatch(/challenge/i);
    // A registration's state is no sign-in's.
    const reg = await t.call('POST', '/auth/passkeys/registration-options', { headers: await t.bearer() });
    expect(await description(await t.signIn(key.signIn({ challenge: ((await reg.json()) as { challenge: string }).challenge }), t.cookieOf(reg)))).toMatch(
      stale,
    );
    // Short-lived: past its 5 minutes the state opens no more.
    const late = await t.signInOptions();
    t.clock.advance(5 * 60_000 + 1);
    expect(await description(await t.signIn(key.signIn(late.options), late.cookie))).toMatch(stale);
    // Once: the same answer again is refused (an authenticator that does not count, so that no counter refuses it first).
    const once = await t.signInOptions();
    const answer = key.signIn(once.options, { counter: 0 });
    expect((await t.signIn(answer, once.cookie)).status).toBe(200);
    const again = await t.signIn(answer, once.cookie);
    expect(again.status).toBe(401);
    expect(await description(again)).toMatch(/already used/);
  });

  it('a registration counts only for the session that asked for its options', async () => {
    const t = setup();
    const key = softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' });
    const [mine, other] = [await t.bearer(), await t.bearer()];
    const opts = await t.call('POST', '/auth/passkeys/registration-options', { headers: mine });
    const answer = JSON.stringify(key.register(await opts.json()));
    const elsewhere = await t.call('POST', '/auth/passkeys/registration', { headers: { ...other, cookie: t.cookieOf(opts) }, body: { credential: answer } });
    expect(elsewhere.status).toBe(401);
    expect(await description(elsewhere)).toMatch(/started by another sign-in/);
    const bob = await t.call('POST', '/auth/passkeys/registration', {
      headers: { ...(await t.bearer('usr_bob')), cookie: t.cookieOf(opts) },
      body: { credential: answer },
    });
    expect(bob.status).toBe(401);
    expect(await t.passkeys.list('usr_bob')).toEqual([]);
    expect((await t.call('POST', '/auth/passkeys/registration', { headers: { ...mine, cookie: t.cookieOf(opts) }, body: { credential: answer } })).status).toBe(
      201,
    );
  });

  it('failed passkey sign-ins are counted per address by the login protection; a blocked address is refused, a right passkey too, until the block ends', async () => {
    const t = setup({ loginProtection: (now) => createLoginProtection({ now, failures: { max: 3, blockMs: 60_000 }, failuresPerIp: false }) });
    const key = softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' });
    expect((await t.register(key)).status).toBe(201);
    const stranger = softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' });
    stranger.register({ challenge: 'none', user: { id: Buffer.from('usr_alice').toString('base64url') } });
    for (let i = 0; i < 3; i++) {
      const { options, cookie } = await t.signInOptions();
      const res = await t.signIn(stranger.signIn(options), cookie);
      expect(res.status, `attempt ${i}: ${await res.clone().text()}`).toBe(i < 2 ? 401 : 429);
    }
    const { options, cookie } = await t.signInOptions();
    const blocked = await t.signIn(key.signIn(options, { counter: 0 }), cookie);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(t.audit.filter((e) => e.type === 'login.failed' && e.method === 'passkey')).toHaveLength(3);
    expect(t.audit.some((e) => e.type === 'login.throttled' && e.method === 'passkey')).toBe(true);
    t.clock.advance(60_001);
    expect((await t.signIn(key.signIn(options, { counter: 0 }), cookie)).status).toBe(200);
  });

  it('user verification is required, at registration and at sign-in', async () => {
    const t = setup();
    const key = softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' });
    const unverified = await t.register(key, { verified: false });
    expect(unverified.status).toBe(401);
    expect(await description(unverified)).toMatch(/verif/i);
    expect(await t.passkeys.list('usr_alice')).toEqual([]);
    expect((await t.register(key)).status).toBe(201);
    const { options, cookie } = await t.signInOptions();
    const refused = await t.signIn(key.signIn(options, { verified: false }), cookie);
    expect(refused.status).toBe(401);
    expect(await description(refused)).toMatch(/verif/i);
  });

  it('counters of 0 (an authenticator that does not count) pass while both stay 0; a counter that goes back is refused and audited', async () => {
    const t = setup();
    const key = softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' });
    expect((await t.register(key)).status).toBe(201);
    for (let i = 0; i < 2; i++) {
      const { options, cookie } = await t.signInOptions();
      expect((await t.signIn(key.signIn(options, { counter: 0 }), cookie)).status).toBe(200);
    }
    const counted = await t.signInOptions();
    expect((await t.signIn(key.signIn(counted.options, { counter: 5 }), counted.cookie)).status).toBe(200);
    for (const counter of [5, 4, 0]) {
      const { options, cookie } = await t.signInOptions();
      const refused = await t.signIn(key.signIn(options, { counter }), cookie);
      expect(refused.status).toBe(401);
      expect(await description(refused)).toMatch(/signature counter went backwards/);
    }
    const cloned = t.audit.filter((e) => e.type === 'passkey.cloned');
    expect(cloned).toHaveLength(3);
    expect(cloned[0]).toMatchObject({ outcome: 'failure', user: 'usr_alice', credential: key.id, reason: 'counter_went_back', ip: '203.0.113.5' });
  });

  it(`a user has at most maxPerUser passkeys: asking for one more is a sentence, and so is a registration that would pass the bound`, async () => {
    const t = setup({ maxPerUser: 3 });
    for (let i = 0; i < 2; i++) expect((await t.register(softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' }))).status).toBe(201);
    // A ceremony begun at 2, finished after another reached 3.
    const auth = await t.bearer();
    const opts = await t.call('POST', '/auth/passkeys/registration-options', { headers: auth });
    expect((await t.register(softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' }))).status).toBe(201);
    const late = await t.call('POST', '/auth/passkeys/registration', {
      headers: { ...auth, cookie: t.cookieOf(opts) },
      body: { credential: JSON.stringify(softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' }).register(await opts.json())) },
    });
    expect(late.status).toBe(400);
    const full = await t.call('POST', '/auth/passkeys/registration-options', { headers: await t.bearer() });
    expect(full.status).toBe(400);
    expect(await description(full)).toBe('You have 3 passkeys, the most one account may have (3): delete one you no longer use, then add the new one.');
    expect(await t.passkeys.list('usr_alice')).toHaveLength(3);
  });

  it('every endpoint is refused cross-site; the user’s own need the access token, not a cookie', async () => {
    const t = setup();
    const key = softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' });
    expect((await t.register(key)).status).toBe(201);
    const auth = await t.bearer();
    const attempts: Array<[string, string, unknown?]> = [
      ['POST', '/auth/passkeys/registration-options'],
      ['POST', '/auth/passkeys/registration', { credential: '{}' }],
      ['PATCH', `/auth/passkeys/${key.id}`, { name: 'Mine now' }],
      ['DELETE', `/auth/passkeys/${key.id}`],
      ['POST', '/auth/passkeys/sign-in-options'],
      ['POST', '/auth/passkeys/sign-in', { credential: '{}' }],
    ];
    for (const [method, path, body] of attempts) {
      // A cross-site page's request (a form post or a fetch): refused before anything is decided.
      const crossSite = await t.call(method, path, { headers: { ...auth, origin: EVIL }, body });
      expect(crossSite.status, `${method} ${path}`).toBe(403);
      const fetchMetadata = await t.call(method, path, { headers: { ...auth, 'sec-fetch-site': 'cross-site' }, body });
      expect(fetchMetadata.status, `${method} ${path}`).toBe(403);
    }
    // The user's own endpoints with cookies alone (what a cross-site request could carry): 401.
    for (const [method, path, body] of attempts.slice(0, 4)) {
      const res = await t.call(method, path, { headers: { origin: ISSUER, cookie: '__Host-baton_rt=x; __Host-baton_webauthn=y' }, body });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
    expect((await t.passkeys.list('usr_alice')).map((p) => p.name)).toEqual(['Laptop']);
  });

  it('renames and deletes a user’s own passkey only, with the audit trail', async () => {
    const t = setup();
    const key = softwareAuthenticator({ origin: ISSUER, rpId: 'auth.test' });
    expect((await t.register(key)).status).toBe(201);
    const bob = await t.bearer('usr_bob');
    expect((await t.call('PATCH', `/auth/passkeys/${key.id}`, { headers: bob, body: { name: 'Bob’s' } })).status).toBe(404);
    expect((await t.call('DELETE', `/auth/passkeys/${key.id}`, { headers: bob })).status).toBe(404);
    const auth = await t.bearer();
    const bad = await t.call('PATCH', `/auth/passkeys/${key.id}`, { headers: auth, body: { name: 'x'.repeat(65) } });
    expect(bad.status).toBe(400);
    const renamed = await t.call('PATCH', `/auth/passkeys/${key.id}`, { headers: auth, body: { name: 'Work laptop' } });
    expect(await renamed.json()).toMatchObject({ id: key.id, name: 'Work laptop' });
    const list = await t.call('GET', '/auth/passkeys', { headers: auth });
    expect(await list.json()).toMatchObject({ max: 20, passkeys: [{ id: key.id, name: 'Work laptop' }] });
    expect((await t.call('DELETE', `/auth/passkeys/${key.id}`, { headers: auth })).status).toBe(204);
    expect((await t.call('DELETE', `/auth/passkeys/${key.id}`, { headers: auth })).status).toBe(404);
    expect(t.audit.filter((e) => e.type.startsWith('passkey.')).map((e) => e.type)).toEqual(['passkey.registered', 'passkey.renamed', 'passkey.removed']);
    // Deleted, it signs in no more.
    const { options, cookie } = await t.signInOptions();
    expect(await description(await t.signIn(key.signIn(options), cookie))).toMatch(/not registered here/);
  });
});

describe('passkey configuration', () => {
  const { baton } = makeBaton();
  const store = memoryStore();
  it('a relying party ID and origins that do not fit are a sentence when made', () => {
    const make = (rpId: string, origins: string[]) => () => createPasskeys({ baton, store, rpId, origins });
    expect(make('https://example.com', ['https://example.com'])).toThrow(/rpId must be a domain name in lower case/);
    expect(make('127.0.0.1', ['http://127.0.0.1'])).toThrow(/not an IP address/);
    expect(make('example.com', [])).toThrow(/at least one origin/);
    expect(make('example.com', ['https://example.com/'])).toThrow(/not an origin as a browser sends it/);
    expect(make('example.com', ['http://example.com'])).toThrow(/must be https \(plain http only on localhost\)/);
    expect(make('example.com', ['https://example.org'])).toThrow(/is not on the relying party ID example.com/);
    expect(make('example.com', ['https://notexample.com'])).toThrow(/is not on the relying party ID/);
    expect(() => createPasskeys({ baton, store, rpId: 'example.com', origins: ['https://example.com'], maxPerUser: 101 })).toThrow(BatonConfigError);
    expect(make('example.com', ['https://auth.example.com', 'https://example.com:8443'])().origins).toEqual([
      'https://auth.example.com',
      'https://example.com:8443',
    ]);
  });

  it('the service stops at start with a sentence naming its setting', () => {
    const base = { BATON_STORE: 'memory:', BATON_ISSUER: 'https://auth.example.com' };
    expect(() => loadConfig({ ...base, BATON_PASSKEYS_RP_ID: 'auth.example.com:443' })).toThrow(/BATON_PASSKEYS_RP_ID must be a domain name/);
    expect(() => loadConfig({ ...base, BATON_PASSKEYS_RP_ID: 'example.org' })).toThrow(
      /BATON_PASSKEYS_ORIGINS \(unset: the issuer's origin\): https:\/\/auth.example.com is not on the relying party ID example.org/,
    );
    expect(() => loadConfig({ ...base, BATON_PASSKEYS_ORIGINS: 'https://auth.example.com' })).toThrow(/BATON_PASSKEYS_RP_ID is not/);
    expect(() => loadConfig({ ...base, BATON_PASSKEYS_RP_ID: 'example.com', BATON_PASSKEYS_MAX: '0' })).toThrow(
      /BATON_PASSKEYS_MAX must be a whole number from 1 to 100/,
    );
    expect(loadConfig({ ...base, BATON_PASSKEYS_RP_ID: 'example.com' }).passkeys).toEqual({
      rpId: 'example.com',
      origins: ['https://auth.example.com'],
      maxPerUser: 20,
    });
    expect(loadConfig(base).passkeys).toBeUndefined();
  });
});
