/**
 * What the request log costs: `baton serve` with BATON_LOG_LEVEL=info (a JSON line per request)
 * against warn (none), each its own process writing its log to a file, `GET /auth/me` with a
 * Bearer token under autocannon (32 connections, loopback). Each round measures both back to back;
 * the median of the rounds' ratios is kept, and each is printed (a busy machine shows in their spread).
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openStore, users } from 'baton-auth-server';
import { fmt, table } from './harness.ts';

const run = promisify(execFile);
const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
const CLI = new URL('../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;

interface Serve {
  level: string;
  url: string;
  log: string;
  child: ChildProcess;
  token: string;
}

const USER = { username: 'bench', password: 'bench password 1' };

async function serve(dir: string, level: string): Promise<Serve> {
  const store = `sqlite:${join(dir, `${level}.sqlite`)}`;
  const setup = await openStore(store);
  await users.add(setup, USER.username, USER.password);
  await setup.close();
  const log = join(dir, `${level}.log`);
  const out = openSync(log, 'a');
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: {
      ...process.env,
      PORT: '0',
      BATON_STORE: store,
      BATON_SECRET: 'bench-logging-service-secret-of-32-characters',
      BATON_LOG_LEVEL: level,
      BATON_REFRESH_RATE: 'off',
      BATON_RUNTIME_FILE: join(dir, `${level}.json`),
    },
    stdio: ['ignore', out, out],
  });
  let url: string | undefined;
  for (let i = 0; i < 200 && url === undefined; i++) {
    await new Promise((r) => setTimeout(r, 100));
    url = /listening on (http:\/\/\S+)/.exec(readFileSync(log, 'utf8'))?.[1];
  }
  if (url === undefined) throw new Error(`baton serve (${level}) did not start: ${readFileSync(log, 'utf8')}`);
  const login = await fetch(`${url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(USER) });
  return { level, url, log, child, token: ((await login.json()) as { access_token: string }).access_token };
}

/** Requests per second of `GET /auth/me` for `seconds`. */
async function rate(s: Serve, seconds: number): Promise<number> {
  const { stdout } = await run(
    process.execPath,
    [AUTOCANNON, '-c', '32', '-d', String(seconds), '-j', '-H', `authorization=Bearer ${s.token}`, `${s.url}/auth/me`],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const result = JSON.parse(stdout) as { requests: { average: number }; non2xx: number };
  if (result.non2xx > 0) throw new Error(`${s.level}: ${result.non2xx} answers were not 2xx`);
  return result.requests.average;
}

export async function benchLogging(seconds: number, rounds: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-log-'));
  const servers: Serve[] = [];
  try {
    for (const level of ['info', 'warn']) servers.push(await serve(dir, level));
    const seen: Record<string, number[]> = { info: [], warn: [] };
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Both levels back to back, in alternating order: a round's ratio shares that moment's load.
      for (const s of r % 2 === 0 ? servers : [...servers].reverse()) seen[s.level]?.push(await rate(s, seconds));
      ratios.push((seen.info?.[r] as number) / (seen.warn?.[r] as number));
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const requests = (seen.info ?? []).reduce((a, b) => a + b * seconds, 0);
    const bytes = statSync(join(dir, 'info.log')).size;
    return table(
      ['BATON_LOG_LEVEL', 'GET /auth/me req/s (median)', 'vs warn (median of rounds)', 'rounds (info/warn)'],
      [
        ['warn (no request lines)', fmt(median(seen.warn ?? [])), '1.00', ''],
        [
          `info (a JSON line per request, ~${fmt(bytes / Math.max(1, requests))} bytes)`,
          fmt(median(seen.info ?? [])),
          median(ratios).toFixed(2),
          ratios.map((x) => x.toFixed(2)).join(' '),
        ],
      ],
    );
  } finally {
    for (const s of servers) s.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}
