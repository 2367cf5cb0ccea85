/**
 * Red team (#22, rt-lost): "a call that waited out its timeout marks any store down" — but a
 * PostgreSQL query has no timeout of its own (postgres.js has none; `connect_timeout` covers only a
 * new connection). In a partition, a request whose query went out on a pooled connection waited
 * as long as TCP takes to give up (over 90 s measured, redteam/lost/pg-partition.ts), while the
 * ones that needed a new connection were 503 after 5 s. Every call now has a deadline.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { eventually } from '../support/eventually.ts';
import { useTestDatabase } from '../support/postgres-db.ts';
import { startProxy } from '../support/tcp-proxy.ts';
import type { TcpProxy } from '../support/tcp-proxy.ts';

const database = useTestDatabase('baton_partition');
let proxy: TcpProxy;
let server: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  proxy = await startProxy(5432);
  const url = new URL(database);
  url.port = String(proxy.port);
  server = await startServer(loadConfig({ PORT: '0', BATON_STORE: url.toString(), BATON_SECRET: randomBytes(32).toString('base64url'), BATON_LOG_LEVEL: 'silent' }));
  await users.add(server.service.store, 'paula', 'paula password 1');
}, 60_000);
afterAll(async () => {
  proxy?.resume();
  await server?.stop().catch(() => undefined);
  await proxy?.close();
});

const login = async () => {
  const started = performance.now();
  const res = await fetch(`${server.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'paula', password: 'paula password 1' }), signal: AbortSignal.timeout(30_000) }).catch((err: Error) => ({ status: err.name, headers: new Headers() }));
  return { status: res.status, retryAfter: res.headers.get('retry-after'), ms: Math.round(performance.now() - started) };
};

describe('a PostgreSQL partition (connections open, nothing answers)', () => {
  it('requests in flight on pooled connections answer 503 after a deadline, not after TCP gives up; the next ones at once; then it heals', async () => {
    // Warm the pool: several connections open, as on a busy instance.
    await Promise.all(Array.from({ length: 6 }, login));
    proxy.stall();
    const during = await Promise.all(Array.from({ length: 6 }, login));
    for (const a of during) {
      expect(a.status).toBe(503);
      expect(a.retryAfter).not.toBeNull();
      expect(a.ms).toBeLessThan(15_000); // a deadline of a few seconds, loose for a loaded machine (TCP takes minutes)
    }
    const next = await login();
    expect([next.status, next.ms < 2000]).toEqual([503, true]);
    proxy.resume();
    await eventually(async () => (await login()).status === 200, { what: 'logins to succeed again', timeoutMs: 15_000, intervalMs: 200 });
  }, 90_000);
});
