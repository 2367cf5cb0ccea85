/**
 * Passkeys in real Chromium (Debian's, driven by playwright-core) with a virtual authenticator of
 * the DevTools protocol's WebAuthn domain (CTAP2, internal transport, resident keys, user
 * verification): a passkey added on the web page after a password sign-in, then the only thing
 * used to sign in — on the web page (its button) and on the hosted sign-in page of the code flow —
 * with the session history and the audit trail saying so; a passkey made for another relying party
 * refused at registration, an answer signed on another origin refused at sign-in (a phishing page
 * relaying it); a cloned authenticator (the credential exported, then used again with its older
 * signature counter) refused and recorded as `passkey.cloned`.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, expect, it, onTestFinished } from 'vitest';
import { clients, loadConfig, startServer, users } from 'baton-auth-server';
import { describeInChromium, launchChromium } from '../support/chromium.ts';
import { freePorts } from '../support/ports.ts';

type Running = Awaited<ReturnType<typeof startServer>>;
const PASSWORD = 'correct horse battery';

/** The service on `port`, reached by the browser at http://localhost:<port>, with passkeys for `localhost` and that origin only. */
async function service(port: number, auditFile: string, origins = `http://localhost:${port}`): Promise<Running> {
  return startServer(
    loadConfig({
      PORT: String(port),
      HOST: '127.0.0.1',
      BATON_STORE: 'memory:',
      BATON_LOG_LEVEL: 'silent',
      BATON_AUDIT_LOG: auditFile,
      BATON_PASSKEYS_RP_ID: 'localhost',
      BATON_PASSKEYS_ORIGINS: origins,
    }),
  );
}

/** A virtual authenticator on the page's browser context: a platform authenticator with resident keys and user verification. */
async function authenticator(context: BrowserContext, page: Page): Promise<{ cdp: CDPSession; id: string }> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

const audit = (file: string): Array<Record<string, unknown>> =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** The sign-in methods of the audit file's successful logins, from the `from`-th on. */
const loginMethods = (file: string, from = 0): unknown[] =>
  audit(file)
    .filter((e) => e.type === 'login.succeeded')
    .slice(from)
    .map((e) => e.method);

async function passwordSignIn(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect.poll(() => page.locator('#whoami').textContent()).toBe('alice');
}

async function addPasskey(page: Page): Promise<void> {
  await page.locator('#passkeys-card').waitFor();
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await expect.poll(() => page.locator('#passkeys li').count()).toBe(1);
}

