/**
 * The instance registry (server/cluster.ts) between machines whose clocks disagree. A registration
 * says when it lapses on its writer's clock; an instance whose clock is a few seconds ahead took a
 * live instance without DPoP for gone, deleted its registration and turned DPoP on for good beside
 * it (the old instance then refuses every session the others bind). Red team rt-page,
 * redteam/upgrade/skew.ts: with BATON_HEARTBEAT=1s, 2.5 s of skew was enough.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from 'baton-auth-server';
import { eventually } from '../support/eventually.ts';

const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const SKEWED = new URL('../support/skewed-clock.mjs', import.meta.url).href;
let dir: string;
const children: ChildProcess[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'baton-skew-'));
});
afterAll(async () => {
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : (c.once('exit', r), c.kill('SIGKILL'))))));
  rmSync(dir, { recursive: true, force: true });
});

/** `baton serve` with its wall clock `skewMs` off; resolves with its URL and what it logged, once it listens. */
function serve(env: Record<string, string>, skewMs: number): Promise<{ url: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', SKEWED, CLI, 'serve'], {
    env: {
      ...process.env,
      PORT: '0',
      BATON_LOG_LEVEL: 'info',
      BATON_RUNTIME_FILE: join(dir, `runtime-${children.length}.json`),
      BATON_TEST_SKEW_MS: String(skewMs),
      ...env,
    },
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) resolve({ url: m[1] as string, output: () => output });
    });
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${output}`)));
  });
}

describe('the instance registry with clocks that disagree', () => {
  it('an instance whose clock is 3.5 s ahead keeps DPoP held back while an instance without DPoP renews its registration', async () => {
    const db = join(dir, 'skew.sqlite');
    const env = {
      BATON_STORE: `sqlite:${db}`,
      BATON_SECRET: 'skew-test-service-secret-of-32-characters',
      BATON_ISSUER: 'http://localhost:3000',
      BATON_HEARTBEAT: '1s',
    };
    const old = await serve({ ...env, BATON_DPOP: 'off' }, 0);
    const fresh = await serve(env, 3_500);
    // Five heartbeats: the old instance renews at each; it is alive all along.
    await new Promise((r) => setTimeout(r, 5_000));
    const meta = (await (await fetch(`${fresh.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    const d = new DatabaseSync(db, { readOnly: true });
    const on = d.prepare("SELECT count(*) AS n FROM baton_records WHERE kind = 'cluster'").get() as { n: number };
    d.close();
    expect(
      meta,
      `the new instance logged: ${fresh
        .output()
        .match(/"event":"dpop\.[a-z_]+"/g)
        ?.join(', ')}`,
    ).not.toHaveProperty('dpop_signing_alg_values_supported');
    expect(Number(on.n)).toBe(0);
    expect(old.output()).not.toContain('dpop.on_elsewhere');
  }, 30_000);
});

describe('the instance registry keeps no record of an instance long gone', () => {
  it('a registration of an instance of another machine that stopped renewing is deleted within a few heartbeats, DPoP on or not', async () => {
    const db = join(dir, 'sweep.sqlite');
    const env = {
      BATON_STORE: `sqlite:${db}`,
      BATON_SECRET: 'skew-test-service-secret-of-32-characters',
      BATON_ISSUER: 'http://localhost:3000',
      BATON_HEARTBEAT: '1s',
    };
    const [on, off] = [await serve(env, 0), await serve({ ...env, BATON_STORE: `sqlite:${join(dir, 'sweep-off.sqlite')}`, BATON_DPOP: 'off' }, 0)];
    expect('dpop_signing_alg_values_supported' in ((await (await fetch(`${on.url}/.well-known/oauth-authorization-server`)).json()) as object)).toBe(true);
    // Crashed elsewhere after these started: 20 registrations each, lapsing a second from now and never renewed.
    for (const file of ['sweep.sqlite', 'sweep-off.sqlite']) {
      const store = await openStore(`sqlite:${join(dir, file)}`);
      for (let i = 0; i < 20; i++) {
        await store.putRecord(
          'instance',
          `elsewhere-${i}:1:00`,
          JSON.stringify({
            issuer: 'http://localhost:3000',
            issuerSet: true,
            dpop: true,
            host: `elsewhere-${i}`,
            pid: 1,
            since: Date.now(),
            expiresAt: Date.now() + 1_000,
            heartbeatMs: 1_000,
          }),
        );
      }
      await store.close();
    }
    const count = (file: string) => {
      const d = new DatabaseSync(join(dir, file), { readOnly: true });
      const n = Number((d.prepare("SELECT count(*) AS n FROM baton_records WHERE kind = 'instance'").get() as { n: number }).n);
      d.close();
      return n;
    };
    expect([count('sweep.sqlite'), count('sweep-off.sqlite')]).toEqual([21, 21]);
    await eventually(() => count('sweep.sqlite') === 1 && count('sweep-off.sqlite') === 1, {
      timeoutMs: 10_000,
      what: 'the lapsed registrations deleted',
    }).catch((err: unknown) => {
      throw new Error(
        `registrations left after 10 s: ${count('sweep.sqlite')} beside the DPoP instance, ${count('sweep-off.sqlite')} beside the BATON_DPOP=off one (${off.url})`,
        { cause: err },
      );
    });
  }, 30_000);
});
