/**
 * #22: a PostgreSQL outage is 503 with Retry-After at every endpoint, never 500 (an SRE run saw 664
 * of 668 refresh failures answer 500). The shared server cannot be stopped: the service reaches
 * its own database through a TCP proxy, which the test cuts.
 */
import { describe, expect, it } from 'vitest';
import { users } from 'baton-auth-server';
import { eventually } from '../support/eventually.ts';
import { ALL_503, endpointsWhileAway, postgresBehindProxy } from '../support/outage.ts';

const SECRET = 'introspection-secret-of-32-characters!!';
const pg = postgresBehindProxy('baton_outage', { BATON_LOGIN_FAILURES: 'off', BATON_LOGIN_FAILURES_PER_IP: 'off', BATON_INTROSPECTION_SECRET: SECRET });

describe('every endpoint while PostgreSQL is away', () => {
  it('answers 503 with Retry-After where it needs the store, never 500; and serves again once it is back', async () => {
    const answers = await endpointsWhileAway({
      url: pg.server.url,
      username: 'paula',
      password: 'paula password 1',
      introspectionSecret: SECRET,
      cut: () => pg.proxy.down(),
    });
    expect(answers).toEqual(ALL_503);
    expect((await fetch(`${pg.server.url}/.well-known/jwks.json`)).status).toBe(200); // needs no store
    expect((await fetch(`${pg.server.url}/readyz`)).status).toBe(503);
    await pg.proxy.up();
    const login = () =>
      fetch(`${pg.server.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'paula', password: 'paula password 1' }),
      });
    await eventually(async () => (await login()).status === 200, { what: 'logins to succeed again', timeoutMs: 15_000, intervalMs: 200 });
    expect((await fetch(`${pg.server.url}/readyz`)).status).toBe(200);
  }, 120_000);

  it('cut in the middle of a burst of logins, refreshes and logouts: every answer is a success or a 503 with Retry-After, never 500', async () => {
    const json = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${pg.server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const statuses: string[] = [];
    // Four users, ten logins each: under the engine's 30 logins a minute per user.
    for (let u = 0; u < 4; u++) await users.add(pg.server.service.store, `burst${u}`, 'burst password 1');
    const one = async (n: number): Promise<void> => {
      const res = await json('/auth/login', { username: `burst${n % 4}`, password: 'burst password 1' });
      statuses.push(`${res.status}${res.status === 503 && res.headers.get('retry-after') === null ? ' without Retry-After' : ''}`);
      if (res.status !== 200) return;
      const pair = (await res.json()) as { access_token: string; refresh_token: string };
      for (let i = 0; i < 5; i++) {
        const r = await fetch(`${pg.server.url}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }),
        });
        statuses.push(`${r.status}${r.status === 503 && r.headers.get('retry-after') === null ? ' without Retry-After' : ''}`);
        if (r.status !== 200) return;
        pair.refresh_token = ((await r.json()) as { refresh_token: string }).refresh_token;
      }
      const out = await fetch(`${pg.server.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${pair.access_token}` } });
      statuses.push(`${out.status}`);
    };
    const burst = Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 10));
        await one(i);
      }),
    );
    await new Promise((r) => setTimeout(r, 150));
    await pg.proxy.down();
    await burst;
    await pg.proxy.up();
    const counts: Record<string, number> = {};
    for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
    expect(Object.keys(counts).filter((s) => s !== '200' && s !== '503')).toEqual([]);
    expect(counts['503']).toBeGreaterThan(0); // the cut was felt
  }, 120_000);
});
