/**
 * Red team of sign-in with other providers (issue #27): the breaks found, each shown against an
 * in-process OpenID Connect provider (rt-providers-harness.ts) or the service's store.
 */
import { describe, expect, it, vi } from 'vitest';
import { memoryStore } from 'baton-auth/stores/memory';
import { upstreamProvider } from 'baton-auth/http';
import type { UpstreamIdentity } from 'baton-auth/http';
import { linkUser } from '../../packages/baton-auth-server/src/server/providers.ts';
import { users } from '../../packages/baton-auth-server/src/server/users.ts';
import { generateKeyPair, exportJWK } from 'jose';
import { readFields } from '../../packages/baton-auth/src/http/respond.ts';
import { ISSUER, setup } from '../support/authz.ts';
import { answer, fakeOp } from './rt-providers-harness.ts';

const RU = 'https://rp.example/auth/providers/acme/callback';

describe('account links: only the email the provider verified', () => {
  it("an ID token's email_verified does not vouch for UserInfo's email (they are one answer's, OIDC Core §5.1)", async () => {
    const op = await fakeOp();
    // The ID token says "verified" of no email; UserInfo gives an email it says is not verified.
    op.idClaims = { email_verified: true };
    op.userinfo = { email: 'victim@example.com', email_verified: false };
    const acme = upstreamProvider({ name: 'acme', issuer: op.issuer, clientId: 'rp', clientSecret: 's', fetch: op.fetch });
    const { url, transaction } = await acme.start(RU);
    const who = await acme.finish(answer(op, url, RU), transaction, RU);
    expect(op.seen).toContain('/userinfo');
    expect(who).toMatchObject({ email: 'victim@example.com', emailVerified: false });
    // UserInfo's own verified email still counts.
    op.userinfo = { email: 'someone@example.com', email_verified: true };
    const second = await acme.start(RU);
    expect(await acme.finish(answer(op, second.url, RU), second.transaction, RU)).toMatchObject({ email: 'someone@example.com', emailVerified: true });
  });

  it('an address with the Kelvin sign (U+212A, lowercased to "k") is another address: it links to no one', async () => {
    const store = memoryStore();
    const kate = await users.add(store, 'kate', 'a long password', 'admin', 'kate@example.com');
    const identity: UpstreamIdentity = {
      provider: 'acme',
      issuer: 'https://op.example',
      subject: 'mallory',
      email: '\u212Aate@example.com',
      emailVerified: true,
    };
    expect('\u212Aate@example.com'.toLowerCase()).toBe('kate@example.com');
    const got = await linkUser(store, identity);
    expect(got.userId).not.toBe(kate.id);
    expect(got.scope).toBe('');
    // The same address in another ASCII case still links.
    expect((await linkUser(store, { ...identity, subject: 'kate', email: 'Kate@Example.COM' })).userId).toBe(kate.id);
  });
});

describe('a user made by a provider has no password', () => {
  it('answers a password attempt in the time of a user who does not exist (no oracle), and no password signs them in', async () => {
    const store = memoryStore();
    const made = await linkUser(store, { provider: 'acme', issuer: 'https://op.example', subject: 'x', emailVerified: false, username: 'linked' });
    const time = async (name: string): Promise<number> => {
      const all: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        expect(await users.authenticate(store, name, 'some password')).toBeNull();
        all.push(performance.now() - t0);
      }
      return all.sort((a, b) => a - b)[2] as number;
    };
    await time('nobody-here'); // warm the dummy hash
    const [missing, linked] = [await time('nobody-here'), await time(made.username)];
    expect(linked).toBeGreaterThan(missing / 3);
    expect(await users.authenticate(store, made.username, 'baton-timing-equaliser')).toBeNull();
    expect(await users.authenticate(store, made.username, '')).toBeNull();
  });
});

describe("GitHub's user API: at most 64 KiB read", () => {
  it('a huge answer is dropped after 64 KiB, not read whole', async () => {
    const op = await fakeOp('https://ghe.example');
    let pulled = 0;
    op.override.set('/login/oauth/access_token', () => Response.json({ access_token: 'gho_x', token_type: 'bearer', scope: 'read:user' }));
    op.override.set('/api/v3/user', () => {
      const chunk = new Uint8Array(64 * 1024).fill(0x20);
      let left = 1024; // 64 MiB
      return new Response(
        new ReadableStream({
          pull(ctl) {
            if (left-- === 0) return ctl.close();
            pulled += chunk.byteLength;
            ctl.enqueue(chunk);
          },
        }),
        { headers: { 'content-type': 'application/json' } },
      );
    });
    const gh = upstreamProvider({ name: 'github', preset: 'github', issuer: op.issuer, clientId: 'Iv1', clientSecret: 's', fetch: op.fetch });
    const redirect = 'https://rp.example/auth/providers/github/callback';
    const { url, transaction } = await gh.start(redirect);
    await expect(gh.finish(answer(op, url, redirect), transaction, redirect)).rejects.toMatchObject({ name: 'UpstreamError', kind: 'invalid' });
    expect(pulled).toBeLessThan(1024 * 1024);
  });
});

