/**
 * Starts the standalone service as its own process (`baton serve`, PORT=0) and resolves once it
 * listens. Used by the load script and the tests of several instances.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

const CLI = new URL('../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;

export interface Instance {
  url: string;
  child: ChildProcess;
}

export function startInstance(env: Record<string, string | undefined>): Promise<Instance> {
  const child = spawn(process.execPath, [CLI, 'serve'], { env: { ...process.env, PORT: '0', BATON_LOG_LEVEL: 'silent', ...env } });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1] as string, child });
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`instance exited ${code}: ${out}`)));
  });
}
