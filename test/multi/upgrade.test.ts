/**
 * A rolling upgrade, with real processes on one SQLite file: an instance without DPoP (BATON_DPOP=off,
 * how a release before DPoP behaves: it neither advertises nor binds) beside a new one. While the
 * old one lives, the new one binds no token, so every refresh works on both; once it is gone, DPoP
 * turns on, and a bound session refreshes on any instance. And two processes that would default
 * to different issuers on one store: the second refuses to start.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initStore, loadConfig, openStore, users } from 'baton-auth-server';
import { startInstance, stopInstance } from '../../scripts/instance.ts';
import type { Instance } from '../../scripts/instance.ts';
import { startRedis } from '../support/redis-servers.ts';
import type { RedisServer } from '../support/redis-servers.ts';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import type { DpopKey } from '../support/dpop.ts';
import { eventually } from '../support/eventually.ts';

const SECRET = 'upgrade-test-service-secret-of-32-characters';
const USER = { username: 'upgrader', password: 'upgrader password 1' };
let dir: string;
const started: Instance[] = [];
// A Redis of this test's own (on a free port): it deletes nothing of whatever else answers at 6379.
let redis: RedisServer | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'baton-upgrade-'));
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(started.map(stopInstance));
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function withUser(store: string): Promise<void> {
  await initStore(loadConfig({ BATON_STORE: store, BATON_SECRET: SECRET })); // a new Redis is set up on purpose, once
  const setup = await openStore(store);
  await users.add(setup, USER.username, USER.password);
  await setup.close();
}

let runtimes = 0;
/** An instance with a runtime file of its own (a second one announced in the same file is refused). */
const instanceOf = (env: Record<string, string>): Promise<Instance> => startInstance({ BATON_RUNTIME_FILE: join(dir, `runtime-${++runtimes}.json`), ...env });

async function start(env: Record<string, string>): Promise<Instance> {
  const instance = await instanceOf(env);
  started.push(instance);
  return instance;
}

const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;

/** `baton serve` with `env` and its log at warn: what it wrote until it listened. */
function serveLogged(env: Record<string, string>): Promise<{ instance: Instance; output: string }> {
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: { ...process.env, PORT: '0', BATON_LOG_LEVEL: 'warn', BATON_RUNTIME_FILE: join(dir, `runtime-${++runtimes}.json`), ...env },
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) {
        const instance = { url: m[1] as string, child };
        started.push(instance);
        resolve({ instance, output });
      }
    });
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${output}`)));
  });
}

const METRICS = 'upgrade-test-metrics-token-of-32-characters';
const dpopGauge = async (on: Instance): Promise<string | undefined> =>
  /^baton_dpop_enabled (\d)$/m.exec(await (await fetch(`${on.url}/metrics`, { headers: { authorization: `Bearer ${METRICS}` } })).text())?.[1];

const metadata = async (on: Instance): Promise<Record<string, unknown>> =>
  (await fetch(`${on.url}/.well-known/oauth-authorization-server`)).json() as Promise<Record<string, unknown>>;
/** The issuer all instances share; a proof names its URLs (RFC 9449 §4.3, htu), whichever instance is asked. */
const ISSUER = 'http://localhost:3000';

/** POSTs JSON to `on` with a proof by `key`, following one use_dpop_nonce answer (RFC 9449 §8). */
async function postWithProof(key: DpopKey, on: Instance, path: string, body: Record<string, string>): Promise<Response> {
  const send = async (nonce?: string) =>
    fetch(`${on.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', dpop: await dpopProof(key, 'POST', `${ISSUER}${path}`, nonce === undefined ? {} : { nonce }) },
      body: JSON.stringify(body),
    });
  const first = await send();
  const nonce = first.headers.get('dpop-nonce');
  return first.status === 400 && nonce !== null ? send(nonce) : first;
}
type Pair = { access_token: string; refresh_token: string; token_type: string };

