/**
 * Attempts in real Chromium (/usr/bin/chromium): markup and script through everything the page
 * shows that a caller writes — the user agent (device name, the kicked-by device of the activity),
 * the address (X-Forwarded-For behind BATON_TRUST_PROXY=loopback), the lockout message's username —
 * and the page framed by another origin of the same site (127.0.0.1:OTHER; cookies ignore ports).
 * Expected: no element made from data (no <img>, <script>, <b> in the lists), no script ran
 * (window.pwned unset), the text shown as typed; the page refuses to be framed (frame-ancestors /
 * X-Frame-Options), or at least cannot be signed in inside a frame.
 */
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { loadConfig, startServer, users } from 'baton-auth-server';

const service = await startServer(
  loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent', BATON_TRUST_PROXY: 'loopback', BATON_ACCESS_TTL: '60' }),
);
await users.add(service.service.store, 'alice', 'correct horse battery');
const url = service.url;
const PAYLOAD = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script><b>bold</b>';
// A second session of alice's whose user agent and forwarded address carry markup.
const other = await fetch(`${url}/auth/login`, {
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    'user-agent': `Mozilla/5.0 (X11; ${PAYLOAD}) Gecko/20100101 Firefox/133.0 ${PAYLOAD}`,
    'x-forwarded-for': PAYLOAD,
  },
  body: JSON.stringify({ username: 'alice', password: 'correct horse battery' }),
});
const otherTokens = (await other.json()) as { access_token: string };
const sessionsSeen = (await (await fetch(`${url}/auth/sessions`, { headers: { authorization: `Bearer ${otherTokens.access_token}` } })).json()) as {
  sessions: { device: unknown }[];
};
console.info('login with markup in UA and X-Forwarded-For:', other.status, 'recorded device:', JSON.stringify(sessionsSeen.sessions[0]?.device));

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
const errors: string[] = [];
page.on('pageerror', (e) => errors.push(e.message));
await page.goto(`${url}/`);
await page.fill('#username', 'alice');
await page.fill('#password', 'correct horse battery');
await page.click('#login-button');
await page.waitForSelector('#sessions li[data-current="false"]', { timeout: 15_000 });
// The markup session kicks the page's own session? No: the page kicks the markup session, so the activity names it.
await page.waitForSelector('#timeline li');
const look = async () =>
  page.evaluate(() => ({
    pwned: (window as unknown as { pwned?: number }).pwned,
    elements: document.querySelectorAll(
      '#sessions img, #sessions script, #sessions b, #timeline img, #timeline script, #timeline b, #message img, #confirm-text img',
    ).length,
    sessions: [...document.querySelectorAll('#sessions li')].map((li) => (li as HTMLElement).innerText.replace(/\s+/g, ' ')),
    timeline: [...document.querySelectorAll('#timeline li')].slice(0, 3).map((li) => (li as HTMLElement).innerText.replace(/\s+/g, ' ')),
  }));
console.info('signed in; lists:', JSON.stringify(await look()));
await page.click('#sessions li[data-current="false"] button.kick');
console.info('confirmation text:', await page.textContent('#confirm-text'));
await page.evaluate(() => (document.getElementById('confirm-kick') as HTMLDialogElement).close('confirm'));
// Now a session with markup kicks the page's session: the page shows "Signed out from …" (by-device).
const third = (await (
  await fetch(`${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': PAYLOAD },
    body: JSON.stringify({ username: 'alice', password: 'correct horse battery' }),
  })
).json()) as { access_token: string };
const me = (await (await fetch(`${url}/auth/sessions`, { headers: { authorization: `Bearer ${third.access_token}` } })).json()) as {
  sessions: { id: string; current: boolean }[];
};
const pageSession = me.sessions.find((s) => !s.current)?.id as string;
console.info(
  'markup session kicks the page:',
  (await fetch(`${url}/auth/sessions/${pageSession}`, { method: 'DELETE', headers: { authorization: `Bearer ${third.access_token}` } })).status,
);
await page.waitForSelector('#login-card:not([hidden])', { timeout: 15_000 });
console.info('page after the kick: message', JSON.stringify(await page.textContent('#message')), JSON.stringify(await look()));

// Lockout message: a typed username with markup (the page repeats it in the command to run).
for (let i = 0; i < 11; i++)
  await fetch(`${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: `${PAYLOAD}`, password: 'x' }),
  });
await page.fill('#username', PAYLOAD);
await page.fill('#password', 'x');
await page.click('#login-button');
await page.waitForFunction(() => /Too many/.test(document.getElementById('message')?.textContent ?? ''), undefined, { timeout: 15_000 }).catch(() => undefined);
console.info(
  'lockout message:',
  JSON.stringify(await page.textContent('#message')),
  'elements from data:',
  await page.evaluate(() => document.querySelectorAll('#message img, #message script, #message b').length),
  'pwned:',
  await page.evaluate(() => (window as unknown as { pwned?: number }).pwned),
  'errors:',
  errors,
);

// Framing: an origin of the same site (127.0.0.1, another port) frames the page after alice signed in here.
await page.fill('#username', 'alice');
await page.fill('#password', 'correct horse battery');
await page.click('#login-button');
await page.waitForSelector('#app:not([hidden])', { timeout: 15_000 });
const pageRes = await fetch(`${url}/`);
console.info(
  'page headers: x-frame-options',
  pageRes.headers.get('x-frame-options'),
  'content-security-policy',
  pageRes.headers.get('content-security-policy'),
);
const framer = createServer((_req, res) =>
  res
    .writeHead(200, { 'content-type': 'text/html' })
    .end(
      `<!doctype html><title>framer</title><p>win a prize: click the button</p><iframe id=f src="${url}/" width=800 height=900 style="opacity:0.01;position:absolute;top:0;left:0"></iframe>`,
    ),
);
await new Promise<void>((resolve) => framer.listen(0, '127.0.0.1', resolve));
const frPage = await context.newPage();
await frPage.goto(`http://127.0.0.1:${(framer.address() as { port: number }).port}/`);
await frPage.waitForTimeout(3000);
const frame = frPage.frames().find((f) => f.url().startsWith(url));
const inside = frame
  ? await frame
      .evaluate(() => ({
        app: !(document.getElementById('app') as HTMLElement).hidden,
        who: document.getElementById('whoami')?.textContent,
        globalButton: !!document.getElementById('logout-global'),
      }))
      .catch((e: Error) => `frame not readable: ${e.message}`)
  : 'no frame loaded';
console.info('framed by 127.0.0.1:OTHER:', JSON.stringify(inside));
if (frame && typeof inside === 'object' && inside.app) {
  await frame.click('#logout-global', { force: true });
  await page.waitForTimeout(2000);
  console.info(
    'after a click in the invisible frame: sessions of alice',
    (await service.service.baton.listSessions((await users.get(service.service.store, 'alice'))!.id)).length,
  );
}
framer.close();
await browser.close();
await service.stop();
