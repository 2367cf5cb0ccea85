/**
 * DPoP (RFC 9449) in real Chromium (Debian's, driven by playwright-core): the web page signs in
 * with a proof, so its session is bound to a key made in this browser — non-extractable, kept in
 * IndexedDB — and says so. Three tabs share that one key and one session across refreshes; a new
 * tab after all were closed loads the same key and resumes the session from the refresh cookie;
 * the same cookie copied into another browser profile (another key) does not.
 */
import { mkdirSync } from 'node:fs';
import { decodeJwt } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { eventually } from '../support/eventually.ts';
import { describeInChromium, launchChromium } from '../support/chromium.ts';

const SHOTS = new URL('../../.tmp/screenshots/', import.meta.url);

/** What the page's SDK holds, read in the page: its key's thumbprint, its tokens, the stored key's extractability. */
interface PageState {
  thumbprint: string | undefined;
  accessToken: string | undefined;
  tokenType: string | undefined;
  shown: string | undefined;
}

const state = (page: Page): Promise<PageState> =>
  page.evaluate(async () => {
    const { client, storage } = (
      window as unknown as {
        baton: { client: { dpopThumbprint(): Promise<string | undefined> }; storage: { get(): Promise<{ accessToken: string; tokenType?: string } | null> } };
      }
    ).baton;
    const tokens = await storage.get();
    return {
      thumbprint: await client.dpopThumbprint(),
      accessToken: tokens?.accessToken,
      tokenType: tokens?.tokenType,
      shown: document.getElementById('thumbprint')?.dataset.full,
    };
  });

/** The key pairs in the page's IndexedDB, as the page sees them: extractable flags and whether export is refused. */
const storedKeys = (page: Page) =>
  page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('baton-dpop');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const pairs = await new Promise<CryptoKeyPair[]>((resolve, reject) => {
      const r = db.transaction('keys', 'readonly').objectStore('keys').getAll();
      r.onsuccess = () => resolve(r.result as CryptoKeyPair[]);
      r.onerror = () => reject(r.error);
    });
    db.close();
    return Promise.all(
      pairs.map(async (p) => ({
        privateExtractable: p.privateKey.extractable,
        algorithm: `${p.privateKey.algorithm.name} ${(p.privateKey.algorithm as EcKeyAlgorithm).namedCurve}`,
        exportRefused: await crypto.subtle.exportKey('jwk', p.privateKey).then(
          () => false,
          (e: Error) => e.name,
        ),
      })),
    );
  });

