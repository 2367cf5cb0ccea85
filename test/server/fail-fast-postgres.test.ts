/**
 * Red team (#22, rt-lost): "a call that waited out its timeout marks any store down" — but a
 * PostgreSQL query has no timeout of its own (postgres.js has none; `connect_timeout` covers only a
 * new connection). In a partition, a request whose query went out on a pooled connection waited
 * as long as TCP takes to give up (over 90 s measured, redteam/lost/pg-partition.ts), while the
 * ones that needed a new connection were 503 after 5 s. Every call now has a deadline.
 */
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { postgresBehindProxy } from '../support/outage.ts';

const pg = postgresBehindProxy('baton_partition');

const login = async () => {
  const started = performance.now();
  const res = await fetch(`${pg.server.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'paula', password: 'paula password 1' }),
    signal: AbortSignal.timeout(30_000),
  }).catch((err: Error) => ({ status: err.name, headers: new Headers() }));
  return { status: res.status, retryAfter: res.headers.get('retry-after'), ms: Math.round(performance.now() - started) };
};

describe('a PostgreSQL partition (connections open, nothing answers)', () => {
  it('requests in flight on pooled connections answer 503 after a deadline, not after TCP gives up; the next ones at once; then it heals', async () => {
    // Warm the pool: several connections open, as on a busy instance.
    await Promise.all(Array.from({ length: 6 }, login));
    pg.proxy.stall();
    const during = await Promise.all(Array.from({ length: 6 }, login));
    for (const a of during) {
      expect(a.status).toBe(503);
      expect(a.retryAfter).not.toBeNull();
      expect(a.ms).toBeLessThan(15_000); // a deadline of a few seconds, loose for a loaded machine (TCP takes minutes)
    }
    const next = await login();
    expect([next.status, next.ms < 2000]).toEqual([503, true]);
    pg.proxy.resume();
    await eventually(async () => (await login()).status === 200, { what: 'logins to succeed again', timeoutMs: 15_000, intervalMs: 200 });
  }, 90_000);
});
