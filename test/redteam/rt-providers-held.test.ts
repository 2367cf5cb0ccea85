/**
 * Red team of sign-in with other providers (issue #27) and of #26's performance changes: the
 * attacks that held, kept as tests so the claims stay proved. The provider is in process
 * (rt-providers-harness.ts), the handler in process (test/support/authz.ts).
 */
import { describe, expect, it } from 'vitest';
import { memoryStore } from 'baton-auth/stores/memory';
import { countingStore } from '../support/counting-store.ts';
import { upstreamProvider } from 'baton-auth/http';
import type { UpstreamIdentity } from 'baton-auth/http';
import { linkUser } from '../../packages/baton-auth-server/src/server/providers.ts';
import { users } from '../../packages/baton-auth-server/src/server/users.ts';
import { ISSUER, setup } from '../support/authz.ts';
import { answer, fakeOp } from './rt-providers-harness.ts';
import type { FakeOp } from './rt-providers-harness.ts';

const RU = 'https://rp.example/auth/providers/acme/callback';

/** What `acme` says of the person when its ID token carries `claims`. */
async function identityOf(claims: Record<string, unknown>, userinfo?: Record<string, unknown>): Promise<UpstreamIdentity> {
  const op = await fakeOp();
  op.idClaims = claims;
  op.userinfo = userinfo;
  const acme = upstreamProvider({ name: 'acme', issuer: op.issuer, clientId: 'rp', clientSecret: 's', fetch: op.fetch });
  const { url, transaction } = await acme.start(RU);
  return acme.finish(answer(op, url, RU), transaction, RU);
}

describe('what a provider says: only email_verified true (or Apple\'s "true") verifies', () => {
  it.each([
    [{ email: 'a@example.com', email_verified: true }, true],
    [{ email: 'a@example.com', email_verified: 'true' }, true],
    [{ email: 'a@example.com', email_verified: 'false' }, false],
    [{ email: 'a@example.com', email_verified: 1 }, false],
    [{ email: 'a@example.com', email_verified: 'TRUE' }, false],
    [{ email: 'a@example.com' }, false], // Microsoft's email: no email_verified, not verified
    [{ email_verified: true }, false], // verified, but no email
  ])('%j → emailVerified %s', async (claims, verified) => {
    expect((await identityOf(claims)).emailVerified).toBe(verified);
  });

  it("an ID token's email wins over UserInfo's (UserInfo is asked only when the ID token has none)", async () => {
    const who = await identityOf({ email: 'mine@example.com', email_verified: false }, { email: 'victim@example.com', email_verified: true });
    expect(who).toMatchObject({ email: 'mine@example.com', emailVerified: false });
  });
});

describe('new users and links (the service)', () => {
  const id = (over: Partial<UpstreamIdentity>): UpstreamIdentity => ({
    provider: 'acme',
    issuer: 'https://op.example',
    subject: 's',
    emailVerified: false,
    ...over,
  });

  it('a preferred_username of "admin", of an existing user, or an email never becomes that name: a suffix, no @', async () => {
    const store = memoryStore();
    const admin = await users.add(store, 'admin', 'a long password', 'admin');
    const a = await linkUser(store, id({ subject: '1', username: 'admin' }));
    const b = await linkUser(store, id({ subject: '2', username: 'ADMIN' }));
    const c = await linkUser(store, id({ subject: '3', username: 'boss@example.com', email: 'boss@example.com' }));
    for (const u of [a, b, c]) {
      expect(u.userId).not.toBe(admin.id);
      expect(u.scope).toBe('');
      expect(u.username).toMatch(/^[A-Za-z0-9._-]+-[0-9a-f]{8}$/);
    }
    // So a later user of that email (a username that is an email) is never one a provider made.
    expect(await users.byEmail(store, 'boss@example.com')).toBeNull();
  });

  it('the same verified email at two providers (two issuers) links both to its user; an unverified one at either links to no one', async () => {
    const store = memoryStore();
    const kate = await users.add(store, 'kate', 'a long password', '', 'kate@example.com');
    expect((await linkUser(store, id({ issuer: 'https://accounts.google.com', email: 'kate@example.com', emailVerified: true }))).userId).toBe(kate.id);
    expect((await linkUser(store, id({ issuer: 'https://github.com', email: 'kate@example.com', emailVerified: true }))).userId).toBe(kate.id);
    expect((await linkUser(store, id({ issuer: 'https://other.example', email: 'kate@example.com' }))).userId).not.toBe(kate.id);
  });

  it('an email with whitespace, two @ or 300 characters finds no one', async () => {
    const store = memoryStore();
    await users.add(store, 'kate', 'a long password', '', 'kate@example.com');
    for (const email of [' kate@example.com', 'kate@example.com ', 'x@kate@example.com', `${'k'.repeat(300)}@example.com`])
      expect(await users.byEmail(store, email)).toBeNull();
  });
});

