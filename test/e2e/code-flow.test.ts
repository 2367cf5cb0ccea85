/**
 * The SDK's authorization code flow from a web page, in real Chromium (Debian's, driven by
 * playwright-core), against each of `CODE_FLOW_SERVERS` (oidc-provider, and Baton's handler with
 * its hosted sign-in page): a page on its own origin loads the SDK's bundle (esbuild, from
 * the package's sources, as the service's page is built), calls `signInWithRedirect`, the user
 * signs in and consents on the server's own pages, and the page at the redirect URI calls
 * `completeSignIn`. Proved: the code redeemed with a DPoP proof by the key kept in IndexedDB across
 * the round trip (the answer's `token_type` DPoP, the server's token bound to that key); the code,
 * state and iss gone from the address bar; the pending sign-in used once; the client's `fetch`
 * working after. And before anything is sent: an answer with another `state` refused (the sign-in
 * keeps waiting), an answer with another `iss` refused (and the sign-in spent), no token request;
 * a second sign-in started in the tab replaces the first, whose answer is then refused; a DPoP key
 * lost between the request and the answer (site data cleared) refused with `ERR_DPOP_KEY_MISSING`.
 */
import { build } from 'esbuild';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { describeInChromium, launchChromium } from '../support/chromium.ts';
import { CODE_FLOW_SERVERS } from '../support/code-flow-servers.ts';
import type { CodeFlowServer } from '../support/code-flow-servers.ts';

