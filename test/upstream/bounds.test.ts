/**
 * What an unauthenticated caller can cost by starting sign-ins with another provider (issue #27):
 * nothing stored — the upstream transaction is one sealed cookie of their own browser, at most
 * 3,800 characters (a longer one is refused before it is set) — and at most one discovery request
 * to the provider per hour, or per 30 s while it fails (a real `oidc-provider` counts them). And
 * the settings of the presets (Google, Microsoft per tenant, Apple's `form_post`, GitHub), checked
 * at configuration with a sentence per mistake.
 */
import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatonConfigError } from 'baton-auth';
import { appleClientSecret, upstreamProvider } from 'baton-auth/http';
import { generateKeyPairSync } from 'node:crypto';
import { jwtVerify } from 'jose';
import { countingStore } from '../support/counting-store.ts';
import { setup, txnOf } from '../support/authz.ts';
import { startProvider } from '../support/oidc-provider.ts';
import type { StartedProvider } from '../support/oidc-provider.ts';

describe('flows started by unauthenticated callers are bounded', () => {
  let op: StartedProvider;
  const discoveries: string[] = [];
  beforeAll(async () => {
    op = await startProvider({}, (req: IncomingMessage) => {
      if (req.url?.startsWith('/.well-known/openid-configuration')) discoveries.push(req.url);
    });
  });
  afterAll(() => op.close());

  it('500 starts store nothing, discover the provider once, and each costs one cookie of bounded size in the caller’s own browser', async () => {
    const { store, writes: calls } = countingStore(/^/);
    const acme = upstreamProvider({ name: 'acme', issuer: op.issuer, clientId: 'cli' });
    const t = setup({ authorization: { providers: { list: async () => [acme], user: async () => null } } }, undefined, { store });
    const b = t.browser();
    const page = await b.get(t.authorizePath());
    const link = `/auth/providers/acme/start?txn=${encodeURIComponent(txnOf(await page.text()))}`;
    calls.length = 0;
    discoveries.length = 0;
    const sizes: number[] = [];
    for (let i = 0; i < 500; i++) {
      const res = await b.get(link);
      expect(res.status).toBe(303);
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith('__Host-baton_up=')) as string;
      expect(cookie).toMatch(/HttpOnly; SameSite=Lax; Secure; Max-Age=600$/);
      sizes.push(cookie.length);
    }
    expect(calls, 'store calls while starting flows').toEqual([]);
    expect(discoveries).toHaveLength(1);
    expect(Math.max(...sizes)).toBeLessThan(3800 + 100);
    expect(b.jar.size).toBe(2); // the CSRF cookie and one transaction: a new start replaces the last
  });

  it('a transaction too long for a cookie is refused with a sentence, before any cookie is set', async () => {
    const acme = upstreamProvider({ name: 'acme', issuer: op.issuer, clientId: 'cli' });
    const t = setup({ authorization: { providers: { list: async () => [acme], user: async () => null } } });
    const b = t.browser();
    const page = await b.get(t.authorizePath({ state: '€'.repeat(1000), nonce: 'n'.repeat(256) }));
    const res = await b.get(`/auth/providers/acme/start?txn=${encodeURIComponent(txnOf(await page.text()))}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('This sign-in request is too long to continue with acme.');
    expect(res.headers.getSetCookie().some((c) => c.startsWith('__Host-baton_up='))).toBe(false);
  });

  it('a provider that fails discovery is asked again only after 30 s, however many starts come', async () => {
    let asked = 0;
    const broken = createServer((_req, res) => {
      asked++;
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => broken.listen(0, '127.0.0.1', r));
    try {
      const down = upstreamProvider({ name: 'down', issuer: `http://127.0.0.1:${(broken.address() as AddressInfo).port}`, clientId: 'x', label: 'Down' });
      const t = setup({ authorization: { providers: { list: async () => [down], user: async () => null } } });
      for (let i = 0; i < 50; i++) {
        const res = await t.browser().get('/auth/providers/down/start');
        expect(res.status).toBe(502);
        if (i === 0) expect(await res.text()).toContain('Down cannot be reached right now');
      }
      expect(asked).toBe(1);
    } finally {
      broken.close();
    }
  });
});

