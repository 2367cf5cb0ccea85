/**
 * #22: a Redis without persistence loses everything at a restart — users, clients, keys,
 * revocations, limits — and the service carried on as a fresh install: logins refused, a logout
 * answered 200 while the token kept working, and the next instance to start made new keys that
 * every instance then loaded. Now a running instance notices the loss (its install record gone),
 * is not ready with a sentence, logs it once, answers 503, writes no keys; a new instance refuses
 * an empty Redis until `baton store init`; a restore from a backup brings the instance back.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService, loadConfig, users } from 'baton-auth-server';
import type { Service } from 'baton-auth-server';
import { eventually } from '../support/eventually.ts';
import { startRedis } from '../support/redis-servers.ts';
import type { RedisServer } from '../support/redis-servers.ts';

const run = promisify(execFile);
const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const SECRET = randomBytes(32).toString('base64url');
let redis: RedisServer;
let raw: Redis;
let env: Record<string, string>;
let config: ReturnType<typeof loadConfig>;
beforeAll(async () => {
  redis = await startRedis(); // no persistence, as the SRE run's
  env = { PORT: '0', BATON_STORE: redis.url, BATON_SECRET: SECRET, BATON_LOG_LEVEL: 'silent', BATON_KEY_RELOAD: '1' };
  config = loadConfig(env);
  raw = new Redis(redis.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
  raw.on('error', () => undefined);
}, 30_000);
afterAll(async () => {
  raw?.disconnect();
  await redis?.stop();
});

const logged: { level: number; event?: string; msg: string }[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as { level: number; event?: string; msg: string }) });
const call = (service: Service, path: string, init: RequestInit = {}) => service.handler(new Request(`${config.issuer}${path}`, init), { ip: '203.0.113.8' });
const login = (service: Service) =>
  call(service, '/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'rosa', password: 'rosa password 1' }),
  });
const baton = (args: string[]) =>
  run(process.execPath, ['--conditions=baton-source', CLI, ...args], {
    env: { ...process.env, BATON_STORE: config.store, BATON_SECRET: SECRET, BATON_RUNTIME_FILE: '/nonexistent/baton-service.json' },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` }),
  );

/** Every key of the store, dumped: a backup, as an operator would have one. */
async function backup(): Promise<[string, Buffer][]> {
  const keys = await raw.keys('baton:*');
  return Promise.all(keys.map(async (key) => [key, (await raw.dumpBuffer(key)) as Buffer] as [string, Buffer]));
}

