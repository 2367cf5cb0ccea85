/**
 * FINDING (browser, key fixation): browserStorage takes whatever ECDSA P-256 pair it finds in
 * IndexedDB (`baton-dpop`/`keys`) without checking `privateKey.extractable`. A script that ran once
 * on the origin (an XSS on any page of it, before the first sign-in — or later: delete the record,
 * the bound session ends at the next load, and the user signs in again) plants an EXTRACTABLE pair
 * whose private key it has kept; every later session is bound to a key the attacker holds, so the
 * stolen refresh/access tokens work from the attacker's machine after the XSS is gone — exactly what
 * the non-extractable key is there to prevent. Real Chromium (playwright-core), the SDK bundle the
 * service serves (/client.js).
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInChromium, launchChromium } from '../support/chromium.ts';
import { loadConfig, startServer } from 'baton-auth-server';

describeInChromium('browserStorage key in IndexedDB', 'test/e2e/dpop-key-fixation.test.ts', () => {
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

  it('a planted extractable key pair is not used (or is replaced by a non-extractable one)', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(server.url);
    // A string, so that vitest leaves its import() alone (it runs in the page, not here).
    const result = (await page.evaluate(`(async () => {
      // The "XSS": plant an extractable pair under the id the storage will look up, and keep its private JWK.
      const planted = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
      const stolen = await crypto.subtle.exportKey('jwk', planted.privateKey);
      const db = await new Promise((resolve, reject) => {
        const r = indexedDB.open('baton-dpop', 1);
        r.onupgradeneeded = () => { if (!r.result.objectStoreNames.contains('keys')) r.result.createObjectStore('keys'); };
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      await new Promise((resolve, reject) => {
        const r = db.transaction('keys', 'readwrite').objectStore('keys').put(planted, 'redteam\\nhttps://issuer.example\\nweb');
        r.onsuccess = resolve;
        r.onerror = () => reject(r.error);
      });
      db.close();
      // Later, the app (same origin) starts the SDK.
      const { browserStorage } = await import('/client.js');
      const pair = await browserStorage({ name: 'redteam' }).dpopKey('https://issuer.example\\nweb');
      const used = await crypto.subtle.exportKey('jwk', pair.publicKey);
      return { extractable: pair.privateKey.extractable, attackerHoldsIt: used.x === stolen.x && used.y === stolen.y };
    })()`)) as { extractable: boolean; attackerHoldsIt: boolean };
    expect(result).toEqual({ extractable: false, attackerHoldsIt: false }); // FAILS: { extractable: true, attackerHoldsIt: true }
  });
});