describe('form_post (Apple)', () => {
  let op: StartedProvider;
  beforeAll(async () => {
    op = await startProvider();
  });
  afterAll(() => op.close());

  it('asks for response_mode=form_post, keeps its transaction in a SameSite=None cookie (a cross-site POST brings it back), and reads the POSTed answer', async () => {
    const apple = upstreamProvider({ name: 'apple', preset: 'apple', issuer: op.issuer, clientId: 'cli' });
    const t = setup({ authorization: { providers: { list: async () => [apple], user: async () => null } } });
    const b = t.browser();
    const res = await b.get('/auth/providers/apple/start');
    expect(res.status).toBe(303);
    const url = new URL(res.headers.get('location') as string);
    expect(url.searchParams.get('response_mode')).toBe('form_post');
    expect(url.searchParams.get('scope')).toBe('openid email name');
    expect(res.headers.getSetCookie().find((c) => c.startsWith('__Host-baton_up='))).toMatch(/HttpOnly; SameSite=None; Secure; Max-Age=600$/);
    // Apple's answer is a form POST from its site: read from the body; another state is refused.
    const answer = await b.post(
      '/auth/providers/apple/callback',
      { code: 'c', state: 'not-this-browsers', iss: op.issuer },
      { origin: 'https://appleid.apple.com', 'sec-fetch-site': 'cross-site' },
    );
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('does not belong to the sign-in this browser started');
  });
});

describe('the presets, checked at configuration', () => {
  it('Google, Apple (form_post, its scopes), GitHub (OAuth 2.0 scopes), and Microsoft per tenant', () => {
    const google = upstreamProvider({ name: 'google', preset: 'google', clientId: 'id' });
    expect([google.issuer, google.label, google.responseMode]).toEqual(['https://accounts.google.com', 'Google', 'query']);
    const apple = upstreamProvider({ name: 'apple', preset: 'apple', clientId: 'com.example.web', clientSecret: 'eyJ…' });
    expect([apple.issuer, apple.label, apple.responseMode]).toEqual(['https://appleid.apple.com', 'Apple', 'form_post']);
    const ms = upstreamProvider({ name: 'microsoft', preset: 'microsoft', clientId: 'id', tenant: 'contoso.onmicrosoft.com' });
    expect(ms.issuer).toBe('https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0');
    expect(upstreamProvider({ name: 'ms', preset: 'microsoft', clientId: 'id' }).issuer).toBe('https://login.microsoftonline.com/common/v2.0');
    expect(upstreamProvider({ name: 'github', preset: 'github', clientId: 'id', clientSecret: 's' }).issuer).toBe('https://github.com');
  });

  it("Apple's client secret is the ES256 JWT it documents (iss team, sub client, aud appleid.apple.com, at most 6 months)", async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const jwt = await appleClientSecret({ teamId: 'ABCDE12345', keyId: 'KEY1234567', clientId: 'com.example.web', privateKey: pem, now: 1_800_000_000_000 });
    const { payload, protectedHeader } = await jwtVerify(jwt, publicKey, { currentDate: new Date(1_800_000_000_000) });
    expect(protectedHeader).toEqual({ alg: 'ES256', kid: 'KEY1234567' });
    expect(payload).toEqual({
      iss: 'ABCDE12345',
      sub: 'com.example.web',
      aud: 'https://appleid.apple.com',
      iat: 1_800_000_000,
      exp: 1_800_000_000 + 180 * 86_400,
    });
    const o = { teamId: 'ABCDE12345', keyId: 'KEY1234567', clientId: 'x', privateKey: pem };
    await expect(appleClientSecret({ ...o, expiresInSec: 15_777_001 })).rejects.toThrow(/at most|from 60 to 15777000/);
    await expect(appleClientSecret({ ...o, privateKey: 'not a key' })).rejects.toThrow(/PEM text of the .p8 file/);
    await expect(appleClientSecret({ ...o, teamId: 'short' })).rejects.toThrow(/10-character Apple Developer team id/);
  });

  it('a mistake is a sentence', () => {
    const bad: [Parameters<typeof upstreamProvider>[0], RegExp][] = [
      [{ name: 'Google!', preset: 'google', clientId: 'x' }, /lowercase letters, digits or -/],
      [{ name: 'x', clientId: 'x' }, /needs its issuer URL/],
      [{ name: 'x', issuer: 'http://accounts.example.com', clientId: 'x' }, /plain http: a provider must be reached over https/],
      [{ name: 'x', issuer: 'https://a.example/?q=1', clientId: 'x' }, /without query or fragment/],
      [{ name: 'x', preset: 'microsoft', tenant: 'a/b', clientId: 'x' }, /tenant id or common, organizations or consumers/],
      [{ name: 'x', preset: 'github', clientId: 'x' }, /GitHub needs the client secret/],
      [{ name: 'x', issuer: 'https://a.example', clientId: 'x', scope: 'email' }, /includes openid/],
      [{ name: 'x', preset: 'okta' as 'google', clientId: 'x' }, /one of google, microsoft, apple, github/],
    ];
    for (const [options, sentence] of bad) {
      expect(() => upstreamProvider(options)).toThrow(BatonConfigError);
      expect(() => upstreamProvider(options)).toThrow(sentence);
    }
  });
});
