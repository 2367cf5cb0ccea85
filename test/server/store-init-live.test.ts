/**
 * Red team (#22, rt-lost): `baton store init` on a store already set up "changes nothing". It ran
 * the start's client bootstrap all the same, with the environment of whoever typed the command:
 * without BATON_INTROSPECTION_SECRET (an operator's shell rarely has the service's) it deleted the
 * `resource-server` client the running instances' resource servers introspect with, and with
 * another value it replaced that client's secret.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectStore, initStore, loadConfig } from 'baton-auth-server';
import { startRedis } from '../support/redis-servers.ts';
import type { RedisServer } from '../support/redis-servers.ts';

const SECRET = randomBytes(32).toString('base64url');
let redis: RedisServer;
let env: { BATON_STORE: string; BATON_SECRET: string; BATON_LOG_LEVEL: string };
beforeAll(async () => {
  redis = await startRedis();
  env = { BATON_STORE: redis.url, BATON_SECRET: SECRET, BATON_LOG_LEVEL: 'silent' };
}, 30_000);
afterAll(async () => {
  await redis?.stop();
});

const clientRecord = async (): Promise<string | null> => {
  const store = await connectStore(env.BATON_STORE);
  try {
    return await store.getRecord('clients', 'resource-server');
  } finally {
    await store.close();
  }
};

describe('baton store init on a store already set up', () => {
  it("leaves the service's clients as they are, whatever BATON_INTROSPECTION_SECRET the command sees", async () => {
    expect(await initStore(loadConfig({ ...env, BATON_INTROSPECTION_SECRET: 'introspection secret of the service 1' }))).toMatchObject({ created: true });
    const before = await clientRecord();
    expect(before).not.toBeNull();
    expect(await initStore(loadConfig(env))).toMatchObject({ created: false });
    expect(await clientRecord()).toBe(before);
    expect(await initStore(loadConfig({ ...env, BATON_INTROSPECTION_SECRET: 'another secret typed by hand, long enough 2' }))).toMatchObject({
      created: false,
    });
    expect(await clientRecord()).toBe(before);
  }, 30_000);
});