describeInChromium('passkeys in Chromium', 'test/e2e/passkeys.test.ts', () => {
  let server: Running;
  let other: Running;
  let browser: Browser;
  let base: string;
  let otherBase: string;
  let dir: string;
  let auditFile: string;
  let redirect: Server;
  let redirectUri: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-passkeys-'));
    auditFile = join(dir, 'audit.log');
    const [port, otherPort] = await freePorts(2);
    // Also http://sub.localhost:<other port>: a page there may use the RP ID sub.localhost, so that only the RP ID is wrong.
    server = await service(port as number, auditFile, `http://localhost:${port} http://sub.localhost:${otherPort}`);
    // Another service: another origin of the same relying party ID, as a phishing page would be.
    other = await service(otherPort as number, join(dir, 'other-audit.log'));
    base = `http://localhost:${port}`;
    otherBase = `http://localhost:${otherPort}`;
    await users.add(server.service.store, 'alice', PASSWORD);
    redirect = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('app'));
    await new Promise<void>((resolve) => redirect.listen(0, '127.0.0.1', resolve));
    redirectUri = `http://127.0.0.1:${(redirect.address() as { port: number }).port}/cb`;
    await clients.add(server.service.store, 'app', { redirectUris: [redirectUri], firstParty: true });
    browser = await launchChromium();
  }, 60_000);
  beforeEach(async () => {
    const alice = await users.get(server.service.store, 'alice');
    await server.service.baton.revokeUserSessions(alice?.id as string);
    for (const r of await server.service.store.listRecords(`passkeys:${alice?.id}`)) await server.service.store.deleteRecord(`passkeys:${alice?.id}`, r.key);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await other?.stop();
    redirect?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The code flow's authorization request of the app. */
  function authorizeUrl(): string {
    const authorize = new URL(`${base}/oauth/authorize`);
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: 'app',
      redirect_uri: redirectUri,
      state: 'state-0123456789',
      code_challenge: createHash('sha256').update('a-verifier-of-the-app-0123456789-0123456789').digest('base64url'),
      code_challenge_method: 'S256',
    }))
      authorize.searchParams.set(k, v);
    return authorize.href;
  }

  /** A page on a new context with its own virtual authenticator; `autofill: false` a browser without conditional UI (only the button). */
  async function newPage(autofill = true): Promise<{ page: Page; cdp: CDPSession; id: string }> {
    const context = await browser.newContext();
    onTestFinished(() => context.close());
    const page = await context.newPage();
    if (!autofill) await page.addInitScript(() => Object.defineProperty(PublicKeyCredential, 'isConditionalMediationAvailable', { value: async () => false }));
    const { cdp, id } = await authenticator(context, page);
    return { page, cdp, id };
  }

  it('a passkey added after a password sign-in signs in alone through the autofill (conditional UI), on the web page and the hosted sign-in page; the history and the audit trail say so', async () => {
    const { page } = await newPage();
    const before = loginMethods(auditFile).length;
    await passwordSignIn(page, base);
    await addPasskey(page);
    expect(await page.locator('#passkeys li .device').textContent()).toMatch(/^Passkey on /);
    await page.locator('#logout-local').click();
    // Signed out, the username field offers the passkey (autocomplete="username webauthn"): the
    // virtual authenticator answers the conditional request at once, as a person picking it would.
    await expect.poll(() => loginMethods(auditFile, before)).toEqual(['password', 'passkey']);
    await expect.poll(() => page.locator('#whoami').textContent()).toBe('alice');
    await expect.poll(() => page.locator('#timeline .what').first().textContent()).toBe('Signed in with a passkey');
    expect(audit(auditFile).filter((e) => e.type === 'passkey.registered')).toHaveLength(1);

    // The hosted sign-in page offers it the same way: the code flow goes through without a click.
    await page.goto(authorizeUrl());
    await page.waitForURL((url) => url.href.startsWith(redirectUri));
    expect(new URL(page.url()).searchParams.get('code')).toBeTruthy();
    await expect.poll(() => loginMethods(auditFile, before)).toEqual(['password', 'passkey', 'passkey']);
  });

  it('the button signs in with the passkey alone, on the web page and on the hosted sign-in page of the code flow', async () => {
    const { page } = await newPage(false);
    await passwordSignIn(page, base);
    await addPasskey(page);
    await page.locator('#logout-local').click();
    await page.locator('#login-card').waitFor();
    const before = loginMethods(auditFile).length;
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect.poll(() => page.locator('#whoami').textContent()).toBe('alice');
    await expect.poll(() => page.locator('#timeline .what').first().textContent()).toBe('Signed in with a passkey');

    // The hosted sign-in page of the code flow, in a browser signed in nowhere.
    await page.locator('#logout-global').click();
    await page.locator('#login-card').waitFor();
    await page.goto(authorizeUrl());
    expect(await page.getByLabel('Username').getAttribute('autocomplete')).toBe('username webauthn');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await page.waitForURL((url) => url.href.startsWith(redirectUri));
    const answer = new URL(page.url());
    expect(answer.searchParams.get('code')).toBeTruthy();
    expect(answer.searchParams.get('state')).toBe('state-0123456789');
    await expect.poll(() => loginMethods(auditFile, before)).toEqual(['passkey', 'passkey']);
  });

  it('the page renames and deletes a passkey; a deleted one signs in no more', async () => {
    const { page } = await newPage(false);
    await passwordSignIn(page, base);
    await addPasskey(page);
    const name = page.locator('#passkeys li .device');
    page.once('dialog', (d) => void d.accept('Work laptop'));
    await page.getByRole('button', { name: /^Rename / }).click();
    await expect.poll(() => name.textContent()).toBe('Work laptop');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete Work laptop' }).click();
    await expect.poll(() => page.locator('#passkeys li').count()).toBe(0);
    expect(await page.locator('#no-passkeys').isVisible()).toBe(true);
    expect(
      audit(auditFile)
        .filter((e) => e.type === 'passkey.renamed' || e.type === 'passkey.removed')
        .slice(-2)
        .map((e) => e.type),
    ).toEqual(['passkey.renamed', 'passkey.removed']);
    // The authenticator still holds it; the service refuses it.
    await page.locator('#logout-local').click();
    await page.locator('#login-card').waitFor();
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect.poll(() => page.locator('#message').textContent()).toMatch(/not registered here/);
  });

  /** alice's passkey registered on the web page of the service, in a page of its own; its authenticator. */
  async function registered(): Promise<{ page: Page; cdp: CDPSession; id: string }> {
    const made = await newPage(false);
    await passwordSignIn(made.page, base);
    await addPasskey(made.page);
    return made;
  }

  /** A ceremony's options from the service, as its endpoint answers them, and the state cookie it set. */
  async function optionsOf(path: string, headers: Record<string, string> = {}): Promise<{ options: Record<string, unknown>; cookie: string }> {
    const res = await fetch(`${base}/auth/passkeys/${path}`, { method: 'POST', headers });
    expect(res.status).toBe(200);
    return { options: (await res.json()) as Record<string, unknown>, cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] as string };
  }

  /** A ceremony run on the page with the service's bundle of @simplewebauthn/browser (a string: vite would rewrite an import()). */
  const ceremony = (verb: 'startAuthentication' | 'startRegistration', optionsJSON: unknown): string =>
    `import('/webauthn.js').then((m) => m.${verb}({ optionsJSON: ${JSON.stringify(optionsJSON)} }))`;

  const sendSignIn = (credential: unknown, cookie: string) =>
    fetch(`${base}/auth/passkeys/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: base },
      body: new URLSearchParams({ credential: JSON.stringify(credential) }),
    });

  it('an answer signed on another origin (a page relaying the ceremony) is refused, and so is a passkey made for another relying party', async () => {
    const { page } = await registered();
    // The phishing page: another origin of the same RP ID (localhost), where the passkey is offered.
    const { options, cookie } = await optionsOf('sign-in-options');
    await page.goto(`${otherBase}/webauthn.js`);
    const relayed = await page.evaluate(ceremony('startAuthentication', options));
    const refused = await sendSignIn(relayed, cookie);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error_description: string }).error_description).toMatch(/origin/i);
    expect(audit(auditFile).at(-1)).toMatchObject({ type: 'login.failed', method: 'passkey', reason: 'bad_passkey' });

    // A passkey made for another relying party: the page at sub.localhost (an allowed origin) makes
    // one for the RP ID sub.localhost with the service's challenge; the service refuses to keep it.
    const login = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: PASSWORD }),
    });
    const { access_token } = (await login.json()) as { access_token: string };
    const bearer = { authorization: `Bearer ${access_token}` };
    const reg = await optionsOf('registration-options', bearer);
    await page.goto(`${otherBase.replace('localhost', 'sub.localhost')}/webauthn.js`);
    const made = await page.evaluate(ceremony('startRegistration', { ...reg.options, rp: { ...(reg.options.rp as object), id: 'sub.localhost' } }));
    const kept = await fetch(`${base}/auth/passkeys/registration`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json', cookie: reg.cookie, origin: base },
      body: JSON.stringify({ credential: JSON.stringify(made) }),
    });
    expect(kept.status).toBe(401);
    expect(((await kept.json()) as { error_description: string }).error_description).toMatch(/RP ID/i);
    const alice = await users.get(server.service.store, 'alice');
    expect(await server.service.store.listRecords(`passkeys:${alice?.id}`)).toHaveLength(1);
  });

  it('a cloned authenticator (the credential copied, then used with its older signature counter) is refused and recorded', async () => {
    const { page, cdp, id } = await registered();
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: id });
    expect(credentials).toHaveLength(1);
    const copy = credentials[0] as (typeof credentials)[number];
    const credentialId = Buffer.from(copy.credentialId, 'base64').toString('base64url');
    // The original signs in once: the counter the service keeps goes past the copy's.
    await page.locator('#logout-local').click();
    await page.locator('#login-card').waitFor();
    const signedIn = audit(auditFile).filter((e) => e.method === 'passkey').length;
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect.poll(() => audit(auditFile).filter((e) => e.method === 'passkey').length).toBe(signedIn + 1);
    const kept = JSON.parse(
      // The counter is kept apart from the passkey's key (`passkey-use:`), which a sign-in never rewrites.
      (await server.service.store.getRecord(`passkey-use:${(await users.get(server.service.store, 'alice'))?.id}`, credentialId)) as string,
    ) as { counter: number };
    expect(kept.counter).toBeGreaterThan(copy.signCount);

    // The copy, in another browser: the same key, the counter it had when it was taken.
    const clone = await newPage(false);
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: id });
    await clone.cdp.send('WebAuthn.addCredential', { authenticatorId: clone.id, credential: copy });
    await clone.page.goto(`${base}/`);
    await clone.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect.poll(() => clone.page.locator('#message').textContent()).toMatch(/signature counter went backwards/);
    expect(await clone.page.locator('#app').isHidden()).toBe(true);
    await expect.poll(() => audit(auditFile).filter((e) => e.type === 'passkey.cloned')).toHaveLength(1);
    expect(audit(auditFile).find((e) => e.type === 'passkey.cloned')).toMatchObject({
      outcome: 'failure',
      credential: credentialId,
      reason: 'counter_went_back',
    });
  });
});
