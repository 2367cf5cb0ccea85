/**
 * OpenID Connect sign-in and RP-initiated logout in Chromium: the hosted sign-in typed in, the code
 * exchanged for an ID token, then `/oauth/end-session` — with the ID token, straight back to the
 * client's registered post-logout URI with `state`; without it, the "Sign out?" page, whose button
 * posts to this site and is then redirected to the client (Chrome applies the page's CSP
 * `form-action` to that redirect: the verified URI's origin is in it). The issuer is plain http on
 * loopback (`baton_as` rather than `__Host-baton_as`), the client another port of 127.0.0.1.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import type { AuthHandler } from 'baton-auth/http';
import { toNodeListener } from 'baton-auth/adapters/node';
import { memoryStore } from 'baton-auth/stores/memory';
import { describeInChromium, launchChromium } from '../support/chromium.ts';

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

describeInChromium('OpenID Connect sign-in and RP-initiated logout', 'test/e2e/end-session.test.ts', () => {
  let issuer: string;
  let client: string;
  let baton: Baton;
  let browser: Browser;
  const servers: Server[] = [];

  beforeAll(async () => {
    const box: { handler?: AuthHandler } = {};
    const as = createServer((req, res) => toNodeListener(box.handler as AuthHandler)(req, res));
    const rp = createServer((req, res) =>
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><title>client</title><p>${req.url}</p>`),
    );
    servers.push(as, rp);
    [issuer, client] = [await listen(as), await listen(rp)];
    baton = createBaton({ issuer, keys: [generateKey('EdDSA')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
    box.handler = createAuthHandler({
      baton,
      authenticate: async (u, p) => (u === 'alice' && p === 'correct horse' ? { userId: 'id-alice', scope: 'profile' } : null),
      clients: staticClients([
        { id: 'web', scopes: ['openid', 'profile'], redirectUris: [`${client}/cb`], postLogoutRedirectUris: [`${client}/bye`], firstParty: true },
      ]),
      cookie: { secure: false },
    });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    for (const s of servers) s.close();
  });

  /** Signs alice in on the hosted page and exchanges the code: the token answer. */
  async function signIn(page: Page): Promise<{ id_token: string; access_token: string }> {
    const verifier = randomBytes(32).toString('base64url');
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: 'web',
      redirect_uri: `${client}/cb`,
      scope: 'openid profile',
      state: 'st',
      nonce: 'nn',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    await page.goto(`${issuer}/oauth/authorize?${q}`);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('correct horse');
    await Promise.all([page.waitForURL((u) => u.href.startsWith(`${client}/cb?`), { timeout: 10_000 }), page.getByRole('button', { name: 'Sign in' }).click()]);
    const code = new URL(page.url()).searchParams.get('code') as string;
    const res = await fetch(`${issuer}/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: `${client}/cb`, client_id: 'web', code_verifier: verifier }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { id_token: string; access_token: string };
  }

  it('with the ID token: signed out at once and sent back with state; the cookie is gone', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const tokens = await signIn(page);
    expect(await baton.listSessions('id-alice')).toHaveLength(2);
    const q = new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: `${client}/bye`, state: 'after' });
    await page.goto(`${issuer}/oauth/end-session?${q}`);
    expect(page.url()).toBe(`${client}/bye?state=after`);
    expect(await baton.listSessions('id-alice')).toEqual([]);
    expect((await context.cookies(issuer)).map((c) => c.name)).not.toContain('baton_as');
    await context.close();
  }, 30_000);

  it('without it: "Sign out?", and the button signs out and follows the redirect to the client (CSP form-action)', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page);
    await page.goto(`${issuer}/oauth/end-session?${new URLSearchParams({ client_id: 'web', post_logout_redirect_uri: `${client}/bye`, state: 'z' })}`);
    await expect(page.getByRole('heading', { name: 'Sign out?' }).isVisible()).resolves.toBe(true);
    expect((await baton.listSessions('id-alice')).length).toBeGreaterThan(0); // asking changes nothing
    await Promise.all([
      page.waitForURL((u) => u.href === `${client}/bye?state=z`, { timeout: 10_000 }),
      page.getByRole('button', { name: 'Sign out' }).click(),
    ]);
    expect((await baton.listSessions('id-alice')).map((s) => s.clientId)).toEqual(['web']); // the hosted session ended; no hint named the client's
    expect((await context.cookies(issuer)).map((c) => c.name)).not.toContain('baton_as');
    await context.close();
  }, 30_000);

  it('an unregistered post_logout_redirect_uri: signed out and shown "You are signed out" here, never sent there', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const tokens = await signIn(page);
    await page.goto(`${issuer}/oauth/end-session?${new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: `${client}/elsewhere` })}`);
    expect(page.url().startsWith(issuer)).toBe(true);
    await expect(page.getByText('You are signed out').isVisible()).resolves.toBe(true);
    await context.close();
  }, 30_000);
});
