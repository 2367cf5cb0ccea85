/**
 * Attempts in real Chromium on the page's `baton:page:signed-in` marker and what else the page
 * keeps in the browser. Expected: a first visit (no marker) sends no refresh; a marker planted by
 * a script of the origin (no cookie behind it) costs one HEAD and one refused refresh, then the
 * marker is gone (no loop); after a sign-in, localStorage holds the marker ('1') and nothing
 * else readable of the session (no token), and the DPoP private key in IndexedDB is not extractable.
 */
import { chromium } from 'playwright-core';
import { loadConfig, startServer, users } from 'baton-auth-server';

const service = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent' }));
await users.add(service.service.store, 'alice', 'correct horse battery');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ],
});
const context = await browser.newContext();
const page = await context.newPage();
const requests: string[] = [];
page.on('response', (r) => {
  if (!/\.(js)$|\/$/.test(new URL(r.url()).pathname)) requests.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`);
});
await page.goto(`${service.url}/`);
await page.waitForTimeout(1500);
console.info('first visit:', JSON.stringify(requests));
requests.length = 0;
await page.evaluate(() => localStorage.setItem('baton:page:signed-in', '1'));
await page.reload();
await page.waitForTimeout(2500);
console.info(
  'planted marker, reload:',
  JSON.stringify(requests),
  'marker after:',
  await page.evaluate(() => localStorage.getItem('baton:page:signed-in')),
  'form shown:',
  await page.isVisible('#login-card'),
);
requests.length = 0;
await page.reload();
await page.waitForTimeout(1500);
console.info('reload again:', JSON.stringify(requests));
await page.fill('#username', 'alice');
await page.fill('#password', 'correct horse battery');
await page.click('#login-button');
await page.waitForSelector('#app:not([hidden])');
const kept = await page.evaluate(async () => {
  const ls = Object.fromEntries(Object.keys(localStorage).map((k) => [k, localStorage.getItem(k)]));
  const dbs = await indexedDB.databases();
  const keys: string[] = [];
  for (const { name } of dbs) {
    if (!name) continue;
    const db = await new Promise<IDBDatabase>((res, rej) => {
      const r = indexedDB.open(name);
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    for (const store of Array.from(db.objectStoreNames)) {
      const all = await new Promise<unknown[]>((res) => {
        const r = db.transaction(store).objectStore(store).getAll();
        r.onsuccess = () => res(r.result);
      });
      for (const v of all)
        keys.push(JSON.stringify(v, (_k, x) => (x instanceof CryptoKey ? `CryptoKey(${x.type}, extractable=${x.extractable})` : x)).slice(0, 200));
    }
  }
  return { localStorage: ls, sessionStorage: Object.keys(sessionStorage), indexedDB: keys, cookieVisible: document.cookie };
});
console.info('kept in the browser after a sign-in:', JSON.stringify(kept));
await browser.close();
await service.stop();
