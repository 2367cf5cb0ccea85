/**
 * The web page refuses to be framed. Another origin of the same site (here 127.0.0.1 on another
 * port; in production a sibling subdomain) gets the SameSite=Strict refresh cookie in a frame, so
 * a framed page signs in on its own; under an invisible frame a visitor's click lands on "Sign out
 * everywhere" (clickjacking). `frame-ancestors` cannot be given in a <meta> CSP (CSP 3 §6.4.2), so
 * the page's answers carry it as a header, with X-Frame-Options for browsers without CSP 3.
 * Red team rt-page, redteam/page/chromium-inject.ts.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInChromium, launchChromium } from '../support/chromium.ts';
import { loadConfig, startServer, users } from 'baton-auth-server';

describeInChromium('web page framed by another origin of the same site', 'test/e2e/page-frame.test.ts', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let framer: Server;
  let browser: Browser;
  beforeAll(async () => {
    server = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent' }));
    await users.add(server.service.store, 'alice', 'correct horse battery');
    framer = createServer((_req, res) =>
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(`<!doctype html><title>prize</title><iframe src="${server.url}/" width="800" height="900" style="opacity:0.01"></iframe>`),
    );
    await new Promise<void>((resolve) => framer.listen(0, '127.0.0.1', resolve));
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    framer?.close();
    await server?.stop();
  });

  it('is not shown in the frame, so a click there cannot sign the user out everywhere', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await page.fill('#username', 'alice');
    await page.fill('#password', 'correct horse battery');
    await page.click('#login-button');
    await page.waitForSelector('#app:not([hidden])');
    const aliceId = (await users.get(server.service.store, 'alice'))!.id;
    expect(await server.service.baton.listSessions(aliceId)).toHaveLength(1);

    const frames = await context.newPage();
    await frames.goto(`http://127.0.0.1:${(framer.address() as { port: number }).port}/`);
    await frames.waitForTimeout(2_000);
    const frame = frames.frames().find((f) => f !== frames.mainFrame());
    // The frame holds Chromium's error page, not the service's: no sign-out button to click.
    const buttons = await frame?.evaluate(() => document.querySelectorAll('#logout-global').length).catch(() => 0);
    expect(buttons, "the page rendered inside another origin's frame").toBe(0);
    expect(await server.service.baton.listSessions(aliceId)).toHaveLength(1);
    const res = await fetch(`${server.url}/`);
    expect(res.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    await context.close();
  }, 30_000);
});
