/**
 * `npx node --conditions=baton-source scripts/page-screenshots.ts`: the screenshots of the web page
 * in docs/images/ (docs/web-page.md shows them), taken with Debian's Chromium (playwright-core)
 * against the real service: a memory store, one user signed in on four devices (a fifth signed out
 * from the first), a few refreshes, the confirmation before signing a device out, a locked-out
 * sign-in, a device told it was signed out, and the page at 375 px wide. Needs `npm run build` first (the page's client.js).
 */
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { loadConfig, startServer, users } from 'baton-auth-server';

const OUT = new URL('../docs/images/', import.meta.url);
const CHROMIUM = process.env.BATON_CHROMIUM ?? '/usr/bin/chromium';
const AGENTS = {
  chromeLinux: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  firefoxWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
  safariIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  edgeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
};

const server = await startServer(
  loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_ACCESS_TTL: '4', BATON_REFRESH_TTL: '1h', BATON_LOG_LEVEL: 'silent', BATON_TRUST_PROXY: 'loopback' }),
);
let browser: Browser | undefined;
const stop = setTimeout(() => {
  console.error('page-screenshots: still running after 3 minutes; stopping');
  process.exit(1);
}, 180_000);
try {
  await users.add(server.service.store, 'alice', 'correct horse battery');
  await users.add(server.service.store, 'bob', 'bob battery staple');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const device = async (userAgent: string, ip: string, width = 1024): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser!.newContext({
      userAgent,
      extraHTTPHeaders: { 'x-forwarded-for': ip },
      viewport: { width, height: 800 },
      deviceScaleFactor: 1,
      locale: 'en-GB',
      timezoneId: 'Europe/London',
    });
    return { context, page: await context.newPage() };
  };
  const signIn = async (page: Page, username = 'alice', password = 'correct horse battery') => {
    await page.goto(server.url);
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };
  mkdirSync(OUT, { recursive: true });
  const shot = (name: string) => new URL(name, OUT).pathname;

  const laptop = await device(AGENTS.chromeLinux, '198.51.100.7');
  await signIn(laptop.page);
  await laptop.page.waitForSelector('#app:not([hidden])');
  const edge = await device(AGENTS.edgeWindows, '203.0.113.20');
  await signIn(edge.page);
  await edge.page.waitForSelector('#app:not([hidden])');
  // The Edge session is signed out from the laptop: the activity tells who did it.
  await laptop.page.waitForSelector('#sessions li[data-current="false"] .kick');
  await laptop.page.click('#sessions li[data-current="false"] .kick');
  await laptop.page.getByRole('button', { name: 'Sign out device' }).click();
  await edge.page.waitForSelector('#login-card:not([hidden])');
  await edge.page.screenshot({ path: shot('signed-out-kicked.png'), clip: { x: 0, y: 0, width: 1024, height: 560 } });
  for (const [ua, ip] of [
    [AGENTS.firefoxWindows, '203.0.113.9'],
    [AGENTS.safariIphone, '192.0.2.44'],
    [AGENTS.chromeLinux, '198.51.100.8'],
  ] as const) {
    const other = await device(ua, ip);
    await signIn(other.page);
    await other.page.waitForSelector('#app:not([hidden])');
  }
  await laptop.page.waitForTimeout(9_000); // a few refreshes, and the others' "active … ago"
  await laptop.page.evaluate(() => window.scrollTo(0, 0));
  await laptop.page.waitForFunction(() => document.querySelectorAll('#sessions li').length === 4);
  await laptop.page.screenshot({ path: shot('page-signed-in.png'), fullPage: true });
  await laptop.page.locator('section', { has: laptop.page.locator('#sessions') }).screenshot({ path: shot('page-devices.png') });
  await laptop.page.locator('section', { has: laptop.page.locator('#timeline') }).screenshot({ path: shot('page-timeline.png') });
  await laptop.page.getByRole('button', { name: /^Sign out Firefox/ }).click();
  await laptop.page.waitForSelector('dialog[open]');
  await laptop.page.screenshot({ path: shot('page-confirm.png') });
  await laptop.page.getByRole('button', { name: 'Cancel' }).click();

  // Ten wrong passwords lock bob out of this address for an hour; the page says so, and the way out.
  for (let i = 0; i < 10; i++) {
    await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.30' },
      body: JSON.stringify({ username: 'bob', password: `wrong ${i}` }),
    });
  }
  const locked = await device(AGENTS.chromeLinux, '198.51.100.30');
  await signIn(locked.page, 'bob', 'bob battery staple');
  await locked.page.waitForSelector('#message.error:not(:empty)');
  await locked.page.screenshot({ path: shot('page-lockout.png') });

  const phone = await device(AGENTS.safariIphone, '192.0.2.45', 375);
  await signIn(phone.page);
  await phone.page.waitForSelector('#timeline li');
  await phone.page.waitForTimeout(1_000);
  await phone.page.screenshot({ path: shot('page-phone.png'), fullPage: true });
  console.info(`page-screenshots: written to ${OUT.pathname}`);
} finally {
  clearTimeout(stop);
  await browser?.close();
  await server.stop();
}
