/**
 * The service's audit trail end to end, in child processes: `baton serve` with `BATON_AUDIT_LOG`
 * a file (rotated by size), the `baton` commands adding their own events to it and reading it back
 * (`audit tail`, `audit search`, `--follow`); `BATON_WORKERS=2` writing one file through the
 * primary, every line whole; `stdout`, with the logs on standard error; the metrics' counter.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from 'baton-auth';
import { trailFiles } from '../../packages/baton-auth-server/src/server/audit-read.ts';
import { baton as run } from '../support/baton-cli.ts';
import { eventually } from '../support/eventually.ts';
import { call, METRICS_TOKEN, SECRET, startWorkers, USER } from '../support/workers.ts';
import type { Workers } from '../support/workers.ts';

const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const running: Workers[] = [];
afterAll(async () => {
  for (const w of running) await w.stop();
});

const trail = (path: string): AuditEvent[] =>
  trailFiles(path).flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as AuditEvent),
  );

async function start(env: Record<string, string>): Promise<Workers & { env: Record<string, string> }> {
  const w = await startWorkers(env);
  running.push(w);
  return { ...w, env: { BATON_RUNTIME_FILE: join(w.dir, 'runtime.json'), BATON_STORE: `sqlite:${join(w.dir, 'baton.sqlite')}`, BATON_SECRET: SECRET } };
}

const failedLogin = (url: string) =>
  call(url, '/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: USER.username, password: 'wrong password 123' }),
  });

describe('BATON_AUDIT_LOG, a file', () => {
  it('one writer, rotated by size; the commands add theirs and read it back; none of the secrets; counted in the metrics', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'baton-audit-')), 'audit.log');
    const w = await start({
      BATON_WORKERS: '1',
      BATON_AUDIT_LOG: path,
      BATON_AUDIT_LOG_MAX_BYTES: '4k',
      BATON_AUDIT_LOG_FILES: '1',
      BATON_METRICS_TOKEN: METRICS_TOKEN,
    });
    const secrets: string[] = [USER.password];
    // `baton users add` (before the service started) recorded its change in the same file.
    expect(trail(path)).toEqual([expect.objectContaining({ type: 'user.created', username: USER.username, actor: expect.stringMatching(/^cli:/) })]);
    for (let i = 0; i < 25; i++) {
      const pair = await w.login();
      secrets.push(pair.access_token, pair.refresh_token);
      const res = await call(w.url, '/oauth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }).toString(),
      });
      expect(res.status).toBe(200);
    }
    expect((await failedLogin(w.url)).status).toBe(401);
    const rotated = await run(['keys', 'rotate'], w.env);
    expect(rotated.code, rotated.stderr).toBe(0);
    await eventually(() => trail(path).some((e) => e.type === 'login.failed') || undefined, { timeoutMs: 5000, what: 'the failed login in the trail' });
    // Rotated more than once: the current file and one sibling (the oldest deleted), none past the bound, every line an event of schema 1.
    expect(trailFiles(path).map((f) => f.slice(path.length))).toEqual(['.1', '']);
    expect(trail(path).some((e) => e.type === 'user.created')).toBe(false); // the oldest file, deleted
    for (const f of trailFiles(path)) expect(statSync(f).size).toBeLessThanOrEqual(4096);
    const events = trail(path);
    expect(events.every((e) => e.v === 1)).toBe(true);
    expect(events.find((e) => e.type === 'key.rotated')).toMatchObject({ use: 'sig', actor: expect.stringMatching(/^cli:/) });
    const text = trailFiles(path)
      .map((f) => readFileSync(f, 'utf8'))
      .join('');
    expect(secrets.filter((s) => text.includes(s))).toEqual([]);
    // The commands find the file through the running service's runtime file.
    const tail = await run(['audit', 'tail', '-n', '2'], w.env);
    expect(tail.code, tail.stderr).toBe(0);
    expect(
      tail.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as AuditEvent).type),
    ).toEqual(events.slice(-2).map((e) => e.type));
    const failed = await run(['audit', 'search', '--user', USER.username, '--type', 'login.failed', '--since', '10m'], w.env);
    expect(
      failed.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as AuditEvent),
    ).toEqual([expect.objectContaining({ type: 'login.failed', outcome: 'failure', username: USER.username, reason: 'bad_credentials' })]);
    const mine = await run(['audit', 'search', '--user', USER.username, '--type', 'refresh'], w.env);
    const refreshes = mine.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEvent);
    // Rotations name only the user id: found through the events that name both.
    expect(refreshes.length).toBeGreaterThan(3);
    expect(refreshes.every((e) => e.type === 'refresh.rotated' && e.username === undefined && e.user !== undefined)).toBe(true);
    expect((await run(['audit', 'search', '--since', '2099-01-01T00:00:00Z'], w.env)).stdout).toBe('');
    const metrics = (await call(w.url, '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).body;
    expect(metrics).toMatch(/^baton_audit_events_total\{type="login\.failed",outcome="failure",reason="bad_credentials"\} 1$/m);
    expect(metrics).toMatch(/^baton_audit_events_total\{type="login\.succeeded",outcome="success",reason=""\} 25$/m);
  });

  it('audit tail --follow prints new events as they come, across a rotation', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'baton-audit-')), 'audit.log');
    const w = await start({ BATON_WORKERS: '1', BATON_AUDIT_LOG: path, BATON_AUDIT_LOG_MAX_BYTES: '4k', BATON_AUDIT_LOG_FILES: '1' });
    const child = spawn(process.execPath, [CLI, 'audit', 'tail', '-n', '0', '--follow'], { env: { ...process.env, ...w.env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    try {
      // The command started and follows the file once a login made now shows in its output (a loaded
      // machine starts it in more than the second this test once waited).
      await eventually(
        async () => {
          const marker = (await w.login()).session_id;
          await new Promise((r) => setTimeout(r, 500));
          return out.includes(`"session":"${marker}"`) || undefined;
        },
        { timeoutMs: 30_000, what: 'audit tail --follow to start following' },
      );
      const sessions: string[] = [];
      for (let i = 0; i < 15; i++) sessions.push((await w.login()).session_id);
      await eventually(() => sessions.every((s) => out.includes(`"session":"${s}"`)) || undefined, { timeoutMs: 10_000, what: 'every login followed' });
      expect(trailFiles(path)).toHaveLength(2); // it rotated while followed
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('BATON_WORKERS=2', () => {
  it('the workers hand their lines to the primary, which writes one file: every line whole, every login there', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'baton-audit-')), 'audit.log');
    const w = await start({ BATON_WORKERS: '2', BATON_AUDIT_LOG: path, BATON_AUDIT_LOG_MAX_BYTES: '8k', BATON_AUDIT_LOG_FILES: '5' });
    const agents = [...(await w.pinned()).values()];
    expect(agents).toHaveLength(2);
    const logins = await Promise.all(Array.from({ length: 28 }, (_, i) => w.login(agents[i % 2])));
    await eventually(() => trail(path).filter((e) => e.type === 'login.succeeded').length >= 28 || undefined, {
      timeoutMs: 10_000,
      what: '28 logins in the trail',
    });
    for (const f of trailFiles(path))
      for (const line of readFileSync(f, 'utf8').trimEnd().split('\n')) expect(() => JSON.parse(line), line.slice(0, 80)).not.toThrow();
    const sessions = new Set(
      trail(path)
        .filter((e) => e.type === 'session.created')
        .map((e) => e.session),
    );
    expect(logins.filter((l) => !sessions.has(l.session_id))).toEqual([]);
    expect(trailFiles(path).length).toBeGreaterThan(1);
  });
});

describe('BATON_AUDIT_LOG=stdout', () => {
  it('standard output carries only the audit trail; the logs and the messages go to standard error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-audit-'));
    const env = {
      ...process.env,
      BATON_STORE: 'memory:',
      BATON_AUDIT_LOG: 'stdout',
      BATON_LOG_LEVEL: 'info',
      BATON_COOKIE_SECURE: 'false',
      BATON_RUNTIME_FILE: join(dir, 'runtime.json'),
      PORT: '0',
      HOST: '127.0.0.1',
    };
    const child = spawn(process.execPath, [CLI, 'serve'], { env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    try {
      const url = await eventually(() => /Baton listening on (\S+)/.exec(err)?.[1], { timeoutMs: 20_000, what: 'the service to listen' });
      expect((await failedLogin(url)).status).toBe(401);
      await eventually(() => out.includes('login.failed') || undefined, { timeoutMs: 5000, what: 'the event on stdout' });
      const lines = out.trimEnd().split('\n');
      expect(lines.map((l) => (JSON.parse(l) as AuditEvent).v)).toEqual(lines.map(() => 1));
      expect(err).toMatch(/"msg":"login failed"/); // pino's line, on standard error
    } finally {
      child.kill('SIGTERM');
    }
  });
});