describe('the callback (the handler)', () => {
  async function twoProviders() {
    const [a, b] = [await fakeOp('https://a.example', 'alice-at-a'), await fakeOp('https://b.example', 'alice-at-b')];
    const pa = upstreamProvider({ name: 'pa', issuer: a.issuer, clientId: 'rp', clientSecret: 's', fetch: a.fetch });
    const pb = upstreamProvider({ name: 'pb', issuer: b.issuer, clientId: 'rp', clientSecret: 's', fetch: b.fetch });
    const seen: string[] = [];
    const t = setup({ authorization: { providers: { list: async () => [pa, pb], user: async (i) => (seen.push(i.subject), { userId: `u-${i.subject}` }) } } });
    return { a, b, t, seen };
  }
  const tokenCalls = (op: FakeOp) => op.seen.filter((p) => p === '/token').length;

  it("mix-up: provider A's answer delivered to B's callback is refused, and neither token endpoint is asked", async () => {
    const { a, b, t, seen } = await twoProviders();
    const browser = t.browser();
    const start = await browser.get('/auth/providers/pa/start');
    expect(start.status).toBe(303);
    const theirs = answer(a, new URL(start.headers.get('location') as string), `${ISSUER}/auth/providers/pb/callback`);
    const refused = await browser.get(theirs.href);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('did not start in this browser');
    expect([tokenCalls(a), tokenCalls(b), seen.length]).toEqual([0, 0, 0]);
  });

  it('a transaction cookie used after its 10 minutes is refused, and the provider is not asked', async () => {
    const { a, t, seen } = await twoProviders();
    const browser = t.browser();
    const start = await browser.get('/auth/providers/pa/start');
    const back = answer(a, new URL(start.headers.get('location') as string), `${ISSUER}/auth/providers/pa/callback`);
    const cookie = browser.cookieHeader();
    t.clock.advance(10 * 60_000 + 1000);
    const late = await t.call(back.href.slice(ISSUER.length), { headers: { cookie } });
    expect(late.status).toBe(400);
    expect(await late.text()).toContain('expired or did not start in this browser');
    expect([tokenCalls(a), seen.length]).toEqual([0, 0]);
  });

  it('a sealed value of another purpose in the transaction cookie opens nothing', async () => {
    const { t } = await twoProviders();
    const b = t.browser();
    const page = await b.get(t.authorizePath());
    const txn = /name="txn" value="([^"]+)"/.exec(await page.text())?.[1] as string;
    const res = await t.call('/auth/providers/pa/callback?code=x&state=y', { headers: { cookie: `__Host-baton_up=${txn}` } });
    expect(res.status).toBe(400);
  });

  it("an error answer without state, and a provider's error_description, sign no one in and quote nothing but the error code", async () => {
    const { a, t, seen } = await twoProviders();
    const b = t.browser();
    await b.get('/auth/providers/pa/start');
    const cookie = b.cookieHeader();
    const noState = await t.call('/auth/providers/pa/callback?error=access_denied', { headers: { cookie } });
    expect(noState.status).toBe(400);
    a.override.set('/token', () => Response.json({ error: 'invalid_grant', error_description: 'code-0 client_secret=s' }, { status: 400 }));
    const start = await b.get('/auth/providers/pa/start');
    const res = await b.get(answer(a, new URL(start.headers.get('location') as string), `${ISSUER}/auth/providers/pa/callback`).href);
    expect(res.status).toBe(403);
    const text = await res.text();
    expect(text).toContain('invalid_grant');
    expect(text).not.toContain('client_secret');
    expect(t.logs.join('\n')).not.toMatch(/code-0|client_secret=s/);
    expect(seen).toEqual([]);
  });

  it('200 refused callbacks (no transaction) write nothing to the store', async () => {
    const { store, writes: calls } = countingStore(/^/);
    const op = await fakeOp();
    const acme = upstreamProvider({ name: 'acme', issuer: op.issuer, clientId: 'rp', fetch: op.fetch });
    const t = setup({ authorization: { providers: { list: async () => [acme], user: async () => null } } }, undefined, { store });
    calls.length = 0;
    for (let i = 0; i < 200; i++) expect((await t.call(`/auth/providers/acme/callback?code=c${i}&state=s${i}`)).status).toBe(400);
    expect(calls).toEqual([]); // not even a read
    expect(op.seen).toEqual([]);
    await t.baton.login('someone', {});
    expect(calls.length).toBeGreaterThan(0); // the store counted is the one in use
  });
});
