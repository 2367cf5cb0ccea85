/**
 * Several standalone service processes on one store (Redis, Redis Cluster, PostgreSQL): a
 * refresh storm spread over the instances, a logout on A seen by B (its API and its WebSockets),
 * and a key rotation made from the command line while tokens are in flight.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { openStore, users } from 'baton-auth-server';
import { clusterUrl, startCluster, startRedis } from '../support/redis-servers.ts';
import type { RedisServer } from '../support/redis-servers.ts';
import { useTestDatabase } from '../support/postgres-db.ts';
import { eventually } from '../support/eventually.ts';
import { startInstances, stopInstance } from '../../scripts/instance.ts';
import type { Instance } from '../../scripts/instance.ts';

const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const PG_URL = useTestDatabase('baton_multi');
const SECRET = 'multi-instance-service-secret-of-32-characters';
let cluster: RedisServer[] = [];
// A Redis of this test's own: it deletes nothing of whatever else answers at 6379.
let single: RedisServer | undefined;

beforeAll(async () => {
  [cluster, single] = await Promise.all([startCluster(), startRedis()]);
}, 60_000);
afterAll(async () => {
  await Promise.all([...cluster, ...(single ? [single] : [])].map((n) => n.stop()));
});

function cli(args: string[], store: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, BATON_STORE: store, BATON_SECRET: SECRET, BATON_ISSUER: 'https://baton.multi.test' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(out))));
  });
}

const backends: [string, () => Promise<string>][] = [
  ['redis', async () => (single as RedisServer).url],
  // The cluster this test started, fresh: nothing to clear.
  ['redis cluster', async () => clusterUrl(cluster)],
  ['postgres', async () => PG_URL],
];

describe.each(backends)('three instances on %s', (_name, prepare) => {
  it('share refreshes, revocations and key rotations', async () => {
    const store = await prepare();
    await cli(['store', 'init'], store); // a new Redis is set up on purpose, once (#22)
    const setup = await openStore(store);
    await users.add(setup, 'multi', 'multi password 1');
    await setup.close();
    const instances = await startInstances(3, {
      BATON_STORE: store,
      BATON_SECRET: SECRET,
      BATON_KEY_RELOAD: '1',
      BATON_ISSUER: 'https://baton.multi.test',
      BATON_REFRESH_RATE: 'off',
    });
    const [a, b] = instances as [Instance, Instance, Instance];
    try {
      const login = async (on: Instance) =>
        (await (
          await fetch(`${on.url}/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ username: 'multi', password: 'multi password 1' }),
          })
        ).json()) as { access_token: string; refresh_token: string; session_id: string };
      const me = (on: Instance, token: string) => fetch(`${on.url}/auth/me`, { headers: { authorization: `Bearer ${token}` } });
      const pair = await login(a);

      // A refresh storm spread over the instances: one rotation, one child for everyone.
      const storm = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          fetch(`${(instances[i % 3] as Instance).url}/oauth/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: `grant_type=refresh_token&refresh_token=${pair.refresh_token}`,
          }),
        ),
      );
      expect(storm.map((r) => r.status)).toEqual(Array(30).fill(200));
      const bodies = (await Promise.all(storm.map((r) => r.json()))) as { refresh_token: string; access_token: string }[];
      const children = new Set(bodies.map((p) => p.refresh_token));
      expect(children.size).toBe(1);
      expect([...children][0]).toMatch(/\.1\./);
      const access = (bodies[0] as { access_token: string }).access_token;

      // Logout on A: B's API refuses the token within the propagation bound, B's sockets close.
      expect((await me(b, access)).status).toBe(200);
      const socket = new WebSocket(`${b.url.replace('http', 'ws')}/ws`, ['baton.v1', `baton.bearer.${access}`]);
      await new Promise((r, j) => {
        socket.once('open', r);
        socket.once('error', j);
      });
      const closed = new Promise<number>((r) => socket.once('close', (code) => r(code)));
      const t = Date.now();
      expect((await fetch(`${a.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${access}` } })).status).toBe(200);
      await eventually(async () => (await me(b, access)).status === 401, { timeoutMs: 2000, what: 'B to refuse the logged-out token' });
      const delay = Date.now() - t;
      expect(delay).toBeLessThan(1000);
      expect(await closed).toBe(4401);

      // Key rotation from the command line while tokens are in flight.
      const before = await login(a);
      const jwks = async (on: Instance) =>
        ((await (await fetch(`${on.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
      const published = await jwks(a);
      expect(published).toHaveLength(2); // the active key and the next one, published ahead
      for (const i of instances) expect(await jwks(i)).toEqual(published);
      const rotated = await cli(['keys', 'rotate'], store);
      const active = /Signing with (\S+);/.exec(rotated)?.[1] as string;
      expect(published).toContain(active); // what now signs was in every JWKS before
      for (const i of instances) await eventually(async () => (await jwks(i)).length === 3, { timeoutMs: 5000, what: 'the rotated JWKS everywhere' });
      const after = await login(a);
      expect(JSON.parse(Buffer.from(after.access_token.split('.')[0] as string, 'base64url').toString()).kid).toBe(active);
      for (const i of instances) {
        expect((await me(i, before.access_token)).status).toBe(200); // signed by the retired key
        expect((await me(i, after.access_token)).status).toBe(200); // signed by the new one
      }

      // A compromised key revoked from the command line: refused everywhere at once, cached or not; signing goes on.
      const revoked = await cli(['keys', 'revoke', active], store);
      expect(revoked).toMatch(/^Revoked /m); // after the line on standard error naming the store
      for (const i of instances)
        await eventually(async () => (await me(i, after.access_token)).status === 401, { timeoutMs: 1000, what: 'the revoked key refused everywhere' });
      for (const i of instances) expect(await jwks(i)).not.toContain(active);
      const fresh = await login(b);
      for (const i of instances)
        await eventually(async () => (await me(i, fresh.access_token)).status === 200, { timeoutMs: 2000, what: 'a fresh token accepted everywhere' });
    } finally {
      await Promise.all(instances.map(stopInstance));
    }
  }, 90_000);
});
