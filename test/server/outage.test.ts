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
import { ALL_503, endpointsWhileAway } from '../support/outage.ts';

const SECRET = 'introspection-secret-of-32-characters!!';
let redis: RedisServer;
let server: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  redis = await startRedis();
  const config = loadConfig({
    PORT: '0',
    BATON_STORE: redis.url,
    BATON_SECRET: randomBytes(32).toString('base64url'),
    BATON_LOG_LEVEL: 'silent',
    BATON_INTROSPECTION_SECRET: SECRET,
  });
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
    const answers = await endpointsWhileAway({
      url: server.url,
      username: 'olive',
      password: 'olive password 1',
      introspectionSecret: SECRET,
      cut: () => redis.kill(),
    });
    expect(answers).toEqual(ALL_503);
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
      const res = await service.handler(
        new Request(`${config.issuer}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'pat', password: 'wrong' }),
        }),
        { ip: '203.0.113.9' },
      );
      expect(res.status).toBe(500);
      expect(res.headers.get('retry-after')).toBeNull();
      expect(lines.join('')).toMatch(/"event":"error"/);
    } finally {
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
