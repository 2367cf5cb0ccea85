/**
 * What an operator watches and sets: /healthz, /readyz (with the reason when not ready),
 * Prometheus metrics behind a bearer token or on their own port, BATON_ALLOWED_ORIGINS, and the
 * warning for a Redis that keeps nothing across a restart.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { initStore, loadConfig, startServer, users } from 'baton-auth-server';
import { startingAnswer } from '../../packages/baton-auth-server/src/server/ops.ts';
import { startRedis } from '../support/redis-servers.ts';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import { eventually } from '../support/eventually.ts';

const CLI = fileURLToPath(new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url));

type Started = Awaited<ReturnType<typeof startServer>>;
const started: Started[] = [];
afterAll(async () => {
  for (const s of started) await s.stop();
});
async function service(env: Record<string, string>): Promise<Started> {
  const config = loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent', ...env });
  if (config.store.startsWith('redis')) await initStore(config); // a new Redis is set up on purpose, once
  const s = await startServer(config);
  started.push(s);
  await users.add(s.service.store, 'ops', 'ops password 1').catch(() => undefined);
  return s;
}
const login = (url: string, password = 'ops password 1', headers: Record<string, string> = {}) =>
  fetch(`${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ username: 'ops', password }),
  });

describe('health', () => {
  it('/healthz answers while the process lives; /readyz says ready, with each check', async () => {
    const s = await service({});
    const health = await fetch(`${s.url}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
    const ready = await fetch(`${s.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { store: 'ok', storage: 'ok', keys: 'ok', revocations: 'ok' } });
    // While it starts: alive, not ready, and nothing else served.
    expect(startingAnswer('/healthz').status).toBe(200);
    expect(startingAnswer('/readyz')).toEqual({ status: 503, body: '{"status":"unready","reason":"starting"}' });
    expect(startingAnswer('/oauth/token').status).toBe(503);
  });

  it('/readyz is 503 with the reason while Redis is down, and ready again once it is back', async () => {
    const redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']); // back with its data (a restart without it is lost-store.test.ts's)
    try {
      const s = await service({ BATON_STORE: redis.url, BATON_SECRET: randomBytes(32).toString('base64url') });
      expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
      await redis.kill();
      const down = await fetch(`${s.url}/readyz`);
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('1');
      const body = (await down.json()) as { status: string; reason: string; checks: Record<string, string> };
      expect(body.status).toBe('unready');
      expect(body.reason).toMatch(/^store: unreachable/);
      expect(body.checks.revocations).toMatch(/^not subscribed/);
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200); // alive all along
      await redis.restart();
      await eventually(async () => (await fetch(`${s.url}/readyz`)).status === 200, { what: 'ready again', timeoutMs: 15_000 });
    } finally {
      await redis.stop();
    }
  }, 40_000);
});

describe('metrics', () => {
  const token = randomBytes(24).toString('base64url');

  it('need the bearer token, and count logins, refreshes, verifications and store calls', async () => {
    const s = await service({ BATON_METRICS_TOKEN: token });
    expect((await fetch(`${s.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401);
    const pair = (await (await login(s.url)).json()) as { access_token: string; refresh_token: string };
    expect((await login(s.url, 'wrong password')).status).toBe(401);
    // Another site's form post is refused before any password is checked: no failed login for an alert to fire on.
    expect(
      (
        await fetch(`${s.url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
          body: 'username=ops&password=guess',
        })
      ).status,
    ).toBe(403);
    await fetch(`${s.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }),
    });
    await fetch(`${s.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'rt_forged.0.AAAA' }),
    });
    // A DPoP sign-in (its nonce round first) and a signed-out page's refresh probe (no token): neither is a failure (#22).
    const key = await dpopKey();
    const round = await login(s.url, 'ops password 1', { dpop: await dpopProof(key, 'POST', `${s.url}/auth/login`) });
    expect(round.status).toBe(400);
    expect(
      (
        await login(s.url, 'ops password 1', {
          dpop: await dpopProof(key, 'POST', `${s.url}/auth/login`, { nonce: round.headers.get('dpop-nonce') as string }),
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await fetch(`${s.url}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=refresh_token',
        })
      ).status,
    ).toBe(400);
    await fetch(`${s.url}/auth/me`, { headers: { authorization: `Bearer ${pair.access_token}` } });
    const res = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^baton_logins_total\{outcome="ok"\} 2$/m);
    expect(text).toMatch(/^baton_logins_total\{outcome="dpop_nonce"\} 1$/m);
    expect(text).toMatch(/^baton_refreshes_total\{outcome="no_token"\} 1$/m);
    expect(text).toMatch(/^baton_logins_total\{outcome="failed"\} 1$/m);
    expect(text).toMatch(/^baton_logins_total\{outcome="cross_site"\} 1$/m);
    expect(text).toMatch(/^baton_refreshes_total\{outcome="rotated"\} 1$/m);
    expect(text).toMatch(/^baton_refreshes_total\{outcome="invalid"\} 1$/m);
    expect(text).toMatch(/^baton_verifications_total\{outcome="ok"\} [1-9]/m);
    expect(text).toMatch(/^baton_store_duration_seconds_count\{op="rotate",outcome="ok"\} 1$/m);
    expect(text).toMatch(/^baton_websockets_open 0$/m);
    expect(text).toMatch(/^baton_process_cpu_seconds_total /m);
    expect(text).not.toContain(pair.access_token.slice(0, 20));
  });

  it('are all the Grafana dashboard in examples/ asks for', async () => {
    const s = await service({ BATON_METRICS_TOKEN: token });
    const text = await (await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    const exported = new Set(
      [...text.matchAll(/^# TYPE (\S+) (\w+)$/gm)].flatMap(([, name, type]) =>
        type === 'histogram' ? [`${name}_bucket`, `${name}_count`, `${name}_sum`] : [name as string],
      ),
    );
    const dashboard = JSON.parse(readFileSync(new URL('../../examples/grafana-dashboard.json', import.meta.url), 'utf8')) as {
      panels: { targets: { expr: string }[] }[];
    };
    const asked = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\b(baton_\w+)/g)].map((m) => m[1] as string)));
    expect(asked.length).toBeGreaterThan(10);
    expect(asked.filter((name) => !exported.has(name))).toEqual([]);
  });

  it("on their own port, and then not on the service's", async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const s = await service({ BATON_METRICS_PORT: String(port) });
    expect((await fetch(`${s.url}/metrics`)).status).toBe(404);
    const own = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(own.status).toBe(200);
    expect(await own.text()).toContain('baton_logins_total');
  });

  it('are off without a token or a port: nothing is timed and /metrics is not found', async () => {
    const s = await service({});
    expect(s.service.metrics).toBeUndefined();
    expect((await fetch(`${s.url}/metrics`)).status).toBe(404);
  });
});

describe('origins of the web page', () => {
  it('localhost and 127.0.0.1 are the same machine for a local issuer; another origin is named with the setting that allows it', async () => {
    const s = await service({});
    const port = new URL(s.url).port;
    const asCookie = async (origin: string) =>
      fetch(`${s.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin },
        body: JSON.stringify({ username: 'ops', password: 'ops password 1', refresh_token_delivery: 'cookie' }),
      });
    expect((await asCookie(`http://localhost:${port}`)).status).toBe(200);
    expect((await asCookie(`http://127.0.0.1:${port}`)).status).toBe(200);
    const refused = await asCookie('https://app.example.com');
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error_description: string }).error_description).toMatch(
      /https:\/\/app\.example\.com .*BATON_ALLOWED_ORIGINS=https:\/\/app\.example\.com/,
    );
    const allowing = await service({ BATON_ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:5173' });
    expect(
      (
        await fetch(`${allowing.url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: 'https://app.example.com' },
          body: JSON.stringify({ username: 'ops', password: 'ops password 1', refresh_token_delivery: 'cookie' }),
        })
      ).status,
    ).toBe(200);
    expect(() => loadConfig({ BATON_ALLOWED_ORIGINS: 'https://app.example.com/path' })).toThrow(/BATON_ALLOWED_ORIGINS must list origins/);
  });

  it('BATON_ALLOWED_ORIGINS: the start-up error names the entry and the form to write; a wildcard is refused, not taken for a pattern', () => {
    expect(() => loadConfig({ BATON_ALLOWED_ORIGINS: 'https://ok.example.com,https://App.example.com:443' })).toThrow(
      /"https:\/\/App\.example\.com:443".*\(write it as https:\/\/app\.example\.com\)/,
    );
    expect(() => loadConfig({ BATON_ALLOWED_ORIGINS: 'https://*.example.com' })).toThrow(/BATON_ALLOWED_ORIGINS .*"https:\/\/\*\.example\.com".*wildcard/);
  });
});

describe('Redis without persistence', () => {
  /** What `baton serve` prints until it listens (pino writes to the file descriptor, so a child process). */
  const startupLog = async (store: string): Promise<string> => {
    const env = { PORT: '0', HOST: '127.0.0.1', BATON_STORE: store, BATON_SECRET: randomBytes(32).toString('base64url'), BATON_LOG_LEVEL: 'warn' };
    await initStore(loadConfig(env)); // a new Redis is set up on purpose, once
    return serveLog(env);
  };
  const serveLog = (env: Record<string, string>): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--conditions=baton-source', CLI, 'serve'], { env: { ...process.env, ...env } });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/listening on/.test(out)) child.kill('SIGTERM');
      });
      child.on('exit', () => resolve(out));
      child.on('error', reject);
    });

  it('is said at start, with what to set; a persistent one is not', async () => {
    const volatile = await startRedis(['--appendonly', 'no', '--save', '']);
    try {
      // What is at stake is everything, not only sessions (#22).
      expect(await startupLog(volatile.url)).toMatch(
        /Redis runs without persistence \(appendonly no, no save points\): a restart loses everything kept there — users, clients, the sealed keys, sessions, revocations and login limits — .*appendonly yes/,
      );
    } finally {
      await volatile.stop();
    }
    const persistent = await startRedis(['--appendonly', 'yes']);
    try {
      const out = await startupLog(persistent.url);
      expect(out).toMatch(/listening on/);
      expect(out).not.toMatch(/without persistence/);
    } finally {
      await persistent.stop();
    }
  }, 40_000);
});