describe.each([
  ['SQLite, the old one killed', (): string => `sqlite:${join(dir, 'upgrade.sqlite')}`, 'SIGKILL'],
  ['Redis, the old one silent', (): string => (redis as RedisServer).url, 'SIGSTOP'],
] as const)('a rolling upgrade from an instance without DPoP, on %s', (_name, storeOf, stop) => {
  it('binds no token while an instance without DPoP lives, then turns DPoP on for good', async () => {
    const store = storeOf();
    await withUser(store);
    const env = {
      BATON_STORE: store,
      BATON_SECRET: SECRET,
      BATON_ISSUER: ISSUER,
      BATON_HEARTBEAT: '1s',
      BATON_REFRESH_RATE: 'off',
      BATON_METRICS_TOKEN: METRICS,
    };
    const old = await start({ ...env, BATON_DPOP: 'off' });
    const fresh = await start(env);
    const key = await dpopKey();

    // While the old one lives: the new one neither advertises DPoP nor binds a token sent with a proof.
    expect(await metadata(old)).not.toHaveProperty('dpop_signing_alg_values_supported');
    expect(await metadata(fresh)).not.toHaveProperty('dpop_signing_alg_values_supported');
    expect(await dpopGauge(fresh)).toBe('0');
    const login = await postWithProof(key, fresh, '/auth/login', USER);
    expect(login.status).toBe(200);
    let pair = (await login.json()) as Pair;
    expect(pair.token_type).toBe('Bearer');
    // Its refreshes work on both, the access token on both.
    for (const on of [old, fresh, old]) {
      const res = await postWithProof(key, on, '/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token });
      expect(res.status).toBe(200);
      pair = (await res.json()) as Pair;
      expect(pair.token_type).toBe('Bearer');
      expect((await fetch(`${on.url}/auth/me`, { headers: { authorization: `Bearer ${pair.access_token}` } })).status).toBe(200);
    }

    // The old one stops without deregistering: killed (a dead process of this machine: its record is
    // dropped at once), or silent (SIGSTOP: alive, but its registration lapses after three heartbeats).
    // Then DPoP turns on.
    const gone = new Promise((r) => old.child.once('exit', r));
    old.child.kill(stop);
    await eventually(async () => 'dpop_signing_alg_values_supported' in (await metadata(fresh)), {
      timeoutMs: 10_000,
      what: 'the new instance to turn DPoP on',
    });
    old.child.kill('SIGKILL');
    await gone;

    // A DPoP session now, refreshed on any instance: one started later knows DPoP is on at once.
    const other = await start(env);
    expect(await metadata(other)).toHaveProperty('dpop_signing_alg_values_supported');
    expect([await dpopGauge(fresh), await dpopGauge(other)]).toEqual(['1', '1']);
    const bound = await postWithProof(key, fresh, '/auth/login', USER);
    expect(bound.status, await bound.clone().text()).toBe(200);
    pair = (await bound.json()) as Pair;
    expect(pair.token_type).toBe('DPoP');
    for (const on of [other, fresh, other]) {
      const res = await postWithProof(key, on, '/oauth/token', { grant_type: 'refresh_token', refresh_token: pair.refresh_token });
      expect(res.status).toBe(200);
      pair = (await res.json()) as Pair;
      expect(pair.token_type).toBe('DPoP');
      const proof = await dpopProof(key, 'GET', `${ISSUER}/auth/me`, { accessToken: pair.access_token });
      expect((await fetch(`${on.url}/auth/me`, { headers: { authorization: `DPoP ${pair.access_token}`, dpop: proof } })).status).toBe(200);
      // RFC 9449 §7.1: a bound token is no bearer token.
      expect((await fetch(`${on.url}/auth/me`, { headers: { authorization: `Bearer ${pair.access_token}` } })).status).toBe(401);
    }

    // DPoP stays on: an instance without it refuses to start (it would sign the bound sessions out).
    await expect(instanceOf({ ...env, BATON_DPOP: 'off' })).rejects.toThrow(/DPoP is on for the instances of this store.*BATON_DPOP=auto/);
    expect(await metadata(fresh)).toHaveProperty('dpop_signing_alg_values_supported');
  }, 60_000);
});

describe('several processes on one store', () => {
  it("a second one whose issuer would be its own default port refuses to start, naming the first one's issuer", async () => {
    const store = `sqlite:${join(dir, 'issuers.sqlite')}`;
    await withUser(store);
    const first = await start({ BATON_STORE: store, BATON_SECRET: SECRET });
    const issuer = (await metadata(first)).issuer as string;
    expect(issuer).toBe(first.url);
    await expect(instanceOf({ BATON_STORE: store, BATON_SECRET: SECRET })).rejects.toThrow(
      new RegExp(
        `Another instance on this store \\(process \\d+ on .+\\) has issuer ${issuer.replace(/[.:/]/g, '\\$&')}, and this one would default to http://127\\.0\\.0\\.1:\\d+: each would refuse the other's tokens\\. Set BATON_ISSUER to the public URL all instances share\\.`,
      ),
    );
    // With the shared issuer set, a second one starts, and each takes the other's tokens.
    await stopInstance(first);
    const shared = { BATON_STORE: store, BATON_SECRET: SECRET, BATON_ISSUER: 'http://localhost:3000' };
    const [a, b] = [await start(shared), await start(shared)];
    const pair = (await (
      await fetch(`${a.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(USER) })
    ).json()) as Pair;
    expect((await fetch(`${b.url}/auth/me`, { headers: { authorization: `Bearer ${pair.access_token}` } })).status).toBe(200);
    // A process that would default to another issuer refuses beside them too; once they stop, it starts (their records are gone).
    await expect(instanceOf({ BATON_STORE: store, BATON_SECRET: SECRET })).rejects.toThrow(/has issuer http:\/\/localhost:3000.*Set BATON_ISSUER/);
    // An explicit BATON_ISSUER wins, with a warning that names the other issuer.
    const explicit = await serveLogged({ BATON_STORE: store, BATON_SECRET: SECRET, BATON_ISSUER: 'http://localhost:4000' });
    expect(explicit.output).toMatch(
      /"event":"config.warning".*Another instance on this store \(process \d+ on [^)]+\) has issuer http:\/\/localhost:3000, not http:\/\/localhost:4000: each refuses the other's tokens\. Give every instance the same BATON_ISSUER\./,
    );
    await stopInstance(explicit.instance);
    await Promise.all([a, b].map(stopInstance));
    expect((await metadata(await start({ BATON_STORE: store, BATON_SECRET: SECRET }))).issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  }, 60_000);
});