describeInChromium('DPoP in Chromium', 'test/e2e/dpop.test.ts', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let browser: Browser;
  let alice = '';
  beforeAll(async () => {
    server = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_ACCESS_TTL: '3', BATON_REFRESH_TTL: '60', BATON_LOG_LEVEL: 'silent' }));
    await users.add(server.service.store, 'alice', 'correct horse battery');
    alice = (await users.get(server.service.store, 'alice'))?.id as string;
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('three tabs share one non-extractable key and one bound session; a new tab resumes it; the cookie elsewhere does not', async () => {
    await server.service.baton.revokeUserSessions(alice);
    const context = await browser.newContext();
    onTestFinished(() => context.close());
    const logs: string[] = [];
    const tabs = [await context.newPage(), await context.newPage(), await context.newPage()];
    for (const tab of tabs) tab.on('pageerror', (e) => logs.push(e.message));
    const [first] = tabs as [Page];
    // The tabs open together, before any sign-in: each asks for the key at once, racing to create it.
    await Promise.all(tabs.map((tab) => tab.goto(server.url)));
    await first.fill('#username', 'alice');
    await first.fill('#password', 'correct horse battery');
    await first.click('#login-button');
    await first.waitForSelector('#app:not([hidden])');
    for (const tab of tabs.slice(1)) await tab.waitForSelector('#app:not([hidden])'); // the tokens came from the first tab
    for (const tab of tabs) await tab.waitForSelector('#binding:not([hidden])');

    const states = await Promise.all(tabs.map(state));
    const thumbprint = states[0]?.thumbprint as string;
    expect(thumbprint).toMatch(/^[\w-]{43}$/);
    for (const s of states) expect(s).toMatchObject({ thumbprint, tokenType: 'DPoP', shown: thumbprint });
    // The page says it, with the key's thumbprint, short.
    expect(await first.textContent('#binding')).toContain('bound to this browser');
    expect(await first.textContent('#thumbprint')).toBe(`${thumbprint.slice(0, 8)}…`);
    // The server bound the session to that key: its access tokens name it (cnf.jkt).
    expect(decodeJwt(states[0]?.accessToken as string).cnf).toEqual({ jkt: thumbprint });
    // One key in IndexedDB, and no script can read it.
    expect(await storedKeys(first)).toEqual([{ privateExtractable: false, algorithm: 'ECDSA P-256', exportRefused: 'InvalidAccessError' }]);

    // Two access-token lifetimes of 3 s, refreshed over DPoP by whichever tab's timer comes first.
    const events: string[] = [];
    const stop = server.service.baton.on('*', (e) => events.push(e.type));
    onTestFinished(stop);
    await first.waitForTimeout(7_000);
    expect(events.filter((t) => t === 'refresh.rotated').length).toBeGreaterThanOrEqual(2);
    expect(events).not.toContain('refresh.reused');
    expect(events).not.toContain('session.revoked');
    for (const tab of tabs) expect(await tab.isVisible('#app')).toBe(true);
    const later = await Promise.all(tabs.map(state));
    expect(new Set(later.map((s) => s.accessToken)).size).toBe(1); // one session, one current token, in every tab
    expect(decodeJwt(later[0]?.accessToken as string).cnf).toEqual({ jkt: thumbprint });
    expect(await server.service.baton.listSessions(alice)).toHaveLength(1);
    mkdirSync(SHOTS, { recursive: true });
    await first.screenshot({ path: new URL('dpop-bound.png', SHOTS).pathname, fullPage: true });

    // Every tab closed: a new one has no tokens, only the refresh cookie — and the key in IndexedDB, which it must sign with.
    const cookies = await context.cookies();
    for (const tab of tabs) await tab.close();
    const reopened = await context.newPage();
    await reopened.goto(server.url);
    await reopened.waitForSelector('#binding:not([hidden])');
    expect(await state(reopened)).toMatchObject({ thumbprint, tokenType: 'DPoP' });

    // The same refresh cookie in another profile (another browser: another key) does not resume the session.
    const elsewhere = await browser.newContext();
    onTestFinished(() => elsewhere.close());
    await elsewhere.addCookies(cookies);
    // …and the page's "signed in here before" marker (localStorage), so that it tries the cookie.
    await elsewhere.addInitScript(() => localStorage.setItem('baton:page:signed-in', '1'));
    const thief = await elsewhere.newPage();
    const answers: string[] = [];
    thief.on(
      'response',
      (r) =>
        void (
          r.url().endsWith('/oauth/token') &&
          r.json().then(
            (b: { error?: string }) => answers.push(`${r.status()} ${b.error ?? 'tokens'}`),
            () => undefined,
          )
        ),
    );
    await thief.goto(server.url);
    // The nonce first (HEAD /auth/login), then the refresh with the cookie and a proof by this profile's key: refused.
    await eventually(() => answers.length >= 1, { what: "the other profile's refresh", timeoutMs: 5_000 });
    await thief.waitForTimeout(500);
    expect(answers).toEqual(['400 invalid_grant']);
    expect(await thief.isVisible('#login-card')).toBe(true);
    expect(await thief.isVisible('#app')).toBe(false);
    expect((await state(thief)).thumbprint).not.toBe(thumbprint);
    // …and the first browser's session goes on.
    expect(await server.service.baton.listSessions(alice)).toHaveLength(1);
    await reopened.waitForTimeout(3_500);
    expect(await reopened.isVisible('#app')).toBe(true);
    expect(logs).toEqual([]);
  }, 60_000);

  it("without IndexedDB (some private windows) the key lives in the tab's memory, the session is still bound, and the page is warned", async () => {
    await server.service.baton.revokeUserSessions(alice);
    const context = await browser.newContext();
    onTestFinished(() => context.close());
    await context.addInitScript(() => Object.defineProperty(window, 'indexedDB', { value: undefined, configurable: true }));
    const page = await context.newPage();
    const warnings: string[] = [];
    page.on('console', (m) => void (m.type() === 'warning' && warnings.push(m.text())));
    await page.goto(server.url);
    await page.fill('#username', 'alice');
    await page.fill('#password', 'correct horse battery');
    await page.click('#login-button');
    await page.waitForSelector('#binding:not([hidden])');
    const { thumbprint, tokenType, accessToken } = await state(page);
    expect(tokenType).toBe('DPoP');
    expect(decodeJwt(accessToken as string).cnf).toEqual({ jkt: thumbprint });
    expect(warnings).toContainEqual(
      expect.stringMatching(/^baton: The DPoP key cannot be kept in IndexedDB \(IndexedDB is not available\); it lives in this tab's memory/),
    );
  }, 30_000);
});
