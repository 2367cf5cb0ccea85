/**
 * The web page's "Apps with access" in real Chromium: the signed-in user's consents (kept in the
 * store, `GET /auth/consents`) by app name, only theirs; an app's name, which a registered client
 * chooses, shown as text and never run; "Revoke" forgets the consent (`DELETE /auth/consents/…`).
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { storeConsents } from '../../packages/baton-auth-server/src/server/consents.ts';
import { clients } from '../../packages/baton-auth-server/src/server/clients.ts';
import { describeInChromium, launchChromium } from '../support/chromium.ts';

const HOSTILE = '<img src=x onerror="window.__ran=1">Notes';

describeInChromium('apps with access in Chromium', 'test/e2e/apps-with-access.test.ts', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let browser: Browser;
  beforeAll(async () => {
    server = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent' }));
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('lists the user’s apps by name, as text; Revoke removes one', async () => {
    const store = server.service.store;
    const alice = await users.add(store, 'alice', 'correct horse battery');
    const bob = await users.add(store, 'bob', 'bob battery staple');
    await clients.add(store, 'notes', { redirectUris: ['https://notes.example/cb'], name: HOSTILE });
    await clients.add(store, 'mail', { redirectUris: ['https://mail.example/cb'], name: 'Mail' });
    const consents = storeConsents(store);
    await consents.put(alice.id, 'notes', ['profile'], Date.UTC(2026, 0, 5));
    await consents.put(alice.id, 'mail', ['email', 'profile'], Date.UTC(2026, 0, 6));
    await consents.put(bob.id, 'bobs-app', ['profile'], Date.UTC(2026, 0, 7));
    // A session Mail opened through the code flow (no device name: an SDK, a CLI) is named by its app.
    await server.service.baton.login(alice.id, { clientId: 'mail' });

    const context = await browser.newContext();
    onTestFinished(() => context.close());
    const page = await context.newPage();
    await page.goto(server.url);
    await page.fill('#username', 'alice');
    await page.fill('#password', 'correct horse battery');
    await page.click('#login-button');
    await page.waitForSelector('#app:not([hidden])');
    await page.waitForSelector('#consents li');

    await page.waitForSelector('#sessions li');
    expect(await page.locator('#sessions li').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('An app: mail')]));
    const names = await page.locator('#consents li .device').allTextContents();
    expect(names).toEqual(['Mail', HOSTILE]); // newest first; bob's app not among them
    expect(await page.locator('#consents img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __ran?: number }).__ran)).toBeUndefined();
    expect(await page.isVisible('#no-consents')).toBe(false);
    expect(await page.locator('#consents li[data-client="mail"] .muted').textContent()).toContain('may use email, profile');

    const [deleted] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/auth/consents/mail') && r.request().method() === 'DELETE'),
      page.getByRole('button', { name: 'Revoke access of Mail' }).click(),
    ]);
    expect(deleted.status()).toBeLessThan(300);
    await page.waitForSelector('#consents li[data-client="mail"]', { state: 'detached' });
    expect(await consents.get(alice.id, 'mail')).toBeNull();
    expect(await consents.get(alice.id, 'notes')).not.toBeNull();

    await page.getByRole('button', { name: `Revoke access of ${HOSTILE}` }).click();
    await page.waitForSelector('#no-consents:not([hidden])');
    expect(await consents.list(alice.id)).toEqual([]);
    expect(await consents.list(bob.id)).toHaveLength(1);
  }, 60_000);
});
