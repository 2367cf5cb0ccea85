/**
 * Sign-in with another provider in Chromium (issue #27), against the service as a user runs it
 * (`baton serve` behind TLS, `baton providers add`), with a real `oidc-provider` standing in for
 * Google — discovery, the code flow with PKCE, an ID token with `email` and `email_verified`
 * (`conformIdTokenClaims: false`), RFC 9207 `iss` — on loopback http (the one case where the
 * service lifts openid-client's https rule). Proved: "Continue with Google" on the hosted sign-in
 * page and on the web page; a new user; a linked existing user (verified email); an unverified
 * email not linked (a new user); the same account, the same user; the login audit event and the
 * session history naming the provider. Refused, each with a sentence and no session: a wrong
 * `state`, `iss` or `nonce` (the stand-in tampers with its own answer, or with the request it is
 * given: `tamper`), `access_denied`, a callback without this browser's transaction, a provider that
 * is down.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInChromium, launchChromium } from '../support/chromium.ts';
import { startAuthzService, startRelyingParty } from '../support/authz-service.ts';
import type { AuthzService, RelyingParty } from '../support/authz-service.ts';
import { startProvider } from '../support/oidc-provider.ts';
import type { StartedProvider } from '../support/oidc-provider.ts';
import { explained, httpsContext } from '../support/hosted-sign-in.ts';

const VERIFIER = 'a-pkce-verifier-of-the-shop-client-43-characters-or-more';

/** The stand-in's accounts: the login typed on its page is the account id. */
const ACCOUNTS: Record<string, Record<string, unknown>> = {
  newcomer: { email: 'newcomer@example.com', email_verified: true, preferred_username: 'newcomer' },
  'bob-at-google': { email: 'bob@example.com', email_verified: true, name: 'Bob' },
  mallory: { email: 'bob@example.com', email_verified: false, preferred_username: 'mallory' },
};

/** How the stand-in misbehaves for the next sign-in: its redirect's `state` or `iss` changed, the request's `nonce` replaced, or `access_denied`. */
let tamper: 'state' | 'iss' | 'nonce' | 'denied' | undefined;

/** Changes the stand-in's own traffic as `tamper` says (oidc-provider's request hook). */
function tampering(req: IncomingMessage, res: ServerResponse): void {
  if (tamper === 'nonce' && req.url?.startsWith('/auth?')) {
    const url = new URL(req.url, 'http://x');
    url.searchParams.set('nonce', 'a-nonce-of-another-sign-in');
    req.url = `${url.pathname}${url.search}`;
  }
  const setHeader = res.setHeader.bind(res);
  res.setHeader = (name: string, value: number | string | readonly string[]) => {
    if (name.toLowerCase() === 'location' && typeof value === 'string' && value.includes('/auth/providers/google/callback?')) {
      const url = new URL(value);
      if (tamper === 'state') url.searchParams.set('state', 'a-state-of-another-sign-in');
      if (tamper === 'iss') url.searchParams.set('iss', 'https://evil.example');
      if (tamper === 'denied') {
        url.searchParams.delete('code');
        url.searchParams.set('error', 'access_denied');
      }
      value = url.href;
    }
    return setHeader(name, value);
  };
}

