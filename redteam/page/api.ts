/**
 * Attempts against the page's API additions on the real service (SQLite store, so rows can be
 * counted): one user reading or ending another's sessions, history and name; the `user_names`
 * index after a user is removed and another added with the same name (and the old token kept);
 * HEAD /auth/login as an unauthenticated cost (rows, counters, the cross-site guard, nonces);
 * user enumeration through the lockout (statuses, bodies, Retry-After, time of a 401).
 * Expected: every cross-user attempt 401/404 with nothing of the other user's; the removed user's
 * token names nobody; HEAD writes nothing, counts nothing, answers 403 cross-site; a known and an
 * unknown username get the same answers.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { raw } from '../cors/raw.ts';

const db = join(mkdtempSync(join(tmpdir(), 'rt-page-')), 'baton.sqlite');
const service = await startServer(loadConfig({ PORT: '0', BATON_STORE: `sqlite:${db}`, BATON_LOG_LEVEL: 'silent' }));
const url = service.url;
const port = Number(new URL(url).port);
const store = service.service.store;
await users.add(store, 'alice', 'correct horse battery');
await users.add(store, 'bob', 'bob battery staple');
const rows = () => {
  const d = new DatabaseSync(db, { readOnly: true });
  const tables = d
    .prepare("SELECT name FROM sqlite_master WHERE type='table'")
    .all()
    .map((r) => String(r.name));
  const out = Object.fromEntries(tables.map((t) => [t, Number((d.prepare(`SELECT count(*) AS n FROM "${t}"`).get() as { n: number }).n)]));
  d.close();
  return JSON.stringify(out);
};
const login = async (username: string, password: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ username, password }) });
const tokens = async (u: string, p: string) => (await (await login(u, p)).json()) as { access_token: string; session_id: string };
const get = async (path: string, at: string, init: RequestInit = {}) => {
  const r = await fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${at}`, ...(init.headers ?? {}) } });
  return `${r.status} ${(await r.text()).slice(0, 160)}`;
};

// 1. Cross-user.
const alice = await tokens('alice', 'correct horse battery');
const bob = await tokens('bob', 'bob battery staple');
console.info('bob /auth/me:', await get('/auth/me', bob.access_token));
const bobSessions = await get('/auth/sessions', bob.access_token);
console.info("bob /auth/sessions names alice's session?", bobSessions.includes(alice.session_id));
const bobHistory = await get('/auth/sessions/history', bob.access_token);
console.info("bob /auth/sessions/history names alice's session?", bobHistory.includes(alice.session_id));
console.info("bob DELETE alice's session:", await get(`/auth/sessions/${alice.session_id}`, bob.access_token, { method: 'DELETE' }));
console.info("bob history?before=alice's session id:", await get(`/auth/sessions/history?before=${encodeURIComponent(alice.session_id)}`, bob.access_token));
console.info('alice still signed in:', await get('/auth/me', alice.access_token));

// 2. The name index: alice removed (as `baton users remove` does: sessions revoked, then the user), a new alice added.
const oldAlice = (await users.get(store, 'alice'))!;
await users.remove(store, 'alice'); // without revoking: a library user or an old CLI
const newAlice = await users.add(store, 'Alice', 'another password 1');
const again = await tokens('alice', 'another password 1');
console.info('old alice token (sessions not revoked) /auth/me:', await get('/auth/me', alice.access_token));
console.info('new alice /auth/me:', await get('/auth/me', again.access_token), 'ids differ:', oldAlice.id !== newAlice.id);
const d = new DatabaseSync(db, { readOnly: true });
console.info(
  'user_names rows:',
  JSON.stringify(
    d
      .prepare("SELECT * FROM sqlite_master WHERE type='table'")
      .all()
      .map((r) => r.name),
  ),
);
d.close();

// 3. HEAD /auth/login: 2,000 of them (no Origin, an evil Origin, Sec-Fetch-Site cross-site).
const before = rows();
const H = `Host: 127.0.0.1:${port}`;
const first = await raw(port, ['HEAD /auth/login HTTP/1.1', H]);
console.info('HEAD /auth/login:', first.status, 'dpop-nonce', first.get('dpop-nonce')?.length, 'chars; cache-control', first.get('cache-control'));
console.info('HEAD with Origin https://evil.example:', (await raw(port, ['HEAD /auth/login HTTP/1.1', H, 'Origin: https://evil.example'])).status);
console.info('HEAD with Sec-Fetch-Site: cross-site:', (await raw(port, ['HEAD /auth/login HTTP/1.1', H, 'Sec-Fetch-Site: cross-site'])).status);
console.info('GET /auth/login:', (await raw(port, ['GET /auth/login HTTP/1.1', H])).status, '(HEAD without GET)');
const nonces = new Set<string>();
const t = performance.now();
for (let i = 0; i < 2000; i++) {
  const r = await fetch(`${url}/auth/login`, { method: 'HEAD', headers: i % 2 ? { origin: 'https://evil.example' } : {} });
  if (r.headers.get('dpop-nonce')) nonces.add(r.headers.get('dpop-nonce')!);
}
console.info(`2,000 HEADs: ${((performance.now() - t) / 2000).toFixed(2)} ms each; distinct nonces ${nonces.size}; rows before ${before} after ${rows()}`);

// 4. Enumeration: a known and an unknown name, 12 wrong passwords each from one address.
const answers = async (name: string) => {
  const out: string[] = [];
  const ms: number[] = [];
  for (let i = 0; i < 12; i++) {
    const s = performance.now();
    const r = await login(name, 'wrong password');
    ms.push(performance.now() - s);
    out.push(
      `${r.status}${r.headers.get('retry-after') ? `/ra=${r.headers.get('retry-after')}` : ''}:${(await r.text()).replace(/\d+ (seconds|minutes)/, 'N $1')}`,
    );
  }
  ms.sort((a, b) => a - b);
  return {
    seq: [...new Set(out)],
    firstMedianMs: ms
      .slice(0, 10)
      .sort((a, b) => a - b)[5]!
      .toFixed(1),
  };
};
console.info('known "bob":', JSON.stringify(await answers('bob')));
console.info('unknown "nobody":', JSON.stringify(await answers('nobody')));
await service.stop();
