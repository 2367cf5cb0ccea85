/**
 * Attempts on the issuer check (cluster.ts) with real processes on one SQLite file, default issuers
 * (no BATON_ISSUER), BATON_HEARTBEAT=10s:
 * 1. an instance killed (-9) and started again at once on another port (a crash, then a changed
 *    PORT): expected to start (its old record is of a dead process of this machine);
 * 2. HOST=::1 beside HOST=127.0.0.1 (IPv6 and IPv4 defaults): expected refused (two issuers);
 * 3. a second default issuer whose clock is an hour behind, beside a live first one: expected refused
 *    (the first one is live); the rule "the later one yields" compares `since` on two clocks.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'rt-issuer-'));
const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const PRELOAD = new URL('../../test/support/skewed-clock.mjs', import.meta.url).href;
const children: ChildProcess[] = [];
process.once('exit', () => children.forEach((c) => c.kill('SIGKILL')));
let n = 0;
function serve(env: Record<string, string>, skew = 0): Promise<{ url: string; child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, ['--conditions=baton-source', '--import', PRELOAD, CLI, 'serve'], {
    env: {
      ...process.env,
      PORT: '0',
      BATON_SECRET: 'issuer-test-service-secret-of-32-characters',
      BATON_LOG_LEVEL: 'warn',
      BATON_RUNTIME_FILE: join(dir, `rt-${++n}.json`),
      BATON_TEST_SKEW_MS: String(skew),
      ...env,
    },
  });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearInterval(t);
        resolve({ url: m[1] as string, child, out: () => out });
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(t);
      reject(
        new Error(
          `exited ${code}: ${
            out
              .split('\n')
              .find((l) => /instance/.test(l))
              ?.slice(0, 220) ?? out.slice(0, 220)
          }`,
        ),
      );
    });
  });
}
const outcome = (p: Promise<{ url: string; out: () => string }>) =>
  p.then(
    (s) => `started at ${s.url}${/config.warning.*Another instance/.test(s.out()) ? ' (with a warning naming the other issuer)' : ''}`,
    (e: Error) => `refused: ${e.message}`,
  );

// 1. kill -9, then again at once on another port.
const s1 = `sqlite:${join(dir, 'one.sqlite')}`;
const a = await serve({ BATON_STORE: s1 });
a.child.kill('SIGKILL');
await new Promise((r) => a.child.once('exit', r));
console.info('1. killed, started again at once on another port:', await outcome(serve({ BATON_STORE: s1 })));
// 2. IPv6 beside IPv4.
const s2 = `sqlite:${join(dir, 'two.sqlite')}`;
await serve({ BATON_STORE: s2, HOST: '127.0.0.1' });
console.info('2. HOST=::1 beside HOST=127.0.0.1:', await outcome(serve({ BATON_STORE: s2, HOST: '::1' })));
// 3. a clock an hour behind.
const s3 = `sqlite:${join(dir, 'three.sqlite')}`;
await serve({ BATON_STORE: s3 });
console.info('3. second default issuer, clock 1 h behind:', await outcome(serve({ BATON_STORE: s3 }, -3_600_000)));
console.info('   control, same clock:', await outcome(serve({ BATON_STORE: s3 })));
process.exit(0);