/** Retries `check` (an assertion) until it passes, for at most `ms`. */
async function until(check: () => unknown, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describeInChromium('sign-in with another provider (oidc-provider standing in for Google)', 'test/e2e/providers.test.ts', () => {
  let service: AuthzService;
  let rp: RelyingParty;
  let google: StartedProvider;
  let browser: Browser;
  let dir: string;
  let audit: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-providers-'));
    audit = join(dir, 'audit.log');
    [service, rp] = await Promise.all([startAuthzService({ BATON_AUDIT_LOG: audit }), startRelyingParty()]);
    await service.addClient('shop', { redirectUris: [`${rp.origin}/callback`], firstParty: true, scopes: 'openid profile' });
    await service.cli(['users', 'add', 'bob', '--email', 'bob@example.com', '--password-stdin'], 'bob has a long password\n');
    google = await startProvider(
      {
        clients: [
          {
            client_id: 'baton',
            client_secret: 'the-client-secret-google-gave-baton',
            token_endpoint_auth_method: 'client_secret_post',
            grant_types: ['authorization_code'],
            response_types: ['code'],
            redirect_uris: [`${service.issuer}/auth/providers/google/callback`],
          },
        ],
        findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, ...ACCOUNTS[id] }) }),
        claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['preferred_username', 'name'] },
        scopes: ['openid', 'email', 'profile'],
        conformIdTokenClaims: false,
        pkce: { required: () => true },
        features: { devInteractions: { enabled: true } },
      },
      tampering,
    );
    writeFileSync(join(dir, 'google-secret'), 'the-client-secret-google-gave-baton\n', { mode: 0o600 });
    const added = await service.cli([
      'providers',
      'add',
      'google',
      '--preset',
      'google',
      '--issuer',
      google.issuer,
      '--client-id',
      'baton',
      '--client-secret-file',
      join(dir, 'google-secret'),
    ]);
    expect(added).not.toContain('the-client-secret-google-gave-baton');
    // The running service sees the new provider within 5 s, as it sees a new client.
    await until(async () => {
      const res = await service.fetch(`${service.issuer}/auth/providers`);
      expect(await res.json()).toEqual({ providers: [{ name: 'google', label: 'Google' }] });
    }, 10_000);
    browser = await launchChromium();
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await google?.close();
    await rp?.close();
    await service?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The code flow's authorization URL of the `shop` client. */
  const authorizeUrl = (state = 'st') =>
    `${service.issuer}/oauth/authorize?${new URLSearchParams({
      response_type: 'code',
      client_id: 'shop',
      redirect_uri: `${rp.origin}/callback`,
      scope: 'openid',
      state,
      code_challenge: createHash('sha256').update(VERIFIER).digest('base64url'),
      code_challenge_method: 'S256',
    })}`;

  /** On the stand-in's dev pages: the login typed (any password), then "Continue" on its consent page, until the browser leaves it. */
  async function atGoogle(page: Page, login: string): Promise<void> {
    await explained(page, 'reaching the provider', () => page.waitForURL((u) => u.href.startsWith(google.issuer), { timeout: 15_000 }));
    for (let step = 0; step < 4 && page.url().startsWith(google.issuer); step++) {
      if ((await page.locator('input[name=login]').count()) > 0) {
        await page.fill('input[name=login]', login);
        await page.fill('input[type=password]', 'anything');
      }
      await Promise.all([page.waitForNavigation({ waitUntil: 'commit', timeout: 10_000 }), page.click('button[type=submit]')]);
    }
  }

  /** The hosted sign-in page → "Continue with Google" → the stand-in as `login` → where the browser ends (the relying party, or our error page). */
  async function viaHostedPage(context: BrowserContext, login: string): Promise<{ page: Page; back?: URL }> {
    const page = await context.newPage();
    const back = rp.next('/callback', 30_000);
    back.catch(() => {});
    await page.goto(authorizeUrl());
    await page.getByRole('link', { name: 'Continue with Google' }).click();
    await atGoogle(page, login);
    const arrived = await Promise.race([
      back,
      page.waitForURL((u) => u.href.startsWith(`${service.issuer}/auth/providers/`), { waitUntil: 'load' }).then(() => undefined),
    ]);
    return arrived === undefined ? { page } : { page, back: arrived };
  }

  /** The user id a code flow's callback signed in (the ID token's `sub`), through `/oauth/token`. */
  async function subjectOf(back: URL): Promise<string> {
    expect(back.searchParams.get('iss')).toBe(service.issuer);
    const res = await service.fetch(`${service.issuer}/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: back.searchParams.get('code') as string,
        redirect_uri: `${rp.origin}/callback`,
        client_id: 'shop',
        code_verifier: VERIFIER,
      }),
    });
    expect(res.status, JSON.stringify(auditEvents().filter((e) => e.type === 'code.refused'))).toBe(200);
    const { id_token } = (await res.json()) as { id_token: string };
    return JSON.parse(Buffer.from(id_token.split('.')[1] as string, 'base64url').toString()).sub as string;
  }

  const usersList = async () =>
    (await service.cli(['users', 'list']))
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
  const idOf = async (name: string) => (await usersList()).find((u) => u[0] === name)?.[1];
  const auditEvents = () =>
    readFileSync(audit, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);

  it('a new person: a new user with a generated username and no scope, the same user next time; the audit event and the history say "Google"', async () => {
    const context = await httpsContext(browser);
    const { back } = await viaHostedPage(context, 'newcomer');
    expect(back, 'back at the relying party').toBeDefined();
    const sub = await subjectOf(back as URL);
    const made = (await usersList()).find((u) => u[1] === sub);
    expect(made?.[0]).toMatch(/^newcomer-[0-9a-f]{8}$/);
    expect(made?.[3] ?? '').toBe(''); // no scope beyond the default (none)
    await until(() => {
      const login = auditEvents().find((e) => e.type === 'login.succeeded' && e.user === sub);
      expect(login).toMatchObject({ method: 'provider', provider: 'google', username: made?.[0] });
    });
    await context.close();
    // Another browser, the same Google account: the same user, no second one.
    const again = await httpsContext(browser);
    const second = await viaHostedPage(again, 'newcomer');
    expect(await subjectOf(second.back as URL)).toBe(sub);
    expect((await usersList()).filter((u) => u[0]?.startsWith('newcomer-'))).toHaveLength(1);
    await again.close();
  }, 90_000);

  it('a verified email links to the existing user of that email', async () => {
    const context = await httpsContext(browser);
    const { back } = await viaHostedPage(context, 'bob-at-google');
    expect(await subjectOf(back as URL)).toBe(await idOf('bob'));
    await context.close();
  }, 60_000);

  it('an unverified email links to no one: a new user, not bob', async () => {
    const before = (await usersList()).length;
    const context = await httpsContext(browser);
    const { back } = await viaHostedPage(context, 'mallory');
    const sub = await subjectOf(back as URL);
    expect(sub).not.toBe(await idOf('bob'));
    expect((await usersList()).find((u) => u[1] === sub)?.[0]).toMatch(/^mallory-/);
    expect((await usersList()).length).toBe(before + 1);
    await context.close();
  }, 60_000);

  for (const [kind, sentence] of [
    ['state', /does not belong to the sign-in this browser started/],
    ['iss', /did not come from Google \(its iss differs/],
    ['nonce', /was not issued for this sign-in \(its nonce differs\)/],
    ['denied', /cancelled \(access_denied\)/],
  ] as const) {
    it(`a wrong answer (${kind}) is refused with a sentence, and signs no one in`, async () => {
      const sessionsBefore = auditEvents().filter((e) => e.type === 'login.succeeded').length;
      const context = await httpsContext(browser);
      tamper = kind;
      try {
        const { page, back } = await viaHostedPage(context, 'newcomer');
        expect(back, 'never back at the relying party with a code').toBeUndefined();
        await expect(page.getByRole('alert').textContent()).resolves.toMatch(sentence);
        expect((await context.cookies(service.issuer)).map((c) => c.name)).not.toContain('__Host-baton_up'); // the transaction is spent
      } finally {
        tamper = undefined;
        await context.close();
      }
      expect(auditEvents().filter((e) => e.type === 'login.succeeded').length).toBe(sessionsBefore);
      expect(auditEvents().at(-1)).toMatchObject({ type: 'login.failed', reason: `provider_${kind}` });
    }, 60_000);
  }

  it('a callback this browser did not start (no transaction cookie) is refused; so is a link to start from another site', async () => {
    const context = await httpsContext(browser);
    const page = await context.newPage();
    const res = await page.goto(`${service.issuer}/auth/providers/google/callback?code=stolen&state=whatever&iss=${encodeURIComponent(google.issuer)}`);
    expect(res?.status()).toBe(400);
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/expired or did not start in this browser/);
    await context.close();
  }, 30_000);

  it('the web page: "Continue with Google", back signed in (a DPoP-bound session), the history says "Signed in with Google"', async () => {
    const context = await httpsContext(browser);
    const page = await context.newPage();
    await page.goto(`${service.issuer}/`);
    await page.getByRole('button', { name: 'Continue with Google' }).click();
    await atGoogle(page, 'bob-at-google');
    await explained(page, 'signed in on the page', () => page.locator('#whoami').getByText('bob').waitFor({ timeout: 20_000 }));
    expect(new URL(page.url()).hash).toBe(''); // the marker is gone from the address bar
    const bound = await page.evaluate(
      async () => (await (window as unknown as { baton: { storage: { get(): Promise<{ tokenType: string }> } } }).baton.storage.get()).tokenType,
    );
    expect(bound).toBe('DPoP');
    await explained(page, 'the history', () => page.locator('#timeline').getByText('Signed in with Google').first().waitFor({ timeout: 20_000 }));
    await context.close();
  }, 60_000);

  it('a provider that is down: a sentence (502), never a 500', async () => {
    const acme = await startProvider({
      clients: [{ client_id: 'baton', client_secret: 'x'.repeat(32), redirect_uris: [`${service.issuer}/auth/providers/acme/callback`] }],
    });
    writeFileSync(join(dir, 'acme-secret'), 'x'.repeat(32));
    await service.cli([
      'providers',
      'add',
      'acme',
      '--issuer',
      acme.issuer,
      '--client-id',
      'baton',
      '--client-secret-file',
      join(dir, 'acme-secret'),
      '--label',
      'Acme',
    ]);
    await acme.close();
    const context = await httpsContext(browser);
    const page = await context.newPage();
    await page.goto(authorizeUrl());
    await until(async () => {
      await page.reload();
      expect(await page.getByRole('link', { name: 'Continue with Acme' }).count()).toBe(1);
    }, 10_000);
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().includes('/auth/providers/acme/start')),
      page.getByRole('link', { name: 'Continue with Acme' }).click(),
    ]);
    expect(res.status()).toBe(502);
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/Acme cannot be reached right now/);
    await service.cli(['providers', 'remove', 'acme']);
    await context.close();
  }, 60_000);
});
