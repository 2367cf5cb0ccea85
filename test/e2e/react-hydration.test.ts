/**
 * `baton-auth-client/react` in real Chromium: the page is rendered to a string on the server
 * (react-dom/server) and hydrated in the browser. The first client render is the server's
 * snapshot exactly — no hydration mismatch, in React 19 Strict Mode, through a Suspense boundary —
 * and a control that gives the browser another snapshot shows the check would see one. Strict
 * Mode's double effects fetch the token once, and unmounting leaves no listener, timer or channel.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { describeInChromium, launchChromium } from '../support/chromium.ts';
import { startReactHarness } from '../support/react-harness.ts';
import type { PageOptions, ReactHarness } from '../support/react-harness.ts';

interface Probe {
  listeners: string[];
  timers: number[];
  channels: number;
}

describeInChromium('React provider: hydration, Strict Mode, Suspense', 'test/e2e/react-hydration.test.ts', () => {
  let harness: ReactHarness;
  let browser: Browser;
  let context: BrowserContext;
  beforeAll(async () => {
    harness = await startReactHarness();
    browser = await launchChromium();
  }, 60_000);
  beforeEach(async () => {
    harness.reset();
    await context?.close();
    context = await browser.newContext();
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await harness?.close();
  });

  /** Opens a page of the app and waits for React to have run; returns it with what its console said. */
  async function open(options: PageOptions): Promise<{ page: Page; console: string[] }> {
    const page = await context.newPage();
    const console: string[] = [];
    page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => console.push(`exception: ${e.message}`));
    await page.goto(harness.url + harness.page(options));
    await page.waitForFunction(() => window.__app?.hydrated === true);
    return { page, console };
  }
  const errorsOf = (page: Page) => page.evaluate(() => window.__app.errors);

  it.each([
    ['signed in', () => harness.snapshot(), 'Signed in as Lena'],
    ['signed out with a reason', () => ({ status: 'signed-out', reason: 'revoked', description: 'Signed out (revoked).' }) as const, 'Signed out: revoked'],
  ])('%s: the server HTML hydrates without a mismatch, in Strict Mode and a Suspense boundary', async (_, session, text) => {
    const { page, console } = await open({ session: session(), strict: true });
    // The text the server rendered, before any script ran, is what the page shows after hydration.
    expect(await page.textContent('#status')).toBe(text);
    await page.waitForTimeout(300); // a late recoverable error or warning would land by now
    expect(await errorsOf(page)).toEqual([]);
    expect(console).toEqual([]);
    expect(await page.textContent('#status')).toBe(text);
    // With the server's snapshot, the provider asks nothing at start.
    expect(harness.count('session')).toBe(0);
  });

  it('control: a browser given another snapshot than the server rendered reports the mismatch', async () => {
    const { page, console } = await open({ session: harness.snapshot(), clientSession: { status: 'signed-out', reason: null, description: 'x' } });
    await page.waitForTimeout(300);
    const reported = [...(await errorsOf(page)), ...console].join('\n');
    expect(reported).toMatch(/hydrat/i);
  });

  it('Strict Mode: one token fetch for the double effects; use(getToken()) under Suspense; unmounting leaves nothing behind', async () => {
    const { page, console } = await open({ session: harness.snapshot(), strict: true, accessToken: true, suspenseToken: true });
    await page.waitForFunction(() => document.querySelector('#token')?.textContent?.startsWith('at.') && document.querySelector('#used-token'));
    expect(harness.count('token')).toBe(1);
    const token = await page.textContent('#token');
    expect(await page.textContent('#used-token')).toBe(token);
    // What the provider holds while mounted: the three listeners, one channel, one timer (the token's renewal).
    const mounted = (await page.evaluate('window.__probe()')) as Probe;
    expect(mounted.listeners.sort()).toEqual(['focus', 'online', 'visibilitychange']);
    expect(mounted.channels).toBe(1);
    expect(mounted.timers.filter((ms) => ms > 1000)).toHaveLength(1);
    await page.evaluate(() => window.__app.unmount());
    await page.waitForTimeout(500); // a short timer of React's own has run by now
    expect(await page.evaluate('window.__probe()')).toEqual({ listeners: [], timers: [], channels: 0 });
    expect(await errorsOf(page)).toEqual([]);
    expect(console).toEqual([]);
    expect(harness.count('token')).toBe(1);
  });

  it('the token lives in memory only: neither localStorage nor sessionStorage holds it', async () => {
    const { page } = await open({ session: harness.snapshot(), accessToken: true });
    await page.waitForFunction(() => document.querySelector('#token')?.textContent?.startsWith('at.'));
    const token = (await page.textContent('#token')) as string;
    const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]));
    expect(stored).not.toContain(token);
    expect(stored).not.toContain(token.split('.')[2]);
  });

  it('without a server snapshot: "Loading" on the server and at hydration, then one read of the session', async () => {
    const { page, console } = await open({ strict: true });
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'Signed in as Lena');
    expect(harness.count('session')).toBe(1);
    expect(await errorsOf(page)).toEqual([]);
    expect(console).toEqual([]);
  });
});
