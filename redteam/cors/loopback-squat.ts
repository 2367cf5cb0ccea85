/**
 * Attempt (local trust, class 4): the service on HOST=127.0.0.1 trusts its loopback names
 * http://localhost:P and http://[::1]:P (CORS and CSRF). Can another local process hold [::1]:P?
 * If so, its pages carry an origin the service trusts. Expected: it can bind (one address family each).
 */
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { raw } from './raw.ts';
const service = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent' }));
const P = Number(new URL(service.url).port);
const squatter = createServer(
  (_q, s) => void s.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>squatter</title><p>not the service</p>'),
);
const bound = await new Promise<string>((resolve) => {
  squatter.once('error', (e: NodeJS.ErrnoException) => resolve(`refused: ${e.code}`));
  squatter.listen(P, '::1', () => resolve('bound'));
});
console.info(`service ${service.url}; another process on [::1]:${P}:`, bound);
const pre = await raw(P, ['OPTIONS /oauth/token HTTP/1.1', `Host: 127.0.0.1:${P}`, `Origin: http://[::1]:${P}`, 'Access-Control-Request-Method: POST']);
console.info(
  `the service answers a preflight from http://[::1]:${P} (the squatter's pages):`,
  pre.status,
  pre.get('access-control-allow-origin'),
  pre.get('access-control-allow-credentials'),
);
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
const own = await context.newPage();
await own.goto(`${service.url}/.well-known/jwks.json`);
console.info(
  'sign-in on the service origin:',
  await own.evaluate(
    async (u) =>
      (
        await fetch(`${u}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'alice', password: 'correct horse battery', refresh_token_delivery: 'cookie' }),
        })
      ).status,
    service.url,
  ),
);
const sq = await context.newPage();
await sq.goto(`http://[::1]:${P}/`);
console.info('squatter page title:', await sq.title());
console.info(
  'squatter page, credentialed refresh at the service:',
  await sq.evaluate(
    async (u) =>
      fetch(`${u}/oauth/token`, {
        method: 'POST',
        credentials: 'include',
        body: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'default' }),
      }).then(
        async (r) => `${r.status} ${(await r.text()).slice(0, 100)}`,
        (e: Error) => e.name,
      ),
    service.url,
  ),
);
const lh = await context.newPage();
await lh.goto(`http://localhost:${P}/`);
console.info(`http://localhost:${P}/ in Chromium shows:`, (await lh.title()) || (await lh.content()).slice(0, 80));
await browser.close();
squatter.close();
await service.stop();
