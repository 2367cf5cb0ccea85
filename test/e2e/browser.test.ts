/**
 * The web page in real Chromium (Debian's, driven by playwright-core): log in, watch refreshes
 * across several access-token lifetimes without a logout, kick a second browser's session and
 * see it sent back to the login form, log out everywhere. What a person sees: labelled inputs,
 * the username, devices by name, address and last activity, a confirmation before signing one
 * out, the account's activity, a lockout that says how long and the way out — and a first visit
 * and a sign-in that log nothing in the console.
 */
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, expect, it, onTestFinished } from 'vitest';
import { resetFailures } from 'baton-auth/http';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { eventually } from '../support/eventually.ts';
import { describeInChromium, launchChromium } from '../support/chromium.ts';

const SHOTS = new URL('../../.tmp/screenshots/', import.meta.url);
const METRICS_TOKEN = 'browser-test-metrics-token-0123456789abcdef';
/** Chrome 131's user agents on two systems: the page must tell them apart. */
const CHROME_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/**
 * Everything a page logs that a person opening the console would call an error: console errors
 * and warnings (a failed fetch is logged as one), uncaught exceptions, failed requests, and every
 * answer of 400 or more.
 */
function problemsOf(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && problems.push(`console ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => r.status() >= 400 && problems.push(`${r.status()}: ${r.request().method()} ${r.url()}`));
  return problems;
}

describeInChromium('web page in Chromium', 'test/e2e/browser.test.ts', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let browser: Browser;
  beforeAll(async () => {
    // Behind a "proxy" (loopback): a browser context's X-Forwarded-For gives its device another address.
    const config = loadConfig({
      PORT: '0',
      BATON_STORE: 'memory:',
      BATON_ACCESS_TTL: '3',
      BATON_REFRESH_TTL: '60',
      BATON_LOG_LEVEL: 'silent',
      BATON_TRUST_PROXY: 'loopback',
      BATON_METRICS_TOKEN: METRICS_TOKEN,
    });
    server = await startServer(config);
    await users.add(server.service.store, 'alice', 'correct horse battery');
    await users.add(server.service.store, 'bob', 'bob battery staple');
    browser = await launchChromium();
  }, 60_000);
  beforeEach(async () => {
    // Each test (and each retry) starts with alice signed out everywhere.
    await server.service.baton.revokeUserSessions((await users.get(server.service.store, 'alice'))?.id as string);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('keeps a user logged in across access-token lifetimes; a kicked device returns to the login form', async () => {
    const contexts = [await browser.newContext(), await browser.newContext()];
    onTestFinished(() => Promise.all(contexts.map((c) => c.close())).then(() => undefined));
    const [laptop, phone] = [await (contexts[0] as BrowserContext).newPage(), await (contexts[1] as BrowserContext).newPage()];
    const logs: string[] = [];
    for (const page of [laptop, phone]) {
      page.on('console', (m) => logs.push(m.text()));
      page.on('pageerror', (e) => logs.push(e.message));
    }
    // The page asks for the DPoP nonce first (HEAD /auth/login), then signs in with it.
    const logIn = async (page: typeof laptop) => {
      await page.goto(server.url);
      await page.fill('#username', 'alice');
      await page.fill('#password', 'correct horse battery');
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/auth/login') && r.request().method() === 'POST'),
        page.click('#login-button'),
      ]);
      expect(response.status(), 'POST /auth/login').toBe(200);
      await page.waitForSelector('#app:not([hidden])').catch(async (err: unknown) => {
        throw new Error(`the app did not show after a 200 login; the page said "${await page.textContent('#message')}"; console: ${logs.join(' | ')}`, {
          cause: err,
        });
      });
    };
    const seen: string[] = [];
    const stop = server.service.baton.on('*', (e) => seen.push(e.type));
    onTestFinished(stop); // also when an attempt fails, so that a retry counts only its own events
    await logIn(laptop);
    // Three access-token lifetimes of 3 s.
    await laptop.waitForTimeout(9_000);
    const counted = async () => Number(await laptop.getAttribute('#refresh-count', 'data-count'));
    expect(await laptop.isVisible('#login-card')).toBe(false);
    expect(Number(await laptop.textContent('#remaining'))).toBeGreaterThan(0);
    // One rotation per refresh the page made (polled: a refresh may be between the service and the page); no reuse, no logout.
    await eventually(async () => (await counted()) === seen.filter((t) => t === 'refresh.rotated').length, { timeoutMs: 2_000 }).catch(async (err: unknown) => {
      throw new Error(`the page counted ${await counted()} refreshes; the service saw ${seen.join(', ')}`, { cause: err });
    });
    const refreshes = await counted();
    expect(refreshes).toBeGreaterThanOrEqual(2);
    expect(await laptop.textContent('#refresh-count')).toBe(refreshes === 2 ? 'refreshed twice' : `refreshed ${refreshes} times`);
    expect(seen).not.toContain('refresh.reused');
    expect(seen).not.toContain('session.revoked');

    // A tab whose script stood still longer than a token's life (a laptop lid, a tab the browser
    // froze; here the debugger holds it) refreshes once when it runs again: its late timer re-reads
    // the clocks, and nothing else fires.
    const cdp = await laptop.context().newCDPSession(laptop);
    await cdp.send('Debugger.enable');
    const paused = new Promise((r) => cdp.once('Debugger.paused', r));
    await cdp.send('Debugger.pause');
    await paused; // the page's 100 ms ticker runs into it at once
    const rotationsBefore = seen.filter((t) => t === 'refresh.rotated').length;
    await new Promise((r) => setTimeout(r, 5_000)); // > the 3 s access-token lifetime
    expect(seen.filter((t) => t === 'refresh.rotated')).toHaveLength(rotationsBefore); // frozen: nothing ran
    await cdp.send('Debugger.resume');
    await cdp.send('Debugger.disable');
    await eventually(() => seen.filter((t) => t === 'refresh.rotated').length > rotationsBefore, { what: 'the refresh after waking', timeoutMs: 5_000 });
    await laptop.waitForTimeout(500);
    expect(seen.filter((t) => t === 'refresh.rotated')).toHaveLength(rotationsBefore + 1);
    expect(seen).not.toContain('refresh.reused');
    expect(await laptop.isVisible('#app')).toBe(true);
    stop();

    await logIn(phone);
    await laptop.waitForSelector('#sessions li[data-current="false"] .kick');
    expect(await laptop.locator('#sessions li').count()).toBe(2);
    mkdirSync(SHOTS, { recursive: true });
    await laptop.screenshot({ path: new URL('web-page.png', SHOTS).pathname, fullPage: true });
    await laptop.click('#sessions li[data-current="false"] .kick');
    await laptop.getByRole('dialog', { name: 'Sign out this device?' }).getByRole('button', { name: 'Sign out device' }).click();
    await phone.waitForSelector('#login-card:not([hidden])', { timeout: 10_000 });
    // The page says why, from the server's session_end: who ended it, from which device, when.
    expect(await phone.textContent('#message')).toMatch(/^Signed out: this device was signed out from Chrome on Linux at \d/);
    await phone.screenshot({ path: new URL('kicked.png', SHOTS).pathname });
    await laptop.waitForFunction(() => document.querySelectorAll('#sessions li').length === 1);
    expect(await laptop.isVisible('#app')).toBe(true);

    await laptop.click('#logout-global');
    await laptop.waitForSelector('#login-card:not([hidden])');
    expect(await server.service.baton.listSessions((await users.get(server.service.store, 'alice'))?.id as string)).toEqual([]);
  }, 90_000);

  it('three tabs share one session: one refresh per rotation, no logout; logging out in one tab logs all out', async () => {
    const context = await browser.newContext();
    onTestFinished(() => context.close());
    const tabs = [await context.newPage(), await context.newPage(), await context.newPage()];
    const [first] = tabs as [(typeof tabs)[0]];
    await first.goto(server.url);
    await first.fill('#username', 'alice');
    await first.fill('#password', 'correct horse battery');
    await first.click('#login-button');
    await first.waitForSelector('#app:not([hidden])');
    for (const tab of tabs.slice(1)) {
      await tab.goto(server.url);
      await tab.waitForSelector('#app:not([hidden])'); // the tokens came from the first tab
    }
    const rotations: boolean[] = [];
    let reused = 0;
    const stop = server.service.baton.on('*', (e) => {
      if (e.type === 'refresh.rotated' || e.type === 'refresh.grace') rotations.push(e.type === 'refresh.grace');
      if (e.type === 'refresh.reused') reused++;
    });
    const started = Date.now();
    await first.waitForTimeout(9_000); // three lifetimes of 3 s
    const lifetimes = (Date.now() - started) / 3000;
    stop();
    for (const tab of tabs) expect(await tab.isVisible('#app')).toBe(true);
    // Three tabs with background refresh, and still about one rotation per lifetime: they shared it
    // (three tabs each on their own would rotate three times as often). A tab whose timer fired late
    // on a loaded machine may race another and get the same child through the grace window: that
    // is the design, counted apart; a reuse (which would end the session) never happens.
    expect(reused).toBe(0);
    const rotated = rotations.filter((inGrace) => !inGrace).length;
    expect(rotated).toBeGreaterThanOrEqual(Math.floor(lifetimes) - 1);
    expect(rotated).toBeLessThanOrEqual(Math.ceil(lifetimes) + 1);
    expect(rotations.length - rotated).toBeLessThanOrEqual(Math.ceil(lifetimes));
    const sessions = await server.service.baton.listSessions((await users.get(server.service.store, 'alice'))?.id as string);
    expect(sessions).toHaveLength(1);
    await (tabs[1] as typeof first).click('#logout-local');
    for (const tab of tabs) await tab.waitForSelector('#login-card:not([hidden])', { timeout: 5_000 });
  }, 60_000);

  it('a tab that holds the refresh lock past its lease is named, and another tab takes over', async () => {
    const context = await browser.newContext();
    onTestFinished(() => context.close());
    const [stuck, other] = [await context.newPage(), await context.newPage()];
    await stuck.goto(server.url);
    await stuck.fill('#username', 'alice');
    await stuck.fill('#password', 'correct horse battery');
    await stuck.click('#login-button');
    await stuck.waitForSelector('#app:not([hidden])');
    await other.goto(server.url);
    await other.waitForSelector('#app:not([hidden])');
    const warnings: string[] = [];
    other.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
    // The first tab takes the refresh lock through its storage and never lets go (a hung refresh).
    await stuck.evaluate(
      () =>
        void (window as unknown as { baton: { storage: { withLock(fn: () => Promise<void>): Promise<void> } } }).baton.storage.withLock(
          () => new Promise(() => undefined),
        ),
    );
    const holder = await stuck.evaluate(() => JSON.parse(localStorage.getItem('baton:lease') ?? 'null')?.holder as string);
    expect(holder).toMatch(/^tab \w+ \(\//);
    const rotated: string[] = [];
    const stop = server.service.baton.on('refresh.rotated', (e) => rotated.push(e.type));
    onTestFinished(stop);
    // The other tab's refreshes wait the 5 s lease, then steal the lock, say from whom, and go on.
    await eventually(() => rotated.length > 0, { what: 'a refresh after the lease', timeoutMs: 15_000 });
    await eventually(() => warnings.length > 0, { what: 'the lease warning', timeoutMs: 2_000 });
    expect(warnings[0]).toBe(`baton: The refresh lock was held by ${holder} for more than 5000 ms; this tab took it over.`);
    expect(await other.isVisible('#app')).toBe(true);
  }, 60_000);

  /** A counter of the service's metrics (0 when it has no such sample yet). */
  const metric = async (name: string, outcome: string): Promise<number> => {
    const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
    return Number(new RegExp(`^${name}\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  };
  const outcomes = ['rotated', 'grace', 'reused', 'invalid', 'rate_limited', 'no_token', 'dpop_nonce', 'invalid_request'];

  it('a first visit and a sign-in log nothing: labelled inputs, the username, no favicon 404, no refresh probe, no nonce round', async () => {
    const context = await browser.newContext();
    onTestFinished(() => context.close());
    const page = await context.newPage();
    const problems = problemsOf(page);
    const requests: string[] = [];
    page.on('request', (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
    const refreshesBefore = await Promise.all(outcomes.map((o) => metric('baton_refreshes_total', o)));
    const loginsBefore = {
      ok: await metric('baton_logins_total', 'ok'),
      failed: await metric('baton_logins_total', 'failed'),
      nonce: await metric('baton_logins_total', 'dpop_nonce'),
    };

    await page.goto(server.url);
    await page.waitForTimeout(1_000); // the page's start-up (150 ms) and whatever it would probe
    // Inputs a screen reader announces: real labels, a button that says what it does.
    await expect.poll(() => page.getByLabel('Username').isVisible()).toBe(true);
    expect(await page.getByLabel('Password').getAttribute('type')).toBe('password');
    expect(await page.getByRole('button', { name: 'Sign in' }).isEnabled()).toBe(true);
    expect(await page.locator('input[placeholder]').count()).toBe(0);
    // No developer hint for end users (the service's start-up log says how to add a user).
    expect(await page.textContent('body')).not.toContain('npm run baton');
    // Signed out and never signed in here: no silent refresh, so nothing refused and nothing counted.
    expect(requests.filter((r) => r.endsWith('/oauth/token'))).toEqual([]);
    expect(await Promise.all(outcomes.map((o) => metric('baton_refreshes_total', o)))).toEqual(refreshesBefore);
    expect(problems).toEqual([]);

    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForSelector('#app:not([hidden])');
    // The username, not the user id.
    await expect.poll(() => page.textContent('#whoami')).toBe('alice');
    expect(await page.getByRole('heading', { name: 'Signed in as alice' }).isVisible()).toBe(true);
    await page.waitForSelector('#sessions li');
    await page.waitForSelector('#timeline li');
    // The nonce came first (HEAD /auth/login, 204): one POST, answered 200, no use_dpop_nonce round.
    expect(requests.filter((r) => r.endsWith('/auth/login'))).toEqual(['HEAD /auth/login', 'POST /auth/login']);
    expect(await metric('baton_logins_total', 'ok')).toBe(loginsBefore.ok + 1);
    expect(await metric('baton_logins_total', 'failed')).toBe(loginsBefore.failed);
    expect(await metric('baton_logins_total', 'dpop_nonce')).toBe(loginsBefore.nonce);
    // Every button says what it does.
    for (const button of await page.getByRole('button').all()) {
      if (await button.isVisible()) expect((await button.evaluate((b) => b.getAttribute('aria-label') ?? b.textContent ?? '')).trim()).not.toBe('');
    }
    expect(problems).toEqual([]);

    // "Signed out." is news, not an error: the neutral colour.
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForSelector('#login-card:not([hidden])');
    expect(await page.textContent('#message')).toBe('Signed out.');
    expect(await page.getAttribute('#message', 'class')).toBe('message info');
    const colours = await page.evaluate(() => {
      const m = document.getElementById('message') as HTMLElement;
      const info = getComputedStyle(m).color;
      m.className = 'message error';
      const error = getComputedStyle(m).color;
      m.className = 'message info';
      return { info, error };
    });
    expect(colours.info).not.toBe(colours.error);
    // Signed out here: a reload probes nothing either.
    requests.length = 0;
    await page.reload();
    await page.waitForTimeout(1_000);
    expect(requests.filter((r) => r.endsWith('/oauth/token'))).toEqual([]);
    expect(problems).toEqual([]);
  }, 60_000);

  it('devices by name, address and last activity; "Sign out this device?" first; the activity says who signed it out', async () => {
    const laptopContext = await browser.newContext({ userAgent: CHROME_LINUX, extraHTTPHeaders: { 'x-forwarded-for': '198.51.100.7' } });
    const desktopContext = await browser.newContext({ userAgent: CHROME_LINUX, extraHTTPHeaders: { 'x-forwarded-for': '198.51.100.8' } });
    const windowsContext = await browser.newContext({ userAgent: CHROME_WINDOWS, extraHTTPHeaders: { 'x-forwarded-for': '203.0.113.9' } });
    const contexts = [laptopContext, desktopContext, windowsContext];
    onTestFinished(() => Promise.all(contexts.map((c) => c.close())).then(() => undefined));
    const [laptop, desktop, windows] = (await Promise.all(contexts.map((c) => c.newPage()))) as [Page, Page, Page];
    for (const page of [laptop, desktop, windows]) {
      await page.goto(server.url);
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('correct horse battery');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForSelector('#app:not([hidden])');
    }
    await laptop.waitForFunction(() => document.querySelectorAll('#sessions li').length === 3);
    const rows = async () =>
      laptop.$$eval('#sessions li', (lis) =>
        lis.map((li) => ({
          current: li.getAttribute('data-current'),
          name: li.querySelector('.device')?.childNodes[0]?.textContent,
          meta: li.querySelector('.muted')?.textContent,
        })),
      );
    // Two Chromes on two systems look different; the same Chrome twice differs by address and last activity.
    await expect
      .poll(async () => (await rows()).filter((r) => r.current === 'false').every((r) => /active (just now|\d+ seconds? ago)/.test(r.meta ?? '')))
      .toBe(true);
    const listed = await rows();
    expect(listed[0]).toMatchObject({ current: 'true', name: 'Chrome 131 on Linux' });
    expect(listed[0]?.meta).toMatch(/^198\.51\.100\.7 · active now · signed in \d/);
    expect(
      listed
        .slice(1)
        .map((r) => r.name)
        .sort(),
    ).toEqual(['Chrome 131 on Linux', 'Chrome 131 on Windows']);
    expect(listed.find((r) => r.name === 'Chrome 131 on Linux' && r.current === 'false')?.meta).toMatch(/^198\.51\.100\.8 · active /);
    expect(listed.find((r) => r.name === 'Chrome 131 on Windows')?.meta).toMatch(/^203\.0\.113\.9 · active /);
    expect(await laptop.textContent('#sessions li[data-current="true"] .tag')).toBe('This device');

    // Cancel keeps it.
    const kick = laptop.getByRole('button', { name: 'Sign out Chrome 131 on Windows at 203.0.113.9' });
    const dialog = laptop.getByRole('dialog', { name: 'Sign out this device?' });
    await kick.click();
    expect(await dialog.isVisible()).toBe(true);
    expect(await dialog.textContent()).toContain('Chrome 131 on Windows at 203.0.113.9, active ');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await dialog.isVisible()).toBe(false);
    await windows.waitForTimeout(2_000);
    expect(await windows.isVisible('#app')).toBe(true);
    expect(await server.service.baton.listSessions((await users.get(server.service.store, 'alice'))?.id as string)).toHaveLength(3);
    // Confirm signs it out, and it is told so in the neutral colour.
    await kick.click();
    await dialog.getByRole('button', { name: 'Sign out device' }).click();
    await windows.waitForSelector('#login-card:not([hidden])', { timeout: 10_000 });
    expect(await windows.textContent('#message')).toMatch(/^Signed out: this device was signed out from Chrome on Linux at \d/);
    expect(await windows.getAttribute('#message', 'class')).toBe('message info');
    await laptop.waitForFunction(() => document.querySelectorAll('#sessions li').length === 2);

    // The activity: sign-ins, refreshes, and the Windows session signed out from this device.
    const timeline = async () =>
      laptop.$$eval('#timeline li', (lis) => lis.map((li) => `${li.querySelector('.what')?.textContent} | ${li.querySelector('.muted')?.textContent}`));
    await expect
      .poll(async () => (await timeline()).some((t) => t.startsWith('Signed out from this device | Chrome 131 on Windows · 203.0.113.9 · ')), {
        timeout: 20_000,
      })
      .toBe(true);
    const events = await timeline();
    expect(events.filter((t) => /^Signed in \| .* · (198\.51\.100\.[78]|203\.0\.113\.9) · /.test(t))).toHaveLength(3);
    expect(events).toContainEqual(expect.stringMatching(/^Signed in \| Chrome 131 on Linux \(this device\) · 198\.51\.100\.7 · (just now|\d+ seconds? ago)$/));
    await expect
      .poll(async () => (await timeline()).some((t) => /^Stayed signed in: refreshed (once|twice|\d+ times) \| /.test(t)), { timeout: 20_000 })
      .toBe(true);
    expect(events.join('\n')).not.toMatch(/\b1 times\b/);
  }, 90_000);

  it('a locked-out sign-in says for how long, and the way out', async () => {
    const bob = (await users.get(server.service.store, 'bob'))?.id as string;
    onTestFinished(async () => {
      await resetFailures(server.service.store, 'login', 'bob');
      await server.service.baton.revokeUserSessions(bob);
    });
    // Ten wrong passwords for bob from this address (the default limit): the tenth sets a block of an hour.
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${server.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'bob', password: `wrong password ${i}` }),
      });
      expect(res.status).toBe(i < 9 ? 401 : 429);
    }
    const context = await browser.newContext();
    onTestFinished(() => context.close());
    const page = await context.newPage();
    // The page's clock held: the answer comes before the start-up check (150 ms after load), as it
    // does for a fast typist or a slow IndexedDB; that check must not wipe the answer (it once did).
    const t0 = Date.now();
    await page.clock.install({ time: t0 });
    await page.clock.pauseAt(t0 + 1);
    await page.goto(server.url);
    await page.getByLabel('Username').fill('bob');
    await page.getByLabel('Password').fill('bob battery staple');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForSelector('#message.error:not(:empty)');
    await page.clock.runFor(1_000);
    await page.waitForTimeout(200); // the start-up check's IndexedDB read
    expect(await page.textContent('#message')).toMatch(
      /^Too many failed sign-ins\. Try again in (59|60) minutes, or ask an administrator to run baton limits reset bob \(or, when many sign-ins failed from your network, the same with its address\)\.$/,
    );
    expect(await page.textContent('#message code')).toBe('baton limits reset bob');
    expect(await page.isVisible('#login-card')).toBe(true);
  }, 60_000);
});