describe('a Redis that lost its data under a running service', () => {
  it('an empty Redis is set up only by `baton store init`: a start refuses it with a sentence', async () => {
    await expect(createService(config, logger)).rejects.toThrow(/holds no Baton data\. If this is a new installation, set it up once with `.*store init`/);
    const first = await baton(['store', 'init']);
    expect(first).toMatchObject({ code: 0 });
    expect(first.out).toMatch(/Set up the store/);
    expect(await baton(['store', 'init'])).toMatchObject({ code: 0, out: expect.stringMatching(/already set up .*nothing changed/) });
  }, 60_000);

  it('is not ready with a sentence, logs it once, answers 503 and writes no keys; a restore from a backup brings it back', async () => {
    const service = await createService(config, logger);
    try {
      await users.add(service.store, 'rosa', 'rosa password 1');
      expect((await login(service)).status).toBe(200);
      await raw.connect();
      const saved = await backup();
      raw.disconnect();
      await redis.kill();
      await redis.restart(); // empty: no persistence
      const ready = await eventually(
        async () => {
          const res = await call(service, '/readyz');
          const body = res.status === 503 && ((await res.json()) as { reason: string });
          return body && !/unreachable|not subscribed/.test(body.reason) && body; // so while the connections come back
        },
        { what: '/readyz to say why it is not ready', timeoutMs: 15_000, intervalMs: 200 },
      );
      expect(ready.reason).toMatch(
        /^store: lost its data \(was it restarted without persistence\?\): restore it from a backup, or start afresh with `baton store init`/,
      );
      const res = await login(service);
      expect([res.status, res.headers.get('retry-after')]).toEqual([503, '5']);
      expect((await call(service, '/.well-known/jwks.json')).status).toBe(200); // needs no store
      // A key reload (every second here) and readiness checks later: one error line, no keys written.
      await new Promise((r) => setTimeout(r, 2500));
      for (let i = 0; i < 3; i++) expect((await call(service, '/readyz')).status).toBe(503);
      const errors = logged.filter((l) => l.level >= 50);
      expect(errors.map((l) => l.event)).toEqual(['store.lost']);
      expect(errors[0]?.msg).toMatch(
        new RegExp(
          `^The store at BATON_STORE=redis://127\\.0\\.0\\.1:${redis.port} lost its data \\(was it restarted without persistence\\?\\): .* users, clients, keys, sessions, revocations and login limits\\. .*restore the store from a backup`,
        ),
      );
      await raw.connect();
      expect(await raw.keys('baton:*')).toEqual([]);
      // Nor does a new instance make it a fresh install.
      await expect(createService(config, logger)).rejects.toThrow(/holds no Baton data.*lost it \(was Redis restarted without persistence/);
      expect(await raw.keys('baton:*')).toEqual([]);
      // The operator restores the backup: the instance is ready again by itself, and its user logs in.
      for (const [key, value] of saved) await raw.restore(key, 0, value, 'REPLACE');
      raw.disconnect();
      await eventually(async () => (await call(service, '/readyz')).status === 200, { what: 'ready again', timeoutMs: 15_000, intervalMs: 200 });
      expect((await login(service)).status).toBe(200);
      expect(logged.filter((l) => l.event === 'store.restored')).toHaveLength(1);
    } finally {
      await service.close();
    }
  }, 90_000);

  it('or the operator starts afresh with `baton store init`: running instances say to restart, a restarted one serves', async () => {
    await baton(['store', 'init']); // whatever the test before left
    const service = await createService(config, logger);
    try {
      await redis.kill();
      await redis.restart();
      await eventually(async () => (await call(service, '/readyz')).status === 503, { what: 'not ready', timeoutMs: 15_000, intervalMs: 200 });
      expect((await baton(['store', 'init'])).out).toMatch(/Set up the store/);
      const res = await eventually(
        async () => {
          const r = (await (await call(service, '/readyz')).json()) as { reason?: string };
          return r.reason?.includes('set up anew') && r.reason;
        },
        { what: 'the instance to see the new install', timeoutMs: 15_000, intervalMs: 200 },
      );
      expect(res).toMatch(/restart this instance/);
    } finally {
      await service.close();
    }
    const fresh = await createService(config, logger);
    try {
      expect((await call(fresh, '/readyz')).status).toBe(200);
      await users.add(fresh.store, 'rosa', 'rosa password 1');
      expect((await login(fresh)).status).toBe(200);
    } finally {
      await fresh.close();
    }
  }, 90_000);
});

describe('keys reset on purpose under a running service', () => {
  it('says so at /readyz (restart this instance), not that the store lost its data', async () => {
    const { resetKeys } = await import('../../packages/baton-auth-server/src/server/custody.ts');
    const memory = loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent' });
    const said: { event?: string; msg: string }[] = [];
    const service = await createService(
      memory,
      pino({ level: 'info' }, { write: (line: string) => void said.push(JSON.parse(line) as { event?: string; msg: string }) }),
    );
    try {
      const readyz = () => service.handler(new Request(`${memory.issuer}/readyz`), { ip: '203.0.113.8' });
      expect((await readyz()).status).toBe(200);
      await resetKeys(service.store);
      await eventually(async () => (await readyz()).status === 503, { what: '/readyz to notice the reset', timeoutMs: 10_000 });
      expect(await (await readyz()).json()).toMatchObject({ reason: expect.stringMatching(/^store: its keys were reset on purpose .*restart this instance/) });
      expect(said.filter((l) => l.event === 'store.keys_reset')).toHaveLength(1);
      expect(said.filter((l) => l.event === 'store.lost')).toHaveLength(0);
    } finally {
      await service.close();
    }
  }, 30_000);
});