describe("the provider's answers, through the handler", () => {
  async function through(mutate: (op: Awaited<ReturnType<typeof fakeOp>>) => void | Promise<void>) {
    const op = await fakeOp();
    await mutate(op);
    const acme = upstreamProvider({ name: 'acme', issuer: op.issuer, clientId: 'rp', clientSecret: 's', fetch: op.fetch });
    const signedIn: string[] = [];
    const t = setup({
      authorization: { providers: { list: async () => [acme], user: async (i) => (signedIn.push(i.subject), { userId: `u-${i.subject}` }) } },
    });
    const b = t.browser();
    const start = await b.get('/auth/providers/acme/start');
    return { op, t, b, start, signedIn };
  }

  it('an ID token not signed with the provider\'s keys is refused (the docs\' "signature" check)', async () => {
    const { op, b, start, signedIn } = await through(async (op) => {
      // The provider's JWKS holds another key than the one its ID tokens are signed with.
      const other = { ...(await exportJWK((await generateKeyPair('RS256')).publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
      op.override.set('/jwks', () => Response.json({ keys: [other] }));
    });
    expect(start.status).toBe(303);
    const done = await b.get(answer(op, new URL(start.headers.get('location') as string), `${ISSUER}/auth/providers/acme/callback`).href);
    expect(done.status).toBe(400);
    expect(await done.text()).toContain('failed a check');
    expect(signedIn).toEqual([]);
  });

  it('a discovery document without an authorization endpoint: the start is a page with a sentence (502), not a 500', async () => {
    const { start } = await through((op) => {
      op.override.set('/.well-known/openid-configuration', () =>
        Response.json({ issuer: op.issuer, token_endpoint: `${op.issuer}/token`, jwks_uri: `${op.issuer}/jwks` }),
      );
    });
    expect(start.status).toBe(502);
    expect(start.headers.get('content-type')).toMatch(/text\/html/);
    expect(await start.text()).toContain('acme cannot be used right now');
  });
});

describe("a provider's token endpoint: the shared cap is not one address's to take", () => {
  it('a script replaying its own callback holds at most 4 places; another person still signs in meanwhile', async () => {
    const op = await fakeOp();
    const held: (() => void)[] = [];
    let holding = true;
    const real = op.fetch;
    op.fetch = async (url, init) => {
      if (holding && new URL(url).pathname === '/token' && String(init.body).includes('code=attacker')) {
        await new Promise<void>((r) => held.push(r));
        return Response.json({ error: 'invalid_grant' }, { status: 400 });
      }
      return real(url, init);
    };
    const acme = upstreamProvider({ name: 'acme', issuer: op.issuer, clientId: 'rp', clientSecret: 's', fetch: (u, i) => op.fetch(u, i) });
    const t = setup({ authorization: { providers: { list: async () => [acme], user: async (i) => ({ userId: `u-${i.subject}` }) } } });
    const attacker = t.browser();
    const start = await attacker.get('/auth/providers/acme/start');
    const state = new URL(start.headers.get('location') as string).searchParams.get('state') as string;
    const cookie = attacker.cookieHeader();
    const replay = `/auth/providers/acme/callback?code=attacker&state=${state}`;
    // One address (and its IPv6 /64: another address in it is the same), 40 at once.
    const answers = Array.from({ length: 40 }, (_, i) => t.call(replay, { headers: { cookie } }, i % 2 ? '2001:db8:1:2::1' : `2001:db8:1:2::${i}`));
    try {
      await vi.waitFor(() => expect(held.length).toBeGreaterThan(0));
      await new Promise((r) => setTimeout(r, 50));
      expect(held.length).toBeLessThanOrEqual(4);
      // Meanwhile, someone else's sign-in goes through.
      const victim = t.browser();
      const theirs = await victim.get('/auth/providers/acme/start');
      const done = await victim.get(answer(op, new URL(theirs.headers.get('location') as string), `${ISSUER}/auth/providers/acme/callback`).href);
      expect(done.status).toBe(303);
      const refused = (await Promise.all(answers.slice(4))).filter((r) => r.status === 429);
      expect(refused.length).toBeGreaterThanOrEqual(36);
    } finally {
      holding = false;
      for (const r of held) r();
      await Promise.all(answers);
    }
  });
});

describe('#26 readFields: RFC 6749 §3.2 for every key', () => {
  const form = (body: string) =>
    readFields(
      new Request('https://auth.test/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }),
      10_000,
    );

  it('__proto__ and constructor are keys like any other: no prototype touched, a repeat refused, an absent one absent', async () => {
    const f = await form('__proto__=x&constructor=y&grant_type=z');
    expect(Object.keys(f).sort()).toEqual(['__proto__', 'constructor', 'grant_type']);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    await expect(form('__proto__=a&__proto__=b')).rejects.toMatchObject({ code: 'ERR_INVALID_REQUEST' });
    expect((await form('grant_type=z')).constructor).toBeUndefined();
    expect((await form('grant_type=z')).toString).toBeUndefined();
  });
});
