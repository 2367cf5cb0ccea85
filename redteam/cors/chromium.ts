/**
 * Attempts in real Chromium (/usr/bin/chromium via playwright-core). Signed in on the listed app
 * (http://127.0.0.1:APP, its refresh cookie `baton_rt` on host 127.0.0.1 — cookies ignore ports,
 * so an unlisted page on 127.0.0.1:OTHER is same-site and the browser attaches the cookie).
 * Expected: the unlisted page can neither read nor spend the cookie (no rotation: the cookie in the
 * jar is unchanged), nor open a WebSocket; a page at localhost:APP (not listed, only 127.0.0.1:APP is)
 * reads nothing; the listed app keeps refreshing.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { loadConfig, startServer, users } from 'baton-auth-server';

const log: string[] = [];
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
  const s = chunk.toString();
  if (s.startsWith('{"level"')) {
    for (const l of s.split('\n').filter(Boolean)) {
      const j = JSON.parse(l);
      if (j.route) log.push(`${j.method} ${j.route} ${j.status}`);
    }
    return true;
  }
  return write(chunk, ...rest);
}) as typeof process.stdout.write;
const CLIENT_JS = readFileSync(new URL('../packages/baton-auth-server/web/client.js', import.meta.url));
async function site() {
  const server = createServer((req, res) => {
    if (req.url === '/client.js') return void res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(CLIENT_JS);
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end('<!doctype html><title>app</title><script type="module">import * as sdk from "/client.js"; window.sdk = sdk;</script><p>app</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { server, origin: `http://127.0.0.1:${port}`, port };
}
const [app, other] = [await site(), await site()];
const service = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_ALLOWED_ORIGINS: app.origin, BATON_LOG_LEVEL: 'info' }));
await users.add(service.service.store, 'alice', 'correct horse battery');
const issuer = service.url;
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
await page.goto(`${app.origin}/`);
await page.waitForFunction(() => 'sdk' in window);
const signedIn = await page.evaluate(async (issuer) => {
  const sdk = (window as any).sdk;
  const client = sdk.createTokenClient({ issuer, clientId: 'default', mode: 'cookie', storage: sdk.memoryStorage() });
  (window as any).client = client;
  const t = await client.signIn(`${issuer}/auth/login`, { username: 'alice', password: 'correct horse battery', refresh_token_delivery: 'cookie' });
  (window as any).at = t.accessToken;
  return t.tokenType;
}, issuer);
const cookieBefore = (await context.cookies()).find((c) => c.name.endsWith('baton_rt'));
console.info(
  'signed in',
  signedIn,
  'cookie',
  cookieBefore?.name,
  'domain',
  cookieBefore?.domain,
  'path',
  cookieBefore?.path,
  'sameSite',
  cookieBefore?.sameSite,
);
const sessions = async () =>
  (
    await service.service.baton.listSessions(
      ((await service.service.store) as any) &&
        (await page.evaluate(async (issuer) => (await (await (window as any).client.fetch(`${issuer}/auth/me`)).json()).sub, issuer)),
    )
  ).length;
console.info('sessions of alice', await sessions());

// The unlisted same-site page (same host, other port) in the same browser profile.
const evil = await context.newPage();
await evil.goto(`${other.origin}/`);
await evil.waitForFunction(() => 'sdk' in window);
const mark = log.length;
const attempts = await evil.evaluate(async (issuer) => {
  const out: Record<string, string> = {};
  const tryit = async (name: string, p: Promise<Response>) => {
    out[name] = await p.then(
      (r) => `${r.type} ${r.status}`,
      (e: Error) => e.name,
    );
  };
  const form = new URLSearchParams({ grant_type: 'refresh_token', client_id: 'default' });
  await tryit('no-cors refresh with cookie', fetch(`${issuer}/oauth/token`, { method: 'POST', mode: 'no-cors', credentials: 'include', body: form }));
  await tryit('cors refresh with cookie', fetch(`${issuer}/oauth/token`, { method: 'POST', credentials: 'include', body: form }));
  await tryit('no-cors logout with cookie', fetch(`${issuer}/auth/logout`, { method: 'POST', mode: 'no-cors', credentials: 'include' }));
  await tryit(
    'no-cors login (lockout)',
    fetch(`${issuer}/auth/login`, { method: 'POST', mode: 'no-cors', body: new URLSearchParams({ username: 'alice', password: 'wrong' }) }),
  );
  out['beacon refresh'] = String(navigator.sendBeacon(`${issuer}/oauth/token`, form));
  await tryit('GET /auth/sessions no-cors', fetch(`${issuer}/auth/sessions`, { mode: 'no-cors', credentials: 'include' }));
  // A form post navigation into an iframe (top-level-like, no CORS at all).
  await new Promise<void>((resolve) => {
    const f = document.createElement('iframe');
    f.name = 'sink';
    document.body.append(f);
    const form2 = document.createElement('form');
    form2.method = 'POST';
    form2.action = `${issuer}/oauth/token`;
    form2.target = 'sink';
    for (const [k, v] of form) {
      const i = document.createElement('input');
      i.name = k;
      i.value = v;
      form2.append(i);
    }
    document.body.append(form2);
    f.onload = () => resolve();
    form2.submit();
  });
  out['form post'] = 'sent';
  // WebSocket from the unlisted page.
  out.ws = await new Promise<string>((resolve) => {
    const ws = new WebSocket(`${issuer.replace('http', 'ws')}/ws`);
    ws.onopen = () => resolve('open');
    ws.onerror = () => resolve('error');
    setTimeout(() => resolve('timeout'), 3000);
  });
  return out;
}, issuer);
await new Promise((r) => setTimeout(r, 500));
console.info('unlisted same-site page:', attempts);
console.info('server saw:', log.slice(mark));
const cookieAfter = (await context.cookies()).find((c) => c.name.endsWith('baton_rt'));
console.info('cookie unchanged after the attacks:', cookieAfter?.value === cookieBefore?.value);

// A page at localhost:APP: the app's own server under another name — not listed (only 127.0.0.1:APP is).
const alias = await context.newPage();
await alias.goto(`http://localhost:${app.port}/`);
await alias.waitForFunction(() => 'sdk' in window);
const at = await page.evaluate(() => (window as any).at as string);
const aliasOut = await alias.evaluate(
  async ({ issuer, at }) => {
    const o = (p: Promise<Response>) =>
      p.then(
        (r) => `read ${r.status}`,
        (e: Error) => e.name,
      );
    return { me: await o(fetch(`${issuer}/auth/me`, { headers: { authorization: `DPoP ${at}` } })), jwks: await o(fetch(`${issuer}/.well-known/jwks.json`)) };
  },
  { issuer, at },
);
console.info('page at localhost:APP:', aliasOut);

// The listed app: still refreshes; reads its sessions; credentialed fetch of a non-cookie route.
const appOut = await page.evaluate(async (issuer) => {
  const client = (window as any).client;
  const o = (p: Promise<Response>) =>
    p.then(
      (r) => `read ${r.status}`,
      (e: Error) => e.name,
    );
  const refreshed = await client.refresh().then(
    (t: any) => t.tokenType,
    (e: Error) => `${e.name}: ${e.message}`,
  );
  const ws = await new Promise<string>((resolve) => {
    const s = new WebSocket(`${issuer.replace('http', 'ws')}/ws`);
    s.onopen = () => {
      resolve('open');
      s.close();
    };
    s.onerror = () => resolve('error');
    setTimeout(() => resolve('timeout'), 3000);
  });
  return {
    refreshed,
    ws,
    sessions: await o(client.fetch(`${issuer}/auth/sessions`)),
    meWithCredentialsInclude: await o(fetch(`${issuer}/auth/me`, { credentials: 'include' })),
  };
}, issuer);
console.info('listed app:', appOut);
await browser.close();
await service.stop();
for (const s of [app, other]) s.server.close();
