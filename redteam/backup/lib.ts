/** Shared by the scripts here: `baton` commands and `baton serve` as child processes on a folder of their own. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
export const root = mkdtempSync(join(tmpdir(), 'rt-ops-'));
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export const envOf = (dir: string, extra: Record<string, string> = {}): Record<string, string> => ({
  BATON_STORE: `sqlite:${join(dir, 'baton.sqlite')}`,
  BATON_RUNTIME_FILE: join(dir, 'baton-service.json'),
  BATON_COOKIE_SECURE: 'false',
  BATON_LOG_LEVEL: 'silent',
  BATON_REFRESH_RATE: 'off',
  BATON_ISSUER: 'http://127.0.0.1:3999',
  ...extra,
});

let n = 0;
export function caseDir(): string {
  const dir = join(root, `case-${++n}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

export function baton(args: string[], env: Record<string, string>, input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

export async function serve(
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void>; output: () => string }> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env } });
  children.add(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  return {
    url,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      children.delete(child);
    },
  };
}

export interface Pair {
  access_token: string;
  refresh_token: string;
  session_id: string;
}
export async function login(url: string, username: string): Promise<Pair> {
  const res = await fetch(`${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: `${username} password 1` }),
  });
  if (res.status !== 200) throw new Error(`login ${res.status} ${await res.text()}`);
  return res.json() as Promise<Pair>;
}
export const refresh = (url: string, token: string): Promise<Response> =>
  fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
  });
export const me = (url: string, access: string): Promise<number> =>
  fetch(`${url}/auth/me`, { headers: { authorization: `Bearer ${access}` } }).then((r) => r.status);
export const logout = (url: string, p: Pair): Promise<number> =>
  fetch(`${url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${p.access_token}` } }).then((r) => r.status);
