/**
 * Attempt: a plain-http origin in BATON_ALLOWED_ORIGINS for an https issuer (the service accepts
 * it; the client SDK refuses such origins off loopback). Whoever can answer for that http origin
 * (anyone on the network path: no TLS) gets CORS reads with credentials at /oauth/token. Does
 * Chromium attach the https issuer's refresh cookie (__Host-, Secure, SameSite=Strict) to a
 * credentialed fetch from the http origin? (Schemeful same-site says cross-site: no.)
 * Variant B: the http origin of the same host as the app's https origin.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, createServer as createTcp } from 'node:net';
import { createServer as createTls } from 'node:tls';
import { chromium } from 'playwright-core';
import { loadConfig, startServer, users } from 'baton-auth-server';

// A self-signed certificate for 127.0.0.1 (Chromium runs with --ignore-certificate-errors).
if (!existsSync('.tmp/rt/key.pem')) {
  mkdirSync('.tmp/rt', { recursive: true });
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      '.tmp/rt/key.pem',
      '-out',
      '.tmp/rt/cert.pem',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
}
const tls = createTls({ key: readFileSync('.tmp/rt/key.pem'), cert: readFileSync('.tmp/rt/cert.pem') });
await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
const TLS = (tls.address() as { port: number }).port;
const app = createServer((_q, s) => void s.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><p>app over http</p>'));
await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
const APP = `http://127.0.0.1:${(app.address() as { port: number }).port}`;
const issuer = `https://127.0.0.1:${TLS}`;
const service = await startServer(
  loadConfig({ PORT: '0', BATON_ISSUER: issuer, BATON_STORE: 'memory:', BATON_ALLOWED_ORIGINS: APP, BATON_LOG_LEVEL: 'silent' }),
);
const inner = Number(new URL(service.url).port);
tls.on('secureConnection', (s) => {
  const u = connect(inner, '127.0.0.1');
  s.pipe(u).pipe(s);
  s.on('error', () => u.destroy());
  u.on('error', () => s.destroy());
});
void createTcp;
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
    '--ignore-certificate-errors',
  ],
});
console.info('chromium', browser.version());
const context = await browser.newContext({ ignoreHTTPSErrors: true });
const own = await context.newPage();
await own.goto(`${issuer}/.well-known/jwks.json`);
const login = await own.evaluate(
  async (issuer) =>
    (
      await fetch(`${issuer}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'alice', password: 'correct horse battery', refresh_token_delivery: 'cookie' }),
      })
    ).status,
  issuer,
);
console.info(
  'login on the issuer origin',
  login,
  (await context.cookies()).map((c) => `${c.name} secure=${c.secure} sameSite=${c.sameSite}`),
);
const page = await context.newPage();
await page.goto(`${APP}/`);
const out = await page.evaluate(async (issuer) => {
  const r = await fetch(`${issuer}/oauth/token`, {
    method: 'POST',
    credentials: 'include',
    body: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'default' }),
  }).then(
    async (r) => `${r.status} ${(await r.text()).slice(0, 120)}`,
    (e: Error) => e.name,
  );
  return r;
}, issuer);
console.info('http listed origin, credentialed refresh:', out);
await browser.close();
await service.stop();
tls.close();
app.close();
