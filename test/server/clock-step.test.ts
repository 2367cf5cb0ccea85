/**
 * Steps of the wall clock under `baton serve` (issue #21, finding 17), on a real socket and a
 * SQLite store: the service runs with a preload (`test/support/wall-step.ts`) that steps its
 * `Date` while `performance.now()` runs on, as NTP or a resumed VM does. Each step is held for
 * seconds, well under the minute after which the service takes a step as the true time; the
 * default sweep runs every second meanwhile.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenClient, memoryStorage } from 'baton-auth-client';
import { openStore, users } from 'baton-auth-server';
import { eventually } from '../support/eventually.ts';

const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const PRELOAD = new URL('../support/wall-step.ts', import.meta.url).pathname;
const HOUR = 3_600_000;
const USER = { username: 'stepper', password: 'stepper password 1' };

interface Pair {
  access_token: string;
  refresh_token: string;
  session_id: string;
}

let dir: string;
let child: ChildProcess;
let url: string;
let stderr = '';
let stdout = '';

/** Steps the service's wall clock to `offsetMs` from the real time, and waits until it took it. */
async function setWall(offsetMs: number): Promise<void> {
  const seen = stderr.split(`wall-step ${offsetMs}\n`).length;
  writeFileSync(join(dir, 'offset'), String(offsetMs));
  child.kill('SIGUSR2');
  const end = Date.now() + 5000;
  while (stderr.split(`wall-step ${offsetMs}\n`).length === seen) {
    if (Date.now() > end) throw new Error(`the service did not take the step: ${stderr}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function login(): Promise<Pair> {
  const res = await fetch(`${url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(USER) });
  expect(res.status).toBe(200);
  return res.json() as Promise<Pair>;
}

function refresh(token: string): Promise<Response> {
  return fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
  });
}

async function me(access: string): Promise<number> {
  return (await fetch(`${url}/auth/me`, { headers: { authorization: `Bearer ${access}` } })).status;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'baton-clock-step-'));
  const store = `sqlite:${join(dir, 'baton.sqlite')}`;
  writeFileSync(join(dir, 'offset'), '0');
  const setup = await openStore(store);
  await users.add(setup, USER.username, USER.password);
  await setup.close();
  child = spawn(process.execPath, ['--import', PRELOAD, CLI, 'serve'], {
    env: {
      ...process.env,
      PORT: '0',
      BATON_LOG_LEVEL: 'warn',
      BATON_STORE: store,
      BATON_SECRET: 'clock-step-service-secret-of-32-characters',
      BATON_REFRESH_GRACE: '1s',
      BATON_SWEEP_INTERVAL: '1s',
      BATON_REFRESH_RATE: 'off',
      BATON_LOGIN_FAILURES: '3/1h',
      WALL_STEP_FILE: join(dir, 'offset'),
    },
  });
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`baton serve did not listen: ${out} ${stderr}`)), 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    child.once('exit', (code) => reject(new Error(`baton serve exited ${code}: ${out} ${stderr}`)));
  });
});

afterAll(async () => {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('baton serve under steps of its wall clock', () => {
  it('a forward-then-back step, with the sweep running, leaves a logged-out access token refused', async () => {
    const pair = await login();
    expect((await fetch(`${url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${pair.access_token}` } })).status).toBe(200);
    expect(await me(pair.access_token)).toBe(401);
    await setWall(2 * HOUR); // past the revocation's lifetime (the access lifetime, the leeway and a minute)
    // The operator is told a step is pending, in the log.
    await me(pair.access_token);
    // The log is written asynchronously: wait for the line rather than read stdout at once.
    await eventually(() => /"event":"clock\.step_pending"/.test(stdout), { what: 'the clock.step_pending log line' });
    await sleep(1500); // a sweep runs
    const other = await login(); // a revocation prunes the in-process view
    expect((await fetch(`${url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${other.access_token}` } })).status).toBe(200);
    await setWall(0);
    expect(await me(pair.access_token)).toBe(401);
  });

  it('a forward step past the refresh lifetime (15 days) logs nobody out', async () => {
    const pair = await login();
    await setWall(15 * 24 * HOUR);
    const res = await refresh(pair.refresh_token);
    expect(res.status).toBe(200);
    const next = (await res.json()) as Pair;
    expect(await me(next.access_token)).toBe(200);
    await sleep(1500); // a sweep runs
    await setWall(0);
    expect((await refresh(next.refresh_token)).status).toBe(200);
  });

  it('a backward step of an hour: access tokens stay valid, and a stolen retired refresh token gets no fresh pair', async () => {
    const bystander = await login();
    const stolen = await login();
    expect((await refresh(stolen.refresh_token)).status).toBe(200);
    await sleep(1500); // past the grace window (1 s)
    await setWall(-HOUR);
    expect.soft(await me(bystander.access_token)).toBe(200); // not "not valid yet"
    const replay = await refresh(stolen.refresh_token);
    // Reuse, the session revoked: outside the grace window on the service's clock, which did not go back.
    expect.soft(replay.status).toBe(400);
    expect.soft(((await replay.json()) as { error?: string }).error).toBe('invalid_grant');
    expect(await me(bystander.access_token)).toBe(200);
    await setWall(0);
  });

  it("a DPoP client that refreshes during a backward step of an hour keeps refreshing and calling: the answers are dated on the service's clock", async () => {
    const client = createTokenClient({ issuer: url, clientId: 'default', storage: memoryStorage() });
    expect((await client.signIn(`${url}/auth/login`, USER)).tokenType).toBe('DPoP');
    await setWall(-HOUR);
    await client.refresh(); // its answer's Date sets the clock of the client's next proofs
    await client.refresh();
    expect((await client.fetch(`${url}/auth/me`)).status).toBe(200);
    await setWall(0);
  });

  it('a forward step past a login block (1 h) does not lift it', async () => {
    const attempt = async () =>
      (
        await fetch(`${url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'intruder', password: 'guess' }),
        })
      ).status;
    expect([await attempt(), await attempt(), await attempt(), await attempt()]).toEqual([401, 401, 429, 429]); // the third failure blocks
    await setWall(2 * HOUR);
    expect(await attempt()).toBe(429);
    await setWall(0);
  });
});
