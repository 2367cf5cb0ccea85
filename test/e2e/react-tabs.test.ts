/**
 * `baton-auth-client/react` across the tabs of one origin, in real Chromium (two pages of one
 * browser context) against a server whose auth routes answer what each test says: one token
 * fetch for both tabs, renewal before expiry at one fetch per lifetime, a 401 that re-reads the
 * session and shows why it ended, a re-read when the page comes back, a sign-out POSTed with the
 * page's cookies that the other tab follows, and one request in flight per page whatever is asked.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { describeInChromium, launchChromium } from '../support/chromium.ts';
import { eventually } from '../support/eventually.ts';
import { startReactHarness } from '../support/react-harness.ts';
import type { PageOptions, ReactHarness } from '../support/react-harness.ts';

describeInChromium('React provider across tabs', 'test/e2e/react-tabs.test.ts', () => {
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
    await context.addCookies([{ name: 'app_session', value: 'lena-cookie', url: harness.url }]);
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await harness?.close();
  });

  async function open(options: PageOptions): Promise<Page> {
    const page = await context.newPage();
    await page.goto(harness.url + harness.page(options));
    await page.waitForFunction(() => window.__app?.hydrated === true);
    return page;
  }
  const tokenOf = (page: Page) => page.textContent('#token');
  const hasToken = (page: Page) => page.waitForFunction(() => document.querySelector('#token')?.textContent?.startsWith('at.'));

  it('two tabs opened together: one fetch of the token, the same token in both', async () => {
    harness.control.tokenDelayMs = 300; // the second tab asks while the first one's fetch is under way
    const [a, b] = await Promise.all([open({ session: harness.snapshot(), accessToken: true }), open({ session: harness.snapshot(), accessToken: true })]);
    await Promise.all([hasToken(a), hasToken(b)]);
    expect(await tokenOf(a)).toBe(await tokenOf(b));
    // A later getToken() in either tab uses the token held.
    expect(await b.evaluate(() => (window.__getToken as () => Promise<string>)())).toBe(await tokenOf(a));
    expect(harness.count('token')).toBe(1);
    expect(new Set(harness.seen.filter((s) => s.route === 'token').map((s) => s.page)).size).toBe(1);
  });

  it('renews before expiry, one fetch per lifetime for both tabs', async () => {
    harness.control.tokenTtlSec = 3;
    const [a, b] = [await open({ session: harness.snapshot(), accessToken: true }), await open({ session: harness.snapshot(), accessToken: true })];
    await Promise.all([hasToken(a), hasToken(b)]);
    await a.waitForTimeout(10_000); // over three lifetimes
    const fetched = harness.seen.filter((s) => s.route === 'token');
    // Each token replaced before it expired (3 s), and none sooner than needed: 10 s / (3 s less a margin) ≈ 4, plus the first.
    for (let i = 1; i < fetched.length; i++) expect((fetched[i] as { at: number }).at - (fetched[i - 1] as { at: number }).at).toBeLessThan(3_000);
    expect(fetched.length).toBeGreaterThanOrEqual(4);
    expect(fetched.length).toBeLessThanOrEqual(6);
    await eventually(async () => (await tokenOf(a)) === fetched.at(-1)?.token && (await tokenOf(b)) === fetched.at(-1)?.token, {
      what: 'both tabs on the last token',
    });
    expect(harness.mostInFlight()).toBe(1);
  });

  it('a 401 from the token route re-reads the session and shows why it ended; getToken() rejects with the reason', async () => {
    // The server rendered a signed-in page; the session was revoked since.
    const session = harness.snapshot();
    Object.assign(harness.control, { signedIn: false, reason: 'revoked' });
    const page2 = await open({ session, accessToken: true });
    // The mounted useAccessToken asks for a token: 401 → the session route → signed out, with the reason.
    await page2.waitForFunction(() => document.querySelector('#status')?.textContent === 'Signed out: revoked');
    expect(harness.seen.map((s) => `${s.route} ${s.status}`)).toEqual(['token 401', 'session 200']);
    const thrown = await page2.evaluate(() =>
      (window.__getToken as () => Promise<string>)().then(
        String,
        (e: { code: string; sessionEnd?: { reason: string } }) => `${e.code} ${e.sessionEnd?.reason}`,
      ),
    );
    expect(thrown).toBe('ERR_SESSION_ENDED revoked');
    expect(await tokenOf(page2)).toBe('none');
  });

  it("useAccessToken().fetch: an API's 401 re-reads the session; signed in, a new token and one retry; signed out, the 401 and the reason", async () => {
    const page = await open({ session: harness.snapshot(), accessToken: true });
    await hasToken(page);
    const first = (await tokenOf(page)) as string;
    const call = () =>
      page.evaluate(() =>
        (window.__fetch as (u: string, i?: RequestInit) => Promise<Response>)('/api/items', { method: 'POST', body: 'x' }).then((r) => r.status),
      );
    expect(await call()).toBe(200);
    harness.control.refused.add(first); // the API refuses the token (revoked, say); the session still stands
    harness.seen.length = 0;
    expect(await call()).toBe(200);
    expect(harness.seen.map((s) => `${s.route} ${s.status}`)).toEqual(['data 401', 'session 200', 'token 200', 'data 200']);
    const second = harness.seen.at(-1)?.token as string;
    expect(second).not.toBe(first);
    expect(await tokenOf(page)).toBe(second);
    // Now the session ends too: the 401 is answered, once, and the page says why.
    Object.assign(harness.control, { signedIn: false, reason: 'revoked' });
    harness.control.refused.add(second);
    harness.seen.length = 0;
    expect(await call()).toBe(401);
    expect(harness.seen.map((s) => `${s.route} ${s.status}`)).toEqual(['data 401', 'session 200']);
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'Signed out: revoked');
    expect(await tokenOf(page)).toBe('none');
  });

  it("re-reads the session before each expiresAt, on the server's clock even an hour off this one", async () => {
    harness.control.sessionTtlMs = 3_000;
    for (const offset of [0, -3_600_000]) {
      harness.reset();
      Object.assign(harness.control, { sessionTtlMs: 3_000, clockOffsetMs: offset });
      const start = Date.now();
      const page = await open({ session: harness.snapshot() });
      await page.waitForTimeout(7_000);
      const elapsed = Date.now() - start;
      const reads = harness.seen.filter((s) => s.route === 'session').map((s) => s.at - start);
      // One read a second before each end (3 s lifetimes: every 2 s) — and, off by an hour, one more that learns the
      // server's clock. Taken on this clock, every end is long past: a read every second (the floor).
      expect(reads.length, `offset ${offset}: ${reads.join(', ')} in ${elapsed} ms`).toBeGreaterThanOrEqual(3);
      expect(reads.length, `offset ${offset}: ${reads.join(', ')} in ${elapsed} ms`).toBeLessThanOrEqual(Math.ceil(elapsed / 2000) + (offset === 0 ? 0 : 1));
      await page.close();
    }
  });

  it("an 'unavailable' session route keeps what the page shows; without a snapshot, it is asked again with a backoff", async () => {
    const page = await open({ session: harness.snapshot() });
    harness.control.unavailable = true;
    await page.evaluate(() => window.dispatchEvent(new Event('focus')));
    await page.waitForTimeout(2_000);
    expect(await page.textContent('#status')).toBe('Signed in as Lena');
    expect(harness.count('session')).toBe(1); // the next read is the one before expiresAt, not a retry loop
    // A page rendered without a snapshot stays "Loading" and asks again 1, 2, 4 s apart.
    harness.seen.length = 0;
    const loading = await open({});
    await loading.waitForTimeout(5_000);
    expect(await loading.textContent('#status')).toBe('Loading');
    const reads = harness.seen.filter((s) => s.route === 'session').map((s) => s.at);
    expect(reads.length).toBeGreaterThanOrEqual(3);
    expect(reads.length).toBeLessThanOrEqual(4);
    for (let i = 2; i < reads.length; i++)
      expect((reads[i] as number) - (reads[i - 1] as number)).toBeGreaterThan((reads[i - 1] as number) - (reads[i - 2] as number));
    Object.assign(harness.control, { unavailable: false, signedIn: false, reason: 'revoked' });
    await page.evaluate(() => window.dispatchEvent(new Event('focus')));
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'Signed out: revoked');
    await loading.waitForFunction(() => document.querySelector('#status')?.textContent === 'Signed out: revoked', undefined, { timeout: 10_000 });
  });

  it('focus and visibilitychange re-read the session (at most one read a second)', async () => {
    const page = await open({ session: harness.snapshot() });
    Object.assign(harness.control, { signedIn: false, reason: 'idle_timeout' });
    await page.evaluate(() => {
      window.dispatchEvent(new Event('focus'));
      document.dispatchEvent(new Event('visibilitychange')); // a tab shown again fires both
      window.dispatchEvent(new Event('focus'));
    });
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'Signed out: idle_timeout');
    await page.waitForTimeout(300);
    expect(harness.count('session')).toBe(1);
    await page.waitForTimeout(800);
    Object.assign(harness.control, { signedIn: true });
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'Signed in as Lena');
    expect(harness.count('session')).toBe(2);
  });

  it("sign-out POSTs the route with the page's cookies and Origin; this tab and the other one show it", async () => {
    const [a, b] = [await open({ session: harness.snapshot(), accessToken: true }), await open({ session: harness.snapshot(), accessToken: true })];
    await Promise.all([hasToken(a), hasToken(b)]);
    await a.click('#signout');
    await a.waitForFunction(() => document.querySelector('#status')?.textContent === 'Signed out: logout');
    const signout = harness.seen.filter((s) => s.route === 'signout');
    expect(signout).toHaveLength(1);
    expect(signout[0]).toMatchObject({ cookie: 'app_session=lena-cookie', origin: harness.url });
    expect(await tokenOf(a)).toBe('none');
    // The other tab hears its token dropped and asks the server.
    await b.waitForFunction(() => document.querySelector('#status')?.textContent === 'Signed out: logout');
    expect(await tokenOf(b)).toBe('none');
  });

  it('one request in flight per page, whatever the page asks at once', async () => {
    harness.control.tokenDelayMs = 200;
    const page = await open({ session: harness.snapshot(), accessToken: true });
    await page.evaluate(async () => {
      const s = window.__session as { refresh(): Promise<void> };
      const asked: Promise<unknown>[] = [];
      for (let i = 0; i < 20; i++)
        asked.push(s.refresh(), (window.__getToken as () => Promise<string>)(), Promise.resolve(window.dispatchEvent(new Event('focus'))));
      await Promise.allSettled(asked);
    });
    expect(harness.mostInFlight()).toBe(1);
    expect(harness.count('token')).toBe(1);
    expect(harness.count('session')).toBeLessThanOrEqual(2);
  });
});
