/**
 * Attempt: clock skew between instances (ATTACKS.md §2: ±3 s). On one SQLite file, an old
 * instance (BATON_DPOP=off) with a true clock and a new one (auto) whose clock is BATON_TEST_SKEW_MS ahead,
 * both with BATON_HEARTBEAT=1s (the smallest allowed; a lapse is three heartbeats, 3 s). Expected:
 * DPoP stays held back while the old instance lives and renews its registration, whatever the
 * clocks say. Printed: the new instance's metadata (DPoP advertised or not), the instance rows, and
 * the old instance's log (dpop.on_elsewhere: it now refuses the sessions the new one binds).
 * Usage: npx node --conditions=baton-source redteam/upgrade/skew.ts [skewMs] [heartbeat]
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

const SKEW = Number(process.argv[2] ?? 3500);
const HEARTBEAT = process.argv[3] ?? '1s';
const dir = mkdtempSync(join(tmpdir(), 'rt-skew-'));
const STORE = `sqlite:${join(dir, 'baton.sqlite')}`;
const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const PRELOAD = new URL('../../test/support/skewed-clock.mjs', import.meta.url).href;
const children: ChildProcess[] = [];
process.once('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function serve(env: Record<string, string>, skew: number): Promise<{ url: string; log: () => string }> {
  const child = spawn(process.execPath, ['--conditions=baton-source', '--import', PRELOAD, CLI, 'serve'], {
    env: {
      ...process.env,
      PORT: '0',
      BATON_STORE: STORE,
      BATON_ISSUER: 'http://127.0.0.1:1',
      BATON_SECRET: 'skew-test-service-secret-of-32-characters!',
      BATON_LOG_LEVEL: 'info',
      BATON_HEARTBEAT: HEARTBEAT,
      BATON_RUNTIME_FILE: join(dir, `rt-${children.length}.json`),
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
        resolve({ url: m[1] as string, log: () => out });
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(t);
      reject(new Error(`exited ${code}: ${out}`));
    });
  });
}
const rows = () => {
  const d = new DatabaseSync(join(dir, 'baton.sqlite'), { readOnly: true });
  const r = d
    .prepare("SELECT kind, key FROM baton_records WHERE kind IN ('instance', 'cluster')")
    .all()
    .map((x) => `${x.kind}:${String(x.key).split(':').slice(1, 2)}`);
  d.close();
  return r;
};
const old = await serve({ BATON_DPOP: 'off' }, 0);
const fresh = await serve({ BATON_DPOP: 'auto' }, SKEW);
const dpopOn = async () =>
  'dpop_signing_alg_values_supported' in ((await (await fetch(`${fresh.url}/.well-known/oauth-authorization-server`)).json()) as object);
console.info(`clock skew ${SKEW} ms, heartbeat ${HEARTBEAT}; at start: DPoP advertised by the new instance: ${await dpopOn()}; rows ${JSON.stringify(rows())}`);
for (let s = 0; s < 8; s++) {
  await new Promise((r) => setTimeout(r, 1000));
  console.info(`t+${s + 1}s: DPoP advertised: ${await dpopOn()}; rows ${JSON.stringify(rows())}`);
}
const events = (log: string) => [...log.matchAll(/"event":"(dpop\.[a-z_]+|cluster\.[a-z_]+)"/g)].map((m) => m[1]);
console.info("old instance's events:", JSON.stringify(events(old.log())));
console.info("new instance's events:", JSON.stringify(events(fresh.log())));
process.exit(0);
