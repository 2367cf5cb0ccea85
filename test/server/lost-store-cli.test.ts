/**
 * Red team (#22, rt-lost): an empty Redis (new, or one that lost its data) is set up only by
 * `baton store init`; a start refuses it. But the start's test for "empty" is "no key ring, no
 * install record and no client", and `baton clients add` wrote a client into it: after that the
 * next instance to start (an orchestrator restarting a pod, a deploy that re-applies its clients
 * first) made a fresh install silently — new keys, no users — and every running instance went
 * unready ("set up anew").
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService, loadConfig } from 'baton-auth-server';
import type { Service } from 'baton-auth-server';
import { startRedis } from '../support/redis-servers.ts';
import type { RedisServer } from '../support/redis-servers.ts';

const run = promisify(execFile);
const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const SECRET = randomBytes(32).toString('base64url');
let redis: RedisServer;
let config: ReturnType<typeof loadConfig>;
beforeAll(async () => {
  redis = await startRedis(); // empty: new, or restarted without persistence
  config = loadConfig({ PORT: '0', BATON_STORE: redis.url, BATON_SECRET: SECRET, BATON_LOG_LEVEL: 'silent' });
}, 30_000);
afterAll(async () => {
  await redis?.stop();
});

const baton = (args: string[]) =>
  run(process.execPath, ['--conditions=baton-source', CLI, ...args], {
    env: { ...process.env, BATON_STORE: config.store, BATON_SECRET: SECRET, BATON_RUNTIME_FILE: '/nonexistent/baton-service.json' },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` }),
  );

describe('an empty Redis, before `baton store init`', () => {
  it("a command that writes into it is refused with the start's sentence, and a start still refuses it afterwards", async () => {
    const added = await baton(['clients', 'add', 'shop-app', '--scopes', 'read']);
    expect(added.code).not.toBe(0);
    expect(added.out).toMatch(/holds no Baton data\. If this is a new installation, set it up once with `.*store init`/);
    let service: Service | undefined;
    try {
      await expect(createService(config, pino({ level: 'silent' })).then((s) => (service = s))).rejects.toThrow(/holds no Baton data/);
    } finally {
      await service?.close();
    }
  }, 60_000);
});
