/** Attempt (error answers): the SDK on an unlisted origin — what does the developer see? */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { loadConfig, startServer, users } from 'baton-auth-server';
const CLIENT_JS = readFileSync(new URL('../packages/baton-auth-server/web/client.js', import.meta.url));
const server = createServer((req, res) => {
  if (req.url === '/client.js') return void res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(CLIENT_JS);
  res
    .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    .end('<!doctype html><script type="module">import * as sdk from "/client.js"; window.sdk = sdk;</script>');
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
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
const page = await (await browser.newContext()).newPage();
await page.goto(`${origin}/`);
await page.waitForFunction(() => 'sdk' in window);
const out = await page.evaluate(async (issuer) => {
  const sdk = (window as any).sdk;
  const client = sdk.createTokenClient({ issuer, clientId: 'default', mode: 'cookie', storage: sdk.memoryStorage() });
  const e = (x: any) => `${x.name}${x.code ? ` ${x.code}` : ''}: ${x.message}`;
  return {
    signInDpop: await client
      .signIn(`${issuer}/auth/login`, { username: 'alice', password: 'correct horse battery', refresh_token_delivery: 'cookie' })
      .then(() => 'ok', e),
    signInPlain: await sdk
      .createTokenClient({ issuer, clientId: 'default', mode: 'cookie', storage: sdk.memoryStorage(), dpop: false })
      .signIn(`${issuer}/auth/login`, { username: 'alice', password: 'correct horse battery', refresh_token_delivery: 'cookie' })
      .then(() => 'ok', e),
  };
}, service.url);
console.info(out);
await browser.close();
await service.stop();
server.close();
