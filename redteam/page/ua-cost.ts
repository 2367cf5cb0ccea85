/**
 * Attempts: hostile user agents through the device parser (bowser, http/device.ts) and through
 * the login that records them. Expected: the login keeps at most 256 characters of the header;
 * each parse of a 256-character hostile string costs well under a millisecond (no ReDoS); the
 * parsed-name cache is bounded (1,000 entries); a 16 KB user agent at login is stored cut to 256.
 */
import Bowser from 'bowser';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { describeDevice } from '../../packages/baton-auth/src/http/device.ts';

const shapes: Record<string, (n: number) => string> = {
  'a×n': (n) => 'a'.repeat(n),
  'Mozilla/5.0 (×n': (n) => `Mozilla/5.0 ${'('.repeat(n)}`,
  'nested parens': (n) => `Mozilla/5.0 ${'(Windows NT 10.0; '.repeat(n)}`,
  'Chrome/ repeated': (n) => `Mozilla/5.0 ${'Chrome/1.1.1 '.repeat(n)}`,
  'Version/ spaces': (n) => `Mozilla/5.0 Version/${' '.repeat(n)}x`,
  'Android digits': (n) => `Mozilla/5.0 (Linux; Android ${'1.'.repeat(n)}) AppleWebKit`,
  'Safari dots': (n) => `Safari/${'9.'.repeat(n)}`,
  'Edg ;': (n) => `Edg/${';'.repeat(n)}`,
  'Windows NT digits': (n) => `(Windows NT ${'1'.repeat(n)}`,
  'iPhone OS _': (n) => `Mozilla/5.0 (iPhone; CPU iPhone OS ${'1_'.repeat(n)} like Mac OS X)`,
  slashes: (n) => `${'a/'.repeat(n)}`,
  'product then junk': (n) => `curl/${'1'.repeat(n)}`,
  unicode: (n) => `Mozilla/5.0 ${'é'.repeat(n)}`,
};
// 1. Bowser directly on 256 and on 16 KB (what a library user recording a raw header would parse).
for (const [name, make] of Object.entries(shapes)) {
  for (const len of [256, 16_384]) {
    const ua = make(len).slice(0, len);
    const t = performance.now();
    for (let i = 0; i < 20; i++) Bowser.parse(ua);
    const ms = (performance.now() - t) / 20;
    console.info(`bowser ${name.padEnd(20)} ${String(len).padStart(6)} chars: ${ms.toFixed(3)} ms/parse`);
  }
}
// 2. describeDevice: 1,000-entry cache; 5,000 distinct 256-character user agents.
const t = performance.now();
for (let i = 0; i < 5000; i++) describeDevice({ userAgent: `Mozilla/5.0 (X11; Linux x86_64) Chrome/${i}.0 ${'('.repeat(230)}` });
console.info(`describeDevice 5,000 distinct hostile 256-char UAs: ${((performance.now() - t) / 5000).toFixed(3)} ms each`);

// 3. At login: a 16 KB user agent header (Node's header limit is 16 KB in total).
const service = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent' }));
await users.add(service.service.store, 'alice', 'correct horse battery');
const res = await fetch(`${service.url}/auth/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'user-agent': `Mozilla/5.0 ${'('.repeat(15_000)}` },
  body: JSON.stringify({ username: 'alice', password: 'correct horse battery' }),
});
const { access_token } = (await res.json()) as { access_token: string };
const list = (await (await fetch(`${service.url}/auth/sessions`, { headers: { authorization: `Bearer ${access_token}` } })).json()) as {
  sessions: { device: { userAgent: string; name?: string } }[];
};
console.info(
  `login with a 15 KB user agent: ${res.status}; stored user agent ${list.sessions[0]?.device.userAgent.length} chars; name ${JSON.stringify(list.sessions[0]?.device.name)}`,
);
await service.stop();
