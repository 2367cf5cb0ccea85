/**
 * CORS in real Chromium (the Fetch standard's CORS protocol is the browser's to enforce:
 * https://fetch.spec.whatwg.org/#http-cors-protocol). A single-page app served from another
 * origin — another port on 127.0.0.1, listed in BATON_ALLOWED_ORIGINS — uses the client SDK
 * (the page's bundle) against the service: discovery, a DPoP sign-in with its nonce round
 * (preflighted: the `DPoP` header; `DPoP-Nonce` read from the answer), a refresh with the refresh
 * cookie (credentialed), `/auth/me` with `Authorization: DPoP` and a logout; and reads the JWKS.
 * A page of an unlisted origin reads the public documents and nothing else: its fetches of the
 * token, login, revocation and account endpoints reject with TypeError, as does a sandboxed
 * page's (`Origin: null`).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { describeInChromium, launchChromium } from '../support/chromium.ts';

const CLIENT_JS = readFileSync(new URL('../../packages/baton-auth-server/web/client.js', import.meta.url));

/** A site on its own port: an empty page and the client SDK's bundle, served from its own origin. */
async function site(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/client.js') return void res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(CLIENT_JS);
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end('<!doctype html><title>app</title><script type="module">import * as sdk from "/client.js"; window.sdk = sdk;</script><p>app</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

describeInChromium('CORS in Chromium', 'test/e2e/cors.test.ts', () => {
  let service: Awaited<ReturnType<typeof startServer>>;
  let app: Awaited<ReturnType<typeof site>>;
  let other: Awaited<ReturnType<typeof site>>;
  let browser: Browser;
  beforeAll(async () => {
    [app, other] = [await site(), await site()];
    service = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_ALLOWED_ORIGINS: app.origin, BATON_LOG_LEVEL: 'silent' }));
    await users.add(service.service.store, 'alice', 'correct horse battery');
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    for (const s of [app, other]) await new Promise((resolve) => s?.server.close(resolve));
  });

  async function pageAt(origin: string): Promise<Page> {
    const context = await browser.newContext();
    onTestFinished(() => context.close());
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => 'sdk' in window);
    return page;
  }

  it('an app on an allowed origin signs in with DPoP, refreshes with the cookie, calls /auth/me, reads the JWKS and logs out', async () => {
    const page = await pageAt(app.origin);
    const result = await page.evaluate(async (issuer) => {
      // The client SDK's bundle, loaded by the page from its own origin.
      const sdk = (window as unknown as { sdk: typeof import('baton-auth-client') }).sdk;
      const client = sdk.createTokenClient({ issuer, clientId: 'default', mode: 'cookie', storage: sdk.memoryStorage() });
      const signedIn = await client.signIn(`${issuer}/auth/login`, { username: 'alice', password: 'correct horse battery', refresh_token_delivery: 'cookie' });
      const refreshed = await client.refresh();
      const me = await client.fetch(`${issuer}/auth/me`);
      const jwks = await (await fetch(`${issuer}/.well-known/jwks.json`)).json();
      const metadata = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json();
      await client.logout();
      return {
        tokenType: signedIn.tokenType,
        refreshedType: refreshed.tokenType,
        changed: refreshed.accessToken !== signedIn.accessToken,
        me: me.status,
        meBody: await me.json(),
        keys: jwks.keys.length,
        issuer: metadata.issuer,
      };
    }, service.url);
    expect(result).toMatchObject({ tokenType: 'DPoP', refreshedType: 'DPoP', changed: true, me: 200, issuer: service.url });
    expect(result.keys).toBeGreaterThan(0);
    expect(result.meBody).toMatchObject({ sub: expect.any(String) });
  });

  it('a page of an unlisted origin reads the public documents and nothing else: its other fetches reject with TypeError', async () => {
    const page = await pageAt(other.origin);
    const result = await page.evaluate(async (issuer) => {
      const outcome = (p: Promise<Response>) =>
        p.then(
          (r) => `read ${r.status}`,
          (e: Error) => e.name,
        );
      const form = (body: string, headers: Record<string, string> = {}) => ({
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body,
      });
      return {
        metadata: await outcome(fetch(`${issuer}/.well-known/oauth-authorization-server`)),
        jwks: await outcome(fetch(`${issuer}/.well-known/jwks.json`)),
        // Simple requests (no preflight): the service refuses them (403) and the page cannot read that either.
        login: await outcome(fetch(`${issuer}/auth/login`, form('username=alice&password=correct+horse+battery'))),
        loginWithCookie: await outcome(
          fetch(`${issuer}/auth/login`, { ...form('username=alice&password=correct+horse+battery&refresh_token_delivery=cookie'), credentials: 'include' }),
        ),
        revoke: await outcome(fetch(`${issuer}/oauth/revoke`, form('token=x'))),
        // Preflighted (DPoP, Authorization): the preflight fails, nothing is sent.
        token: await outcome(fetch(`${issuer}/oauth/token`, form('grant_type=refresh_token', { dpop: 'x' }))),
        me: await outcome(fetch(`${issuer}/auth/me`, { headers: { authorization: 'Bearer x' } })),
        sessions: await outcome(fetch(`${issuer}/auth/sessions`, { headers: { authorization: 'Bearer x' } })),
      };
    }, service.url);
    expect(result).toEqual({
      metadata: 'read 200',
      jwks: 'read 200',
      login: 'TypeError',
      loginWithCookie: 'TypeError',
      revoke: 'TypeError',
      token: 'TypeError',
      me: 'TypeError',
      sessions: 'TypeError',
    });
  });

  it('a sandboxed page of the allowed origin (Origin: null) reads nothing but the public documents', async () => {
    const page = await pageAt(app.origin);
    // An opaque origin: a sandboxed iframe without allow-same-origin sends `Origin: null`.
    await page.setContent('<iframe sandbox="allow-scripts" srcdoc="<p>sandboxed</p>"></iframe>');
    const frame = page.frames().find((f) => f !== page.mainFrame());
    expect(frame).toBeDefined();
    const result = await frame?.evaluate(async (issuer) => {
      const outcome = (p: Promise<Response>) =>
        p.then(
          (r) => `read ${r.status}`,
          (e: Error) => e.name,
        );
      return {
        origin: self.origin,
        jwks: await outcome(fetch(`${issuer}/.well-known/jwks.json`)),
        login: await outcome(
          fetch(`${issuer}/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"username":"alice","password":"correct horse battery"}',
          }),
        ),
        token: await outcome(
          fetch(`${issuer}/oauth/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x' }) }),
        ),
      };
    }, service.url);
    expect(result).toEqual({ origin: 'null', jwks: 'read 200', login: 'TypeError', token: 'TypeError' });
  });
});
