/**
 * `npm run bench -- --only workers`: `baton serve` on the embedded SQLite file with 1 and with 2
 * workers (BATON_WORKERS), in the same run: the refresh grant, `GET /auth/me`, and a mix (one
 * refresh, then four `/auth/me` with the new access token). The service runs as a child process,
 * the load from another (`load-client.ts`); loopback only, bounded by duration; interleaved
 * rounds, medians.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, users } from 'baton-auth-server';
import { table } from './harness.ts';

const CLI = new URL('../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const LOAD = new URL('./load-client.ts', import.meta.url).pathname;
const CONNECTIONS = 32;
// One user per connection: a user's logins are limited (30 a minute).
const USERS = Array.from({ length: CONNECTIONS }, (_, i) => ({ username: `bench-${i}`, password: `bench password ${i}` }));
const MODES = ['refresh', 'me', 'mix'] as const;
type Mode = (typeof MODES)[number];

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  firstError?: string;
}

function load(input: object): Promise<Load> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOAD], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`load client exited ${code}`));
      const result = JSON.parse(out) as Load;
      // A refused request is fast: a run with errors measures the refusal, not the grant.
      if (result.errors > 0)
        return reject(new Error(`${JSON.stringify(input).slice(0, 80)}: ${result.errors} failed requests (${result.firstError}); the run measures nothing`));
      resolve(result);
    });
    child.stdin.end(JSON.stringify(input));
  });
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

/** `baton serve` with `workers` on a fresh SQLite file; each mode measured for `seconds`. */
async function serve(workers: number, seconds: number): Promise<Record<Mode, Load>> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-workers-'));
  const env = {
    ...process.env,
    PORT: String(await freePort()),
    BATON_WORKERS: String(workers),
    BATON_STORE: `sqlite:${join(dir, 'baton.sqlite')}`,
    BATON_SECRET: 'bench-workers-service-secret-of-32-chars',
    BATON_RUNTIME_FILE: join(dir, 'runtime.json'),
    BATON_COOKIE_SECURE: 'false',
    BATON_LOG_LEVEL: process.env.BENCH_LOG ?? 'silent',
    BATON_REFRESH_RATE: 'off',
    BATON_MAX_SESSIONS: '200',
    BATON_LOGIN_FAILURES: 'off',
    BATON_LOGIN_FAILURES_PER_IP: 'off',
  };
  const setup = await openStore(env.BATON_STORE);
  for (const u of USERS) await users.add(setup, u.username, u.password);
  await setup.close();
  const child: ChildProcess = spawn(process.execPath, ['--conditions=baton-source', CLI, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (process.env.BENCH_LOG) child.stdout?.pipe(process.stderr);
  let err = '';
  child.stderr?.on('data', (d) => (err += d));
  try {
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('baton serve did not start within 30 s')), 30_000);
      child.stdout?.on('data', () => {
        const found = /Baton listening on (\S+)/.exec(out)?.[1];
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        }
      });
      child.once('exit', (code) => reject(new Error(`baton serve exited ${code}: ${err}`)));
    });
    const login = async (user: (typeof USERS)[number]) => {
      const res = await fetch(`${url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(user) });
      if (res.status !== 200) throw new Error(`login failed with ${res.status}: ${await res.text()}`);
      return res.json() as Promise<{ access_token: string; refresh_token: string }>;
    };
    const result = {} as Record<Mode, Load>;
    for (const mode of MODES) {
      const pairs = await Promise.all(USERS.map(login));
      result[mode] = await load({
        workers,
        url: `${url}/oauth/token`,
        mode,
        seconds,
        clientId: 'default',
        tokens: pairs.map((p) => (mode === 'me' ? p.access_token : p.refresh_token)),
        access: pairs.map((p) => p.access_token),
      });
    }
    return result;
  } finally {
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 1 and 2 workers, `rounds` interleaved rounds, the median of each measure. */
export async function benchWorkers(seconds = 4, rounds = 3): Promise<string> {
  const runs: Record<number, Record<Mode, Load>[]> = { 1: [], 2: [] };
  for (let r = 0; r < rounds; r++) for (const n of [1, 2]) runs[n]?.push(await serve(n, seconds));
  const median = (n: number, mode: Mode): Load => [...(runs[n] ?? [])].map((run) => run[mode]).sort((a, b) => a.rps - b.rps)[Math.floor(rounds / 2)] as Load;
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const label: Record<Mode, string> = { refresh: 'refresh grant', me: 'GET /auth/me', mix: 'mix: 1 refresh + 4 /auth/me (requests/s)' };
  const rows = MODES.map((mode) => {
    const [one, two] = [median(1, mode), median(2, mode)];
    return [
      label[mode],
      fmt(one.rps),
      fmt(two.rps),
      `${(two.rps / one.rps).toFixed(2)}×`,
      `${one.p50.toFixed(1)} / ${two.p50.toFixed(1)}`,
      `${one.p99.toFixed(1)} / ${two.p99.toFixed(1)}`,
    ];
  });
  return `${table(['SQLite (default store), 32 connections, loopback', '1 worker req/s', '2 workers req/s', '2 ÷ 1', 'p50 ms (1 / 2)', 'p99 ms (1 / 2)'], rows)}

This machine: ${rounds} interleaved rounds of ${seconds} s per measure, medians; the 2 cores are shared by the workers, the primary, the load client and whatever else runs.`;
}
