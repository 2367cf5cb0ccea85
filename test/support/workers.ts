/**
 * `baton serve` with BATON_WORKERS, as a child process, and HTTP connections pinned to one worker
 * each: a keep-alive connection stays with the worker the primary handed it to, and `/healthz`
 * on it says which worker that is.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually.ts';

/** The service secret of the workers a test starts (a Redis is set up with it first: `initStore`). */
export const SECRET = 'workers-test-service-secret-of-32-chars';

const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
export const USER = { username: 'tester', password: 'tester password 1' };
export const METRICS_TOKEN = 'workers-test-metrics-token-of-32-characters';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: <T = Record<string, unknown>>() => T;
}

/** One HTTP request on `agent` (or on a fresh connection, closed after it, when none). */
export function call(
  url: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; agent?: Agent | undefined; timeoutMs?: number } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      {
        method: init.method ?? 'GET',
        headers: { ...(init.agent ? {} : { connection: 'close' }), ...init.headers },
        agent: init.agent ?? false,
        timeout: init.timeoutMs ?? 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body) as T }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${path} timed out`)));
    req.on('error', reject);
    req.end(init.body);
  });
}

export interface Workers {
  url: string;
  dir: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** One keep-alive connection pinned to each worker, by worker id. */
  pinned(): Promise<Map<number, Agent>>;
  login(agent?: Agent | undefined): Promise<{ access_token: string; refresh_token: string; session_id: string }>;
  me(access: string, agent?: Agent | undefined): Promise<number>;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
}

/** Which worker a connection reaches. */
export async function workerOf(url: string, agent: Agent): Promise<number> {
  return (await call(url, '/healthz', { agent })).json<{ worker: number }>().worker;
}

/** Starts `baton serve` with `env` (BATON_WORKERS among it) on a fresh SQLite file unless BATON_STORE is given, with the user USER (`withUser`). */
export async function startWorkers(env: Record<string, string>, withUser = true): Promise<Workers> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-workers-'));
  const full: Record<string, string> = {
    ...(process.env as Record<string, string>),
    BATON_STORE: `sqlite:${join(dir, 'baton.sqlite')}`,
    BATON_SECRET: SECRET,
    BATON_RUNTIME_FILE: join(dir, 'runtime.json'),
    BATON_COOKIE_SECURE: 'false',
    BATON_LOG_LEVEL: 'info',
    BATON_LOGIN_FAILURES: 'off',
    BATON_LOGIN_FAILURES_PER_IP: 'off',
    BATON_REFRESH_RATE: 'off',
    PORT: '0',
    ...env,
  };
  const add = !withUser
    ? undefined
    : spawnSync(process.execPath, [CLI, 'users', 'add', USER.username, '--password-stdin'], { env: full, input: `${USER.password}\n`, encoding: 'utf8' });
  if (add !== undefined && add.status !== 0) throw new Error(`users add failed: ${add.stderr}`);
  const child = spawn(process.execPath, [CLI, 'serve'], { env: full });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (err += d));
  const url = await eventually(
    () => {
      if (child.exitCode !== null) throw new Error(`baton serve exited ${child.exitCode}: ${err}`);
      return /Baton listening on (\S+)/.exec(out)?.[1];
    },
    { timeoutMs: 30_000, intervalMs: 50, what: 'baton serve with workers to listen' },
  );
  const workers: Workers = {
    url,
    dir,
    child,
    stdout: () => out,
    stderr: () => err,
    async pinned() {
      const agents = new Map<number, Agent>();
      const n = Number(full.BATON_WORKERS ?? 1);
      for (let i = 0; i < 8 * n && agents.size < n; i++) {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        const id = await workerOf(url, agent);
        if (agents.has(id)) agent.destroy();
        else agents.set(id, agent);
      }
      if (agents.size < n) throw new Error(`reached ${agents.size} of ${n} workers`);
      return agents;
    },
    async login(agent) {
      const res = await call(url, '/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(USER),
        ...(agent ? { agent } : {}),
      });
      if (res.status !== 200) throw new Error(`login failed with ${res.status}: ${res.body}`);
      return res.json();
    },
    async me(access, agent) {
      return (await call(url, '/auth/me', { headers: { authorization: `Bearer ${access}` }, ...(agent ? { agent } : {}) })).status;
    },
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.once('exit', (code) => {
          clearTimeout(kill);
          rmSync(dir, { recursive: true, force: true });
          resolve(code);
        });
        child.kill('SIGTERM');
      });
    },
  };
  return workers;
}
