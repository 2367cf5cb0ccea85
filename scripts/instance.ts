/**
 * Starts the standalone service as its own process (`baton serve`, PORT=0) and resolves once it
 * listens. Used by the load script and the tests of several instances. An instance that does not
 * listen within `timeoutMs` is killed, and every instance dies with the process that started it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

const CLI = new URL('../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;

export interface Instance {
  url: string;
  child: ChildProcess;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export function startInstance(env: Record<string, string | undefined>, timeoutMs = 20_000): Promise<Instance> {
  const child = spawn(process.execPath, [CLI, 'serve'], { env: { ...process.env, PORT: '0', BATON_LOG_LEVEL: 'silent', ...env } });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`instance did not listen within ${timeoutMs} ms: ${out}`));
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1] as string, child });
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`instance exited ${code}: ${out}`));
    });
  });
}

/** Stops an instance and waits for it to exit. */
export async function stopInstance(instance: Instance): Promise<void> {
  if (instance.child.exitCode !== null || instance.child.signalCode !== null) return;
  const exited = new Promise((r) => instance.child.once('exit', r));
  instance.child.kill('SIGTERM');
  await exited;
}

/** Starts `count` instances; if one fails, the others are stopped before the error is thrown. */
export async function startInstances(count: number, env: Record<string, string | undefined>): Promise<Instance[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startInstance(env)));
  const failed = started.find((s) => s.status === 'rejected');
  const ok = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  if (failed) {
    await Promise.all(ok.map(stopInstance));
    throw failed.reason;
  }
  return ok;
}
