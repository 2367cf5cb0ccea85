/**
 * #22: the page opened at http://localhost:PORT/ could not sign in while the service said
 * http://127.0.0.1:PORT (its default issuer): the DPoP proofs named the URL the page was opened
 * at. The same machine under each of its loopback names works, for proofs and the refresh cookie
 * alike: in Chromium, the page at localhost, 127.0.0.1 and [::1] signs in with DPoP, and a reload
 * keeps it signed in (the cookie refresh), with nothing refused on the way.
 */
import { createServer } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { describeInChromium, launchChromium } from '../support/chromium.ts';

/** A port free on both loopback addresses (the service listens on `::`, dual-stack). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '::', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describeInChromium('the page at each loopback name', 'test/e2e/loopback.test.ts', () => {
  let service: Awaited<ReturnType<typeof startServer>>;
  let browser: Browser;
  let port = 0;
  beforeAll(async () => {
    port = await freePort();
    // The issuer is the default's name (127.0.0.1) while the service listens on every loopback name.
    service = await startServer(
      loadConfig({ HOST: '::', PORT: String(port), BATON_ISSUER: `http://127.0.0.1:${port}`, BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent' }),
    );
    await users.add(service.service.store, 'alice', 'correct horse battery');
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  it.each(['localhost', '127.0.0.1', '[::1]'])(
    'at http://%s:PORT/ the page signs in with DPoP and a reload keeps it signed in',
    async (host) => {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        const refused: string[] = [];
        page.on('response', (r) => r.status() >= 400 && refused.push(`${r.status()} ${r.request().method()} ${r.url()}`));
        page.on('pageerror', (e) => refused.push(`exception: ${e.message}`));
        const login = page.waitForResponse((r) => r.url().endsWith('/auth/login') && r.request().method() === 'POST');
        await page.goto(`http://${host}:${port}/`);
        await page.getByLabel('Username').fill('alice');
        await page.getByLabel('Password').fill('correct horse battery');
        await page.getByRole('button', { name: 'Sign in' }).click();
        const answer = await login;
        expect(answer.status(), await answer.text()).toBe(200);
        expect((await answer.json()) as { token_type: string }).toMatchObject({ token_type: 'DPoP' });
        await expect.poll(() => page.textContent('#whoami')).toBe('alice');
        // A reload has only the refresh cookie (and the bound key in IndexedDB) to go on.
        const refresh = page.waitForResponse((r) => r.url().endsWith('/oauth/token'));
        await page.reload();
        expect((await refresh).status()).toBe(200);
        await expect.poll(() => page.textContent('#whoami')).toBe('alice');
        expect(refused).toEqual([]);
      } finally {
        await context.close();
      }
    },
    30_000,
  );
});
