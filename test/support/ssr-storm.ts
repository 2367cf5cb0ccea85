/**
 * What the server-rendering storms share (issue #24), whatever the framework: the standalone
 * service as a user runs it (`baton serve` in a child process, a SQLite file in a private folder,
 * a free port, the access-token lifetime asked for), its users, what it counts (its Prometheus
 * metrics and each session's history, read through the `baton` command), and an app server
 * started as a child process on a free loopback port. Everything started is stopped by `stop()`,
 * and killed when the file ends if a test did not get there.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { baton, serve } from './baton-cli.ts';
import { eventually } from './eventually.ts';
import { freePort } from './ports.ts';

const METRICS_TOKEN = 'ssr-storm-metrics-token-0123456789abcdef';
/** The introspection client's secret: with it an app follows the service's revocation feed. */
export const INTROSPECTION_SECRET = 'ssr-storm-introspection-secret-0123456789';

/** What the service counted of refresh grants (`baton_refreshes_total` by outcome) and logins. */
export interface ServiceCounts {
  rotated: number;
  grace: number;
  reused: number;
  /** Refresh grants refused with `invalid_grant` (or `invalid_client`). */
  invalid: number;
  rateLimited: number;
  logins: number;
}

/** One session's line of history: when it began, how many times it rotated, whether it ended and why. */
export interface SessionLine {
  sessionId: string;
  createdAt: number;
  rotations: number;
  grace: number;
  reused: boolean;
  ended: string | null;
}

export interface StormService {
  url: string;
  /** The environment the `baton` command needs to reach the service's store. */
  env: Record<string, string>;
  counts(): Promise<ServiceCounts>;
  /** The sessions of `user`, from `baton sessions history`. */
  history(user: string): Promise<SessionLine[]>;
  /** `baton sessions revoke --user <user>` (reason `admin`). */
  revokeUser(user: string): Promise<void>;
  stop(): Promise<void>;
}

/** A metric's value by its `outcome` label, 0 when the service has not counted it yet. */
function metric(text: string, name: string, outcome: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`outcome="${outcome}"`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Parses `baton sessions history`'s lines (`at  type  session  client  detail  user-agent`) into one line per session. */
function sessionsOf(stdout: string): SessionLine[] {
  const byId = new Map<string, SessionLine>();
  for (const row of stdout.split('\n')) {
    const [at, type, sessionId, , detail = ''] = row.split('\t');
    if (sessionId === undefined || at === undefined) continue;
    const line = byId.get(sessionId) ?? { sessionId, createdAt: Number.NaN, rotations: 0, grace: 0, reused: false, ended: null };
    const count = Number(/×(\d+)/.exec(detail)?.[1] ?? 0);
    if (type === 'session.created') line.createdAt = Date.parse(at);
    else if (type === 'refresh.rotated') line.rotations = count;
    else if (type === 'refresh.grace') line.grace = count;
    else if (type === 'refresh.reused') line.reused = true;
    else if (type?.startsWith('session.')) line.ended = detail.split(' ')[0] ?? '';
    byId.set(sessionId, line);
  }
  return [...byId.values()];
}

/**
 * `baton serve` on a free loopback port with a SQLite store in a private folder, access tokens of
 * `accessTtl`, metrics on, the introspection client registered, and `users` added.
 */
export async function startStormService(options: { accessTtl: string; users: Array<{ name: string; password: string }> }): Promise<StormService> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-ssr-storm-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    PORT: String(port),
    BATON_ISSUER: url,
    BATON_STORE: `sqlite:${join(dir, 'baton.sqlite')}`,
    BATON_RUNTIME_FILE: join(dir, 'service.json'),
    BATON_ACCESS_TTL: options.accessTtl,
    BATON_METRICS_TOKEN: METRICS_TOKEN,
    BATON_INTROSPECTION_SECRET: INTROSPECTION_SECRET,
    BATON_COOKIE_SECURE: 'false',
    BATON_LOG_LEVEL: 'warn',
  };
  const service = await serve(env);
  for (const user of options.users) {
    const added = await baton(['users', 'add', user.name, '--password-stdin'], env, user.password);
    if (added.code !== 0) throw new Error(`baton users add ${user.name}: ${added.stderr}`);
  }
  return {
    url,
    env,
    async counts() {
      const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
      const refreshes = (outcome: string) => metric(text, 'baton_refreshes_total', outcome);
      return {
        rotated: refreshes('rotated'),
        grace: refreshes('grace'),
        reused: refreshes('reused'),
        invalid: refreshes('invalid'),
        rateLimited: refreshes('rate_limited'),
        logins: metric(text, 'baton_logins_total', 'ok'),
      };
    },
    async history(user) {
      const run = await baton(['sessions', 'history', user], env);
      if (run.code !== 0) throw new Error(`baton sessions history ${user}: ${run.stderr}`);
      return sessionsOf(run.stdout);
    },
    async revokeUser(user) {
      const run = await baton(['sessions', 'revoke', '--user', user], env);
      if (run.code !== 0) throw new Error(`baton sessions revoke --user ${user}: ${run.stderr}`);
    },
    async stop() {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const apps = new Set<ChildProcess>();
afterAll(() => {
  for (const app of apps) app.kill('SIGKILL');
});

/** Runs `command` to its end in `cwd` (a build): its output if it fails. */
export function run(command: string[], cwd: string, env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = command as [string, ...string[]];
    const child = spawn(file, args, { cwd, env: { ...process.env, ...env } });
    apps.add(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => {
      apps.delete(child);
      if (code === 0) resolve();
      else reject(new Error(`${command.join(' ')} exited ${code}:\n${out.slice(-4000)}`));
    });
  });
}

/** An app server (`command` in `cwd`) on `port` (default a free one) on loopback, once `GET {readyPath}` answers. */
export async function startApp(
  command: string[],
  cwd: string,
  env: Record<string, string>,
  readyPath = '/',
  port?: number,
): Promise<{ url: string; output: () => string; stop: () => Promise<void> }> {
  port ??= await freePort();
  const url = `http://127.0.0.1:${port}`;
  const [file, ...args] = command as [string, ...string[]];
  const child = spawn(file, args, { cwd, env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' } });
  apps.add(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`the app exited ${child.exitCode}:\n${out}`);
      return (await fetch(`${url}${readyPath}`).catch(() => undefined))?.status === 200;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  return {
    url,
    output: () => out,
    // SIGTERM (a server that drains its connections), and SIGKILL if it is still there after 5 s.
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
      apps.delete(child);
    },
  };
}
