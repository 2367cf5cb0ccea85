/**
 * Attempt 1-3: origin look-alikes and parsing tricks against the real service, raw bytes on a socket.
 * Expected: Access-Control-Allow-Origin only for the exact listed/issuer/loopback-alias strings;
 * Vary: Origin on every non-public answer; no ACAC with '*'.
 */
import { loadConfig, startServer } from 'baton-auth-server';
import { raw } from './raw.ts';

const service = await startServer(
  loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent', BATON_ALLOWED_ORIGINS: 'https://app.example.com,http://localhost:5173' }),
);
const port = Number(new URL(service.url).port);
console.info('issuer', service.url);
const P = port;
const origins: (string | string[])[] = [
  'https://app.example.com',
  `http://127.0.0.1:${P}`,
  `http://localhost:${P}`,
  `http://[::1]:${P}`,
  'https://APP.example.com',
  'HTTPS://app.example.com',
  'https://app.example.com.',
  'https://app.example.com:443',
  'https://user@app.example.com',
  'https://user:pw@app.example.com',
  'https://app.example.com/',
  'https://app.example.com?',
  'https://app.example.com#',
  'https://xn--pp-ida.example.com',
  'https://аpp.example.com',
  'https://app.example.com%2f.evil.com',
  'https://app.example.com.evil.com',
  'https://app.example.com\\@evil.com',
  'https://evil.com#@app.example.com',
  'https://app.example.com\t',
  ' https://app.example.com',
  'https://app.example.com ',
  `http://localhost.:${P}`,
  `http://LOCALHOST:${P}`,
  `http://127.1:${P}`,
  `http://2130706433:${P}`,
  `http://0x7f000001:${P}`,
  `http://[0:0:0:0:0:0:0:1]:${P}`,
  `http://[::ffff:127.0.0.1]:${P}`,
  `http://[::ffff:7f00:1]:${P}`,
  `http://[::1%25lo]:${P}`,
  `http://127.0.0.1:0${P}`,
  `http://127.0.0.1:${P + 1}`,
  `https://127.0.0.1:${P}`,
  `http://127.0.0.1`,
  `http://localhost:80`,
  'http://127.0.0.1:5173',
  'http://localhost:5173',
  'http://[::1]:5173',
  'null',
  'NULL',
  'Null',
  '',
  '*',
  'file://',
  'https://app.example.com, https://app.example.com',
  ['https://app.example.com', 'https://app.example.com'],
  ['https://evil.com', 'https://app.example.com'],
  ['https://app.example.com', 'https://evil.com'],
  `https://app.example.com${' '.repeat(0)}\u00e9`,
  'https://app.example.com\u00a0',
  'x'.repeat(8000),
  `https://${'a'.repeat(15000)}.com`,
];
const paths: [string, string][] = [
  ['POST', '/oauth/token'],
  ['GET', '/auth/me'],
  ['POST', '/auth/login'],
  ['POST', '/auth/logout'],
  ['POST', '/oauth/introspect'],
  ['GET', '/oauth/revocations'],
  ['GET', '/auth/sessions'],
];
let allowed = 0;
for (const o of origins) {
  const list = Array.isArray(o) ? o : [o];
  const oh = list.map((v) => `Origin: ${v}`);
  const row: string[] = [];
  for (const [method, path] of paths) {
    const pre = await raw(port, [
      `OPTIONS ${path} HTTP/1.1`,
      `Host: 127.0.0.1:${P}`,
      ...oh,
      `Access-Control-Request-Method: ${method}`,
      'Access-Control-Request-Headers: authorization,content-type,dpop',
    ]);
    const real = await raw(
      port,
      [
        `${method} ${path} HTTP/1.1`,
        `Host: 127.0.0.1:${P}`,
        ...oh,
        'Authorization: Bearer x',
        ...(method === 'POST' ? ['Content-Type: application/x-www-form-urlencoded'] : []),
      ],
      method === 'POST' ? 'grant_type=refresh_token&refresh_token=x' : '',
    );
    for (const r of [pre, real]) {
      if (r.status !== 431 && r.get('vary') !== 'Origin') row.push(`NO-VARY ${r.status}`);
      if (r.all('access-control-allow-origin').length > 0) {
        allowed++;
        if (r.get('access-control-allow-origin') !== list[0] || list.length > 1) row.push(`ECHO ${JSON.stringify(r.get('access-control-allow-origin'))}`);
      }
      if (r.get('access-control-allow-credentials') && r.get('access-control-allow-origin') === '*') row.push('CRED+STAR');
    }
    row.push(`${path}:${pre.status}/${real.status}${pre.get('access-control-allow-origin') ? '+' : ''}${real.get('access-control-allow-origin') ? '+' : ''}`);
  }
  console.info(JSON.stringify(list.map((v) => (v.length > 60 ? `${v.slice(0, 30)}…(${v.length})` : v))), row.join(' '));
}
console.info('responses with ACAO:', allowed);
await service.stop();