/** The SDK bundled for the browser, as `packages/baton-auth-server/scripts/build-web.ts` bundles it. */
async function sdkBundle(): Promise<string> {
  const out = await build({
    stdin: { contents: "export * from 'baton-auth-client';", resolveDir: new URL('.', import.meta.url).pathname, loader: 'js' },
    conditions: ['baton-source'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'warning',
  });
  return out.outputFiles[0]?.text as string;
}

/** The app: its own origin, the SDK's bundle, and one page (at `/` and at `/callback`) that loads it. */
async function site(bundle: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/client.js') return void res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(bundle);
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'referrer-policy': 'no-referrer' })
      .end('<!doctype html><title>app</title><script type="module">import * as sdk from "/client.js"; window.sdk = sdk;</script><p>app</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

type Sdk = typeof import('baton-auth-client');
interface Where {
  issuer: string;
  clientId: string;
  userinfo: string;
}

/** Starts a sign-in from the app's page; the page's DPoP key thumbprint. The page then leaves for the server. */
const startSignIn = (page: Page, where: Where): Promise<string | undefined> =>
  page.evaluate(async ({ issuer, clientId }) => {
    const sdk = (window as unknown as { sdk: Sdk }).sdk;
    const client = sdk.createTokenClient({ issuer, clientId, storage: sdk.browserStorage() });
    const jkt = await client.dpopThumbprint();
    void sdk.signInWithRedirect(client, { redirectUri: '/callback', scope: 'openid offline_access' });
    return jkt;
  }, where);

/** `completeSignIn` on the page at the redirect URI: what came of it, and what the page holds after. */
const completeOnPage = (page: Page, where: Where) =>
  page.evaluate(async ({ issuer, clientId, userinfo }) => {
    const sdk = (window as unknown as { sdk: Sdk }).sdk;
    const client = sdk.createTokenClient({ issuer, clientId, storage: sdk.browserStorage() });
    // Twice at once, as React's Strict Mode runs an effect: one redemption, one outcome for both.
    const [first, second] = await Promise.allSettled([sdk.completeSignIn(client), sdk.completeSignIn(client)]);
    const same =
      first.status === second.status && (first.status === 'rejected' || (first as { value: unknown }).value === (second as { value: unknown }).value);
    const outcome = await (first.status === 'fulfilled' ? Promise.resolve(first.value) : Promise.reject(first.reason)).then(
      async (r) => ({ tokenType: r.tokens.tokenType, accessToken: r.tokens.accessToken, sub: r.claims?.sub, me: (await client.fetch(userinfo)).status }),
      (err: { code?: string; name: string }) => ({ error: err.code ?? err.name }),
    );
    return { ...outcome, same, href: location.href, pending: sessionStorage.getItem(sdk.PENDING_SIGN_IN_KEY), jkt: await client.dpopThumbprint() };
  }, where);

for (const [name, start] of Object.entries(CODE_FLOW_SERVERS)) {
  describeInChromium(`the code flow in Chromium against ${name}`, 'test/e2e/code-flow.test.ts', () => {
    let server: CodeFlowServer;
    let app: Awaited<ReturnType<typeof site>>;
    let browser: Browser;
    let where: Where;
    beforeAll(async () => {
      app = await site(await sdkBundle());
      server = await start({ webOrigin: app.origin });
      where = { issuer: server.issuer, clientId: server.clientId, userinfo: server.userinfo };
      browser = await launchChromium();
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
      await server?.close();
      await new Promise((resolve) => app?.server.close(resolve));
    });

    /**
     * A new browser profile's page on the app, the SDK loaded; and the code exchanges it sends (each
     * recorded when sent, so none is missed: whether it carried a proof, and the `token_type` answered).
     */
    async function appPage(): Promise<{ page: Page; exchanges: Promise<{ dpop: boolean; tokenType: unknown }>[] }> {
      const context = await browser.newContext();
      onTestFinished(() => context.close());
      const page = await context.newPage();
      const exchanges: Promise<{ dpop: boolean; tokenType: unknown }>[] = [];
      page.on('request', (req) => {
        if (req.method() !== 'POST' || !(req.postData() ?? '').includes('grant_type=authorization_code')) return;
        const dpop = req.headers().dpop !== undefined;
        exchanges.push(req.response().then(async (r) => ({ dpop, tokenType: ((await r?.json()) as { token_type?: unknown } | undefined)?.token_type })));
      });
      await page.goto(`${app.origin}/`);
      await page.waitForFunction(() => 'sdk' in window);
      return { page, exchanges };
    }

    /** Runs the sign-in to the redirect URI; the page is then at `/callback?code=…`, the SDK loaded, nothing redeemed. */
    async function toCallback(page: Page): Promise<string | undefined> {
      const jkt = await startSignIn(page, where);
      await page.waitForURL((u) => u.origin === new URL(server.issuer).origin, { timeout: 10_000 });
      await server.signInInPage(page);
      await page
        .waitForURL((u) => u.origin === app.origin && u.pathname === '/callback', { timeout: 10_000 })
        .catch(async (err: unknown) => {
          throw new Error(
            `the browser did not come back to the app: at ${page.url()}, the page says "${(await page.textContent('body'))?.trim().slice(0, 300)}"`,
            { cause: err },
          );
        });
      await page.waitForFunction(() => 'sdk' in window);
      return jkt;
    }

    it('signs in with a redirect: a DPoP-bound code redeemed with the key kept across the round trip, the address bar cleaned', async () => {
      const { page, exchanges } = await appPage();
      const jkt = await toCallback(page);
      const answer = new URL(page.url());
      expect(answer.searchParams.get('state')).toMatch(/^[\w-]{43}$/);
      expect(answer.searchParams.get('iss')).toBe(server.issuer);
      const done = await completeOnPage(page, where);
      expect(done).toMatchObject({ tokenType: 'DPoP', sub: server.subject, me: 200, pending: null, jkt, same: true });
      expect(new URL(done.href).search).toBe(''); // code, state and iss left the address bar
      const sent = await Promise.all(exchanges);
      expect(sent.filter((e) => e.tokenType !== undefined)).toHaveLength(1); // one redemption (a use_dpop_nonce round adds an answer without tokens)
      expect(sent.every((e) => e.dpop)).toBe(true);
      expect(String(sent.at(-1)?.tokenType).toLowerCase()).toBe('dpop');
      expect(await server.boundKey((done as { accessToken: string }).accessToken)).toBe(jkt);
    });

    it('refuses an answer with another state (the sign-in keeps waiting) and one with another iss (spent), sending nothing', async () => {
      const { page, exchanges } = await appPage();
      await toCallback(page);
      const real = new URL(page.url());
      const tampered = (name: string, value: string) => {
        const u = new URL(real.href);
        u.searchParams.set(name, value);
        return u.href;
      };
      await page.goto(tampered('state', 'forged-state'));
      await page.waitForFunction(() => 'sdk' in window);
      const forged = await completeOnPage(page, where);
      expect(forged).toMatchObject({ error: 'ERR_STATE_MISMATCH' });
      expect(forged.pending).not.toBeNull(); // still waiting for its own answer
      expect(new URL(forged.href).search).toBe('');
      await page.goto(tampered('iss', 'https://attacker.example'));
      await page.waitForFunction(() => 'sdk' in window);
      expect(await completeOnPage(page, where)).toMatchObject({ error: 'ERR_ISSUER_MISMATCH', pending: null });
      await page.goto(real.href);
      await page.waitForFunction(() => 'sdk' in window);
      expect(await completeOnPage(page, where)).toMatchObject({ error: 'ERR_NO_PENDING_SIGN_IN' }); // used once
      expect(exchanges).toEqual([]);
    });

    it('a second sign-in in the tab replaces the first (whose answer is then refused); a DPoP key lost on the way is said, nothing sent', async () => {
      const { page, exchanges } = await appPage();
      // Two sign-ins started in one tab: the second one's pending state replaces the first's.
      const urls = await page.evaluate(async ({ issuer, clientId }) => {
        const sdk = (window as unknown as { sdk: Sdk }).sdk;
        const client = sdk.createTokenClient({ issuer, clientId, storage: sdk.browserStorage() });
        const seen: string[] = [];
        for (let i = 0; i < 2; i++) await sdk.signInWithRedirect(client, { redirectUri: '/callback', scope: 'openid', navigate: (u) => seen.push(u) });
        return seen;
      }, where);
      expect(urls).toHaveLength(2);
      await page.goto(urls[0] as string);
      await server.signInInPage(page);
      await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback', { timeout: 10_000 });
      await page.waitForFunction(() => 'sdk' in window);
      expect(await completeOnPage(page, where)).toMatchObject({ error: 'ERR_STATE_MISMATCH' });
      // The second one's answer, with the page's DPoP key gone meanwhile (site data cleared): refused before the code is sent.
      await page.goto(urls[1] as string);
      await server.signInInPage(page);
      await page.waitForURL((u) => u.origin === app.origin && u.pathname === '/callback', { timeout: 10_000 });
      await page.waitForFunction(() => 'sdk' in window);
      await page.evaluate(
        () =>
          new Promise((resolve, reject) => {
            const r = indexedDB.deleteDatabase('baton-dpop');
            r.onsuccess = resolve;
            r.onerror = reject;
          }),
      );
      expect(await completeOnPage(page, where)).toMatchObject({ error: 'ERR_DPOP_KEY_MISSING', pending: null });
      expect(exchanges).toEqual([]);
    });
  });
}
