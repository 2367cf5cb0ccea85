/**
 * #22: a store that is away is 503 with Retry-After at every endpoint, never 500 — before, the
 * service's own reads beside the engine (users at login, clients, login protection counters) let a
 * Redis outage through as 500, wrong passwords included.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService, initStore, loadConfig, startServer, users } from 'baton-auth-server';
import { startRedis } from '../support/redis-servers.ts';
import type { RedisServer } from '../support/redis-servers.ts';

const SECRET = 'introspection-secret-of-32-characters!!';
let redis: RedisServer;
let server: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  redis = await startRedis(6419);
  const config = loadConfig({ PORT: '0', BATON_STORE: 'redis://127.0.0.1:6419', BATON_SECRET: randomBytes(32).toString('base64url'), BATON_LOG_LEVEL: 'silent', BATON_INTROSPECTION_SECRET: SECRET });
  await initStore(config); // a new Redis is set up on purpose, once
  server = await startServer(config);
  await users.add(server.service.store, 'olive', 'olive password 1');
}, 60_000);
afterAll(async () => {
  await server?.stop().catch(() => undefined);
  await redis?.stop();
});

describe('every endpoint while the store is away', () => {
  it('answers 503 with Retry-After where it needs the store, and never 500', async () => {
    const form = (fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields) });
    const login = (password: string) => fetch(`${server.url}/auth/login`, form({ username: 'olive', password }));
    const pair = (await (await login('olive password 1')).json()) as { access_token: string; refresh_token: string };
    const bearer = { authorization: `Bearer ${pair.access_token}` };
    const basic = { authorization: `Basic ${Buffer.from(`resource-server:${SECRET}`).toString('base64')}` };
    await redis.kill();
    const calls: [string, () => Promise<Response>][] = [
      ['login', () => login('olive password 1')],
      ['login, wrong password', () => login('wrong guess')],
      ['refresh', () => fetch(`${server.url}/oauth/token`, form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }))],
      ['revoke', () => fetch(`${server.url}/oauth/revoke`, form({ token: pair.refresh_token }))],
      ['introspect', () => fetch(`${server.url}/oauth/introspect`, form({ token: pair.access_token }, basic))],
      ['logout', () => fetch(`${server.url}/auth/logout`, { method: 'POST', headers: bearer })],
      ['sessions', () => fetch(`${server.url}/auth/sessions`, { headers: bearer })],
      ['history', () => fetch(`${server.url}/auth/sessions/history`, { headers: bearer })],
      ['revocation feed', () => fetch(`${server.url}/oauth/revocations`, { headers: basic })],
    ];
    const answers: Record<string, string> = {};
    for (const [name, call] of calls) {
      const res = await call();
      answers[name] = `${res.status} ${res.headers.get('retry-after') === null ? 'no Retry-After' : 'Retry-After'}`;
    }
    expect(answers).toEqual(Object.fromEntries(calls.map(([name]) => [name, '503 Retry-After'])));
    // What needs no store still answers.
    expect((await fetch(`${server.url}/.well-known/jwks.json`)).status).toBe(200);
  }, 120_000);
});

describe('a store that answers, wrongly', () => {
  it('is a 500 the log names, not a 503 that says "try again" while /readyz says ready (round-3 red team: a missing table was a silent 503)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-broken-'));
    const lines: string[] = [];
    const { default: pino } = await import('pino');
    const config = loadConfig({ PORT: '0', BATON_STORE: `sqlite:${join(dir, 'baton.sqlite')}`, BATON_LOG_LEVEL: 'silent' });
    const service = await createService(config, pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }));
    try {
      await users.add(service.store, 'pat', 'pat password 1');
      const db = new DatabaseSync(join(dir, 'baton.sqlite'));
      db.exec('DROP TABLE baton_counters');
      db.close();
      const res = await service.handler(new Request(`${config.issuer}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'pat', password: 'wrong' }) }), { ip: '203.0.113.9' });
      expect(res.status).toBe(500);
      expect(res.headers.get('retry-after')).toBeNull();
      expect(lines.join('')).toMatch(/"event":"error"/);
    } finally {
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
