import { chromium } from 'playwright-core';
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
const c = await b.newContext();
const p = await c.newPage();
p.on('console', (m) => console.log('console', m.type(), m.text()));
p.on('response', (r) => console.log('resp', r.status(), r.request().method(), r.url()));
await p.goto('http://127.0.0.1:45202/login');
await p.getByLabel('Username').fill('alice');
await p.getByLabel('Password').fill('alice storm password');
const t = Date.now();
await p.getByRole('button', { name: 'Sign in' }).click();
try { await p.waitForSelector('#who, #message', { timeout: 15000 }); console.log('shown after', Date.now() - t, await p.textContent('#who, #message')); } catch (e) { console.log('not shown', p.url()); }
await p.screenshot({ path: '/tmp/sk-shot.png' });
console.log((await p.content()).slice(0, 1500));
await b.close();
