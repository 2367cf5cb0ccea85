/**
 * Attempt (docs truth): an allowed origin of ANOTHER SITE (http://localhost:APP for an issuer at
 * http://127.0.0.1:SVC — hosts differ, so cross-site) signs in in cookie mode and refreshes.
 * README: allowed origins may "use the refresh cookie". With SameSite=Strict the browser neither
 * stores the cookie from a cross-site answer nor sends it on a cross-site request: expected to fail.
 */
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
const port = (server.address() as { port: number }).port;
for (const [label, appOrigin] of [
  ['same site (127.0.0.1:APP)', `http://127.0.0.1:${port}`],
  ['cross site (localhost:APP)', `http://localhost:${port}`],
]) {
  const service = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_ALLOWED_ORIGINS: appOrigin, BATON_LOG_LEVEL: 'silent' }));
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
  await page.goto(`${appOrigin}/`);
  await page.waitForFunction(() => 'sdk' in window);
  const out = await page.evaluate(async (issuer) => {
    const sdk = (window as any).sdk;
    const client = sdk.createTokenClient({ issuer, clientId: 'default', mode: 'cookie', storage: sdk.memoryStorage() });
    const signIn = await client.signIn(`${issuer}/auth/login`, { username: 'alice', password: 'correct horse battery', refresh_token_delivery: 'cookie' }).then(
      (t: any) => t.tokenType,
      (e: Error) => `${e.name}: ${e.message}`,
    );
    const refresh = await client.refresh().then(
      (t: any) => t.tokenType,
      (e: any) => `${e.name} ${e.code ?? ''}: ${e.message}`,
    );
    return { signIn, refresh };
  }, service.url);
  console.info(
    label,
    out,
    'cookies in the jar:',
    (await context.cookies()).map((c) => `${c.name}@${c.domain}`),
  );
  await browser.close();
  await service.stop();
}
server.close();
