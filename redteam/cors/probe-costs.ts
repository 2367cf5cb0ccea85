/**
 * Attempts: preflight costs and the statuses a cache could keep (Vary: Origin on errors, 404s,
 * 405s, 413s, 429s), against the real service on SQLite. Expected: preflights write no row, move
 * no metric, take constant work whatever Access-Control-Request-Headers holds; every non-public
 * answer has Vary: Origin; only public documents carry '*', never with credentials.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Writable } from 'node:stream';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { raw } from './raw.ts';

const dir = mkdtempSync(join(tmpdir(), 'rt-cors-'));
const db = join(dir, 'baton.sqlite');
// Count log lines: pino writes to stdout (fd 1); intercept process.stdout.write.
let logLines = 0;
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
  const s = chunk.toString();
  if (s.startsWith('{"level"')) {
    logLines += s.split('\n').filter(Boolean).length;
    return true;
  }
  return write(chunk, ...rest);
}) as typeof process.stdout.write;
void Writable;
const METRICS = 'm'.repeat(40);
const service = await startServer(
  loadConfig({
    PORT: '0',
    BATON_STORE: `sqlite:${db}`,
    BATON_LOG_LEVEL: 'info',
    BATON_ALLOWED_ORIGINS: 'https://app.example.com',
    BATON_METRICS_TOKEN: METRICS,
  }),
);
await users.add(service.service.store, 'alice', 'correct horse battery');
const port = Number(new URL(service.url).port);
const H = `Host: 127.0.0.1:${port}`;
const rows = () => {
  const d = new DatabaseSync(db, { readOnly: true });
  const tables = d
    .prepare("SELECT name FROM sqlite_master WHERE type='table'")
    .all()
    .map((r) => String(r.name));
  const out = Object.fromEntries(tables.map((t) => [t, Number((d.prepare(`SELECT count(*) AS n FROM "${t}"`).get() as { n: number }).n)]));
  d.close();
  return out;
};
const metrics = async () =>
  (await raw(port, ['GET /metrics HTTP/1.1', H, `Authorization: Bearer ${METRICS}`])).body
    .split('\n')
    .filter((l) => /^baton_(logins|refreshes|verifications|store)/.test(l))
    .join('\n');

// 1. Statuses a cache might keep.
const APP = 'https://app.example.com';
const show = (label: string, r: Awaited<ReturnType<typeof raw>>) =>
  console.info(
    label.padEnd(48),
    r.status,
    JSON.stringify({
      acao: r.get('access-control-allow-origin'),
      acac: r.get('access-control-allow-credentials'),
      vary: r.get('vary'),
      cc: r.get('cache-control'),
    }),
  );
for (const origin of [APP, 'https://evil.com']) {
  const O = `Origin: ${origin}`;
  show(`404 unknown ${origin}`, await raw(port, ['GET /auth/nope HTTP/1.1', H, O]));
  show(`404 unknown sessions/%zz ${origin}`, await raw(port, ['DELETE /auth/sessions/%zz HTTP/1.1', H, O]));
  show(`405 GET /oauth/token ${origin}`, await raw(port, ['GET /oauth/token HTTP/1.1', H, O]));
  show(`405 PUT /auth/me ${origin}`, await raw(port, ['PUT /auth/me HTTP/1.1', H, O]));
  show(`HEAD /auth/me ${origin}`, await raw(port, ['HEAD /auth/me HTTP/1.1', H, O]));
  show(
    `413 POST /auth/login ${origin}`,
    await raw(port, ['POST /auth/login HTTP/1.1', H, O, 'Content-Type: application/x-www-form-urlencoded'], `username=${'a'.repeat(40000)}`),
  );
  show(`405 POST jwks ${origin}`, await raw(port, ['POST /.well-known/jwks.json HTTP/1.1', H, O]));
  show(`GET jwks cred ${origin}`, await raw(port, ['GET /.well-known/jwks.json HTTP/1.1', H, O, 'Cookie: baton_rt=x']));
  show(`HEAD metadata ${origin}`, await raw(port, ['HEAD /.well-known/oauth-authorization-server HTTP/1.1', H, O]));
  show(`GET /healthz ${origin}`, await raw(port, ['GET /healthz HTTP/1.1', H, O]));
  show(`GET / (page) ${origin}`, await raw(port, ['GET / HTTP/1.1', H, O]));
  show(`OPTIONS / (page) ${origin}`, await raw(port, ['OPTIONS / HTTP/1.1', H, O, 'Access-Control-Request-Method: GET']));
  show(`OPTIONS /ws ${origin}`, await raw(port, ['OPTIONS /ws HTTP/1.1', H, O, 'Access-Control-Request-Method: GET']));
}
// Rate-limited login (429) for a listed origin: Retry-After readable?
let last;
for (let i = 0; i < 12; i++)
  last = await raw(
    port,
    ['POST /auth/login HTTP/1.1', H, `Origin: ${APP}`, 'Content-Type: application/x-www-form-urlencoded'],
    'username=alice&password=wrong',
  );
show('login after 12 wrong (listed)', last!);
console.info('  expose:', last!.get('access-control-expose-headers'), 'retry-after:', last!.get('retry-after'));

// 2. Preflight flood: 2,000 preflights, half listed, half not, each with an 8 KB header list.
const acrh = Array.from({ length: 1000 }, (_, i) => `x-h${i}`)
  .join(',')
  .slice(0, 8000);
const before = { rows: rows(), metrics: await metrics(), logs: logLines, rss: process.memoryUsage().rss };
const t0 = performance.now();
const statuses: Record<number, number> = {};
for (let i = 0; i < 2000; i++) {
  const r = await raw(port, [
    `OPTIONS ${['/oauth/token', '/auth/login', '/auth/me', '/oauth/introspect'][i % 4]} HTTP/1.1`,
    H,
    `Origin: ${i % 2 ? APP : 'https://evil.com'}`,
    'Access-Control-Request-Method: POST',
    `Access-Control-Request-Headers: ${acrh}`,
  ]);
  statuses[r.status] = (statuses[r.status] ?? 0) + 1;
}
const ms = performance.now() - t0;
const after = { rows: rows(), metrics: await metrics(), logs: logLines, rss: process.memoryUsage().rss };
console.info('preflights by status', statuses, `${(ms / 2000).toFixed(2)} ms each (client+server, one process)`);
console.info('rows before', JSON.stringify(before.rows));
console.info('rows after ', JSON.stringify(after.rows));
console.info('metrics changed:', before.metrics !== after.metrics);
if (before.metrics !== after.metrics) console.info(before.metrics, '\n---\n', after.metrics);
console.info('log lines during flood:', after.logs - before.logs, 'rss MB before/after', (before.rss / 2 ** 20).toFixed(0), (after.rss / 2 ** 20).toFixed(0));
await service.stop();
rmSync(dir, { recursive: true, force: true });
