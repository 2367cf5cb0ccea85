/**
 * examples/next as a user runs it: `next build`, then `next start` on a free loopback port, each a
 * child process killed when the test file ends. The build goes to a folder of its own
 * (`NEXT_DIST_DIR`), so that it never replaces the build of an app someone is running.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, rmdirSync, rmSync } from 'node:fs';
import { afterAll } from 'vitest';
import { freePort } from './ports.ts';

const APP = new URL('../../examples/next/', import.meta.url).pathname;
const NEXT = new URL('../../node_modules/next/dist/bin/next', import.meta.url).pathname;

/** An empty `cache` folder `next start` leaves in the app's folder (not in the build's): removed after the run when it was not there before. */
const CACHE = new URL('cache', `file://${APP}`);
const hadCache = existsSync(CACHE);

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** The environment of the app's processes: no telemetry (nothing but loopback), the packages' builds as a user gets them. */
function appEnv(distDir: string, env: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, NODE_OPTIONS: '', NEXT_TELEMETRY_DISABLED: '1', NEXT_DIST_DIR: distDir, ...env };
}

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
  ready?: RegExp,
): { child: ChildProcess; output: () => string; done: Promise<number | null>; up: Promise<void> } {
  const child = spawn(process.execPath, [NEXT, ...args], { cwd: APP, env });
  children.add(child);
  let out = '';
  const done = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const up = new Promise<void>((resolve, reject) => {
    const seen = () => ready?.test(out) && resolve();
    child.stdout?.on('data', (d) => ((out += d), seen()));
    child.stderr?.on('data', (d) => ((out += d), seen()));
    void done.then((code) => reject(new Error(`next ${args[0]} exited ${code}: ${out.slice(-2000)}`)));
  });
  up.catch(() => undefined);
  return { child, output: () => out, done, up };
}

/** `next build` into examples/next/<distDir>; throws with its output if it fails. */
export async function buildNextApp(distDir: string): Promise<void> {
  const build = run(['build'], appEnv(distDir, {}));
  const code = await build.done;
  children.delete(build.child);
  if (code !== 0) throw new Error(`next build exited ${code}: ${build.output().slice(-4000)}`);
}

export interface NextApp {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** `next start` of the build in `distDir` on a free loopback port, with `env` (BATON_ISSUER, the client's secret). */
export async function startNextApp(distDir: string, env: Record<string, string>): Promise<NextApp> {
  const port = await freePort();
  const app = run(['start', '--hostname', '127.0.0.1', '--port', String(port)], appEnv(distDir, { ...env, PORT: String(port) }), /Ready in/);
  await app.up;
  return {
    url: `http://127.0.0.1:${port}`,
    output: app.output,
    stop: async () => {
      if (app.child.exitCode === null) app.child.kill('SIGTERM');
      await app.done;
      children.delete(app.child);
    },
  };
}

/** Deletes the build folder (and the empty `cache` folder the run left). */
export function removeNextBuild(distDir: string): void {
  rmSync(new URL(distDir, `file://${APP}`), { recursive: true, force: true });
  if (!hadCache && existsSync(CACHE)) {
    try {
      rmdirSync(CACHE); // only when empty
    } catch {
      // something was put in it: not ours to delete
    }
  }
}
