/**
 * The service's login and introspection protection on a SQLite file: failures are counted, never
 * successes; a stranger's guesses lock out one username from one address only; a refused attempt
 * writes nothing; a block survives a restart.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { createService, loadConfig, startServer, users } from 'baton-auth-server';
import type { Service } from 'baton-auth-server';
import { eventually } from '../support/eventually.ts';

const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'baton-login-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const A = '203.0.113.7';
const B = '198.51.100.1';

async function open(file: string, env: Record<string, string> = {}) {
  const config = loadConfig({
    PORT: '0',
    BATON_STORE: `sqlite:${file}`,
    BATON_LOG_LEVEL: 'silent',
    BATON_INTROSPECTION_SECRET: 'resource-server-secret-of-32-characters',
    ...env,
  });
  const service = await createService(config);
  const post = (path: string, body: string, headers: Record<string, string>, ip: string) =>
    service.handler(new Request(`${config.issuer}${path}`, { method: 'POST', headers, body }), { ip });
  const login = async (username: string, password: string, ip: string) =>
    (await post('/auth/login', JSON.stringify({ username, password }), { 'content-type': 'application/json' }, ip)).status;
  const introspect = async (secret: string, ip: string) =>
    (
      await post(
        '/oauth/introspect',
        'token=x',
        { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`resource-server:${secret}`).toString('base64')}` },
        ip,
      )
    ).status;
  return { service, post, login, introspect };
}

const counters = (file: string): string[] => {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    // The protection's counters; the engine's per-user login budget (`baton-login:`) counts successes by design.
    return (db.prepare('SELECT key FROM baton_counters ORDER BY key').all() as { key: string }[])
      .map((r) => r.key)
      .filter((k) => !k.startsWith('baton-login:'));
  } finally {
    db.close();
  }
};

const fresh = () => join(dir, `${randomBytes(4).toString('hex')}.sqlite`);
const closing: Service[] = [];
afterAll(async () => {
  for (const s of closing) await s.close().catch(() => undefined);
});

describe('login protection of the service', () => {
  it('never counts a successful login: one user 15 times, then 50 users from one address (a proxy)', async () => {
    const file = fresh();
    const { service, login } = await open(file);
    closing.push(service);
    await users.add(service.store, 'alice', 'alice password');
    for (let i = 0; i < 15; i++) expect(await login('alice', 'alice password', A)).toBe(200);
    await Promise.all(Array.from({ length: 50 }, (_, i) => users.add(service.store, `user${i}`, `password of ${i}`)));
    for (let i = 0; i < 50; i++) expect(await login(`user${i}`, `password of ${i}`, A), `user${i}`).toBe(200);
    expect(counters(file)).toEqual([]);
  }, 60_000);

  it("locks a username out after a stranger's 10 wrong guesses from that address only; a success resets the pair", async () => {
    const { service, login, post } = await open(fresh());
    closing.push(service);
    await users.add(service.store, 'alice', 'alice password');
    // Nine failures, a success, nine failures: never 10 in a row.
    for (let i = 0; i < 9; i++) expect(await login('alice', 'wrong guess', A)).toBe(401);
    expect(await login('alice', 'alice password', A)).toBe(200);
    for (let i = 0; i < 9; i++) expect(await login('alice', 'wrong guess', A)).toBe(401);
    expect(await login('alice', 'wrong guess', A)).toBe(429);
    expect(await login('alice', 'alice password', A)).toBe(429);
    // The refusal says how long, in words, and the way out (#22: it said "try again later").
    const refused = await post('/auth/login', JSON.stringify({ username: 'alice', password: 'alice password' }), { 'content-type': 'application/json' }, A);
    expect(refused.headers.get('retry-after')).toMatch(/^3[56]\d\d$/);
    expect(((await refused.json()) as { error_description: string }).error_description).toBe(
      'Too many failed attempts: try again in 60 minutes, or ask whoever runs this service to lift the block sooner',
    );
    expect(await login('alice', 'alice password', B)).toBe(200);
    expect(await login('ALICE', 'alice password', A)).toBe(429);
  }, 60_000);

  it('writes no counter for the requests of a blocked address (500 refused logins)', async () => {
    const file = fresh();
    const { service, login } = await open(file, { BATON_LOGIN_FAILURES_PER_IP: '5/1d' });
    closing.push(service);
    for (let i = 0; i < 4; i++) expect(await login(`nobody${i}`, 'wrong guess', A)).toBe(401);
    expect(await login('nobody4', 'wrong guess', A)).toBe(429);
    const before = counters(file);
    expect(before).toHaveLength(6); // five pairs and the address
    for (let i = 0; i < 500; i++) expect(await login(`stranger${i}`, 'wrong guess', A)).toBe(429);
    expect(counters(file)).toEqual(before);
  }, 60_000);

  it('keeps a block across a restart on the same file, and still never counted the successes', async () => {
    const file = fresh();
    const first = await open(file);
    await users.add(first.service.store, 'alice', 'alice password');
    for (let i = 0; i < 5; i++) expect(await first.login('alice', 'alice password', B)).toBe(200);
    for (let i = 0; i < 10; i++) await first.login('alice', 'wrong guess', A);
    await first.service.close();
    const second = await open(file);
    closing.push(second.service);
    expect(await second.login('alice', 'alice password', A)).toBe(429);
    expect(await second.login('alice', 'alice password', B)).toBe(200);
    expect(counters(file)).toEqual([`login:addr:${A}`, `login:pair:alice|${A}`]);
  }, 60_000);
});

describe('parallel guesses and addresses', () => {
  it('a burst of 60 parallel guesses gets at most 10 passwords checked; the right one inside the burst is refused too', async () => {
    const { service, login } = await open(fresh());
    closing.push(service);
    await users.add(service.store, 'erin', 'erin password');
    const burst = await Promise.all(Array.from({ length: 60 }, (_, i) => login('erin', i === 48 ? 'erin password' : `guess ${i}`, A)));
    expect(burst.filter((status) => status === 401).length).toBeLessThanOrEqual(10);
    expect(burst[48]).toBe(429);
    expect(burst.filter((status) => status === 200)).toEqual([]);
  }, 60_000);

  it('an IPv6 host counts as its /64: guesses from many addresses of one network share one budget', async () => {
    const { service, login } = await open(fresh());
    closing.push(service);
    await users.add(service.store, 'frank', 'frank password');
    for (let i = 1; i <= 10; i++) expect(await login('frank', 'guess', `2001:db8:0:1::${i.toString(16)}`)).toBe(i === 10 ? 429 : 401);
    expect(await login('frank', 'frank password', '2001:db8:0:1:ffff::42')).toBe(429);
    expect(await login('frank', 'frank password', '2001:db8:0:2::1')).toBe(200);
  }, 60_000);
});

describe('the resource-server client of BATON_INTROSPECTION_SECRET', () => {
  it('is removed when the variable is unset: unset means refused', async () => {
    const file = fresh();
    const first = await open(file);
    expect(await first.introspect('resource-server-secret-of-32-characters', A)).toBe(200);
    await first.service.close();
    const config = loadConfig({ PORT: '0', BATON_STORE: `sqlite:${file}`, BATON_LOG_LEVEL: 'silent' });
    const second = await createService(config);
    closing.push(second);
    const res = await second.handler(
      new Request(`${config.issuer}/oauth/introspect`, {
        method: 'POST',
        body: 'token=x',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from('resource-server:resource-server-secret-of-32-characters').toString('base64')}`,
        },
      }),
      { ip: A },
    );
    expect(res.status).toBe(401);
  }, 60_000);
});

describe('baton limits reset', () => {
  const baton = (file: string, ...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [CLI, ...args], { env: { ...process.env, BATON_STORE: `sqlite:${file}`, BATON_LOG_LEVEL: 'silent' } }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr: stderr.replace(/^baton: store .+\n/, '') }),
      );
    });

  it('lets a locked-out username in again, then a blocked address, while the service runs on the same file', async () => {
    const file = fresh();
    const { service, login, introspect } = await open(file, { BATON_LOGIN_FAILURES_PER_IP: '12/1d' });
    closing.push(service);
    await users.add(service.store, 'alice', 'alice password');
    await users.add(service.store, 'bob', 'bob password');
    for (let i = 0; i < 10; i++) await login('alice', 'wrong guess', A);
    expect(await login('alice', 'alice password', A)).toBe(429);
    expect(await baton(file, 'limits', 'reset', 'Alice')).toEqual({ code: 0, stdout: 'Reset Alice: 1 counter(s) deleted.\n', stderr: '' });
    expect(await login('alice', 'alice password', A)).toBe(200);
    // Two more failed logins make twelve from A that day: A is blocked, for every name.
    for (let i = 0; i < 2; i++) await login('bob', 'wrong guess', A);
    for (let i = 0; i < 2; i++) await introspect('wrong secret', A); // counted apart from logins
    expect(await login('bob', 'bob password', A)).toBe(429);
    expect((await baton(file, 'limits', 'reset', A)).stdout).toBe(`Reset ${A}: 4 counter(s) deleted.\n`); // login: A's count, bob's pair; introspect: A's count, the client's pair
    expect(await login('bob', 'bob password', A)).toBe(200);
    expect(counters(file)).toEqual([]);
  }, 60_000);
});

describe('introspection client authentication', () => {
  it('refuses one client from one address after 10 wrong secrets; the right secret from another address works', async () => {
    const { service, introspect } = await open(fresh());
    closing.push(service);
    for (let i = 0; i < 9; i++) expect(await introspect('wrong secret', A)).toBe(401);
    expect(await introspect('wrong secret', A)).toBe(429);
    expect(await introspect('resource-server-secret-of-32-characters', A)).toBe(429);
    expect(await introspect('resource-server-secret-of-32-characters', B)).toBe(200);
  });
});

describe('the scheduled sweep', () => {
  it('deletes expired counters every BATON_SWEEP_INTERVAL and logs how many at debug', async () => {
    const file = fresh();
    const lines: string[] = [];
    const { default: pino } = await import('pino');
    const config = loadConfig({ BATON_STORE: `sqlite:${file}`, BATON_SWEEP_INTERVAL: '1s' });
    const service = await createService(config, pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) }));
    closing.push(service);
    await service.store.hitCounter('login:addr:expired', 1, 1, Date.now());
    await service.store.hitCounter('login:addr:live', 1, 3_600_000, Date.now());
    expect(counters(file)).toHaveLength(2);
    // Polled, with a bound on the wait: no speed is measured.
    await eventually(() => counters(file).length === 1, { timeoutMs: 5000, intervalMs: 100, what: 'the sweep' }).catch(() => undefined);
    expect(counters(file)).toEqual(['login:addr:live']);
    expect(lines.join('')).toMatch(/"event":"sweep","removed":[1-9]/);
  });

  it('explains a wrong interval', () => {
    expect(loadConfig({}).sweepIntervalMs).toBe(600_000);
    expect(loadConfig({ BATON_SWEEP_INTERVAL: 'off' }).sweepIntervalMs).toBe(false);
    expect(() => loadConfig({ BATON_SWEEP_INTERVAL: '0' })).toThrow(/BATON_SWEEP_INTERVAL must be 'off' or a duration above 0/);
    expect(() => loadConfig({ BATON_SWEEP_INTERVAL: '30d' })).toThrow(/below 24d/);
  });
});

describe('configuration of the protection', () => {
  it('reads failures/duration or off, and explains a mistake in a sentence naming the variable', () => {
    expect(loadConfig({}).loginFailures).toEqual({ max: 10, blockMs: 3_600_000 });
    expect(loadConfig({}).loginFailuresPerIp).toEqual({ max: 100, windowMs: 86_400_000 });
    expect(loadConfig({ BATON_LOGIN_FAILURES: '5/15m', BATON_LOGIN_FAILURES_PER_IP: 'off' })).toMatchObject({
      loginFailures: { max: 5, blockMs: 900_000 },
      loginFailuresPerIp: false,
    });
    expect(() => loadConfig({ BATON_LOGIN_FAILURES: '0/1h' })).toThrow(/^Configuration error: BATON_LOGIN_FAILURES must be 'off' or failures in a row/);
    expect(() => loadConfig({ BATON_LOGIN_FAILURES_PER_IP: '100 per day' })).toThrow(/BATON_LOGIN_FAILURES_PER_IP must be 'off' or failures and the period/);
    expect(() => loadConfig({ BATON_LOGIN_RATE: '10/15m' })).toThrow(/BATON_LOGIN_RATE is gone .* use BATON_LOGIN_FAILURES/);
  });
});

describe("cross-site requests (a hostile page posting forms from its visitors' browsers)", () => {
  it('are refused before anything is counted: no lockout of a user or of the address, no client-secret failure, no row', async () => {
    const file = fresh();
    const s = await startServer(
      loadConfig({
        PORT: '0',
        BATON_STORE: `sqlite:${file}`,
        BATON_LOG_LEVEL: 'silent',
        BATON_INTROSPECTION_SECRET: 'resource-server-secret-of-32-characters',
      }),
    );
    try {
      await users.add(s.service.store, 'alice', 'alice password');
      // A form post is a simple request: no preflight, and the browser sends Origin (and Sec-Fetch-Site) with it.
      const post = (path: string, fields: Record<string, string>, headers: Record<string, string>) =>
        fetch(`${s.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: new URLSearchParams(fields),
        });
      const evil = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };
      for (let i = 0; i < 20; i++) {
        const res = await post('/auth/login', { username: 'alice', password: `guess ${i}` }, evil);
        expect(res.status).toBe(403);
        expect(((await res.json()) as { error_description: string }).error_description).toMatch(/https:\/\/evil\.example .*not an allowed origin/);
      }
      // 150 random names, with Origin, with Sec-Fetch-Site alone, and with Origin: null (a sandboxed frame).
      const variants = [evil, { 'sec-fetch-site': 'cross-site' }, { origin: 'null' }];
      for (let i = 0; i < 150; i++)
        expect((await post('/auth/login', { username: `user${i}`, password: 'x' }, variants[i % 3] as Record<string, string>)).status).toBe(403);
      // Wrong client secrets by client_secret_post, the introspection and token endpoints.
      for (let i = 0; i < 12; i++) {
        expect((await post('/oauth/introspect', { token: 'x', client_id: 'resource-server', client_secret: `wrong ${i}` }, evil)).status).toBe(403);
        expect((await post('/oauth/token', { grant_type: 'client_credentials', client_id: 'resource-server', client_secret: `wrong ${i}` }, evil)).status).toBe(
          403,
        );
      }
      // A navigation to a URL with credentials: the browser answers the Basic challenge with them (GET, no Origin).
      const basic = `Basic ${Buffer.from('resource-server:wrong').toString('base64')}`;
      for (let i = 0; i < 12; i++) {
        const res = await fetch(`${s.url}/oauth/revocations?since=${i}`, {
          headers: { authorization: basic, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' },
        });
        expect(res.status).toBe(403);
      }
      expect((await fetch(`${s.url}/oauth/revocations`, { headers: { authorization: basic, origin: 'https://evil.example' } })).status).toBe(403);
      expect(counters(file)).toEqual([]);
      // Public documents stay readable from anywhere.
      expect((await fetch(`${s.url}/.well-known/jwks.json`, { headers: evil })).status).toBe(200);
      // Alice, from the same address, in her own page (same origin) and from a native app (no Origin).
      expect((await post('/auth/login', { username: 'alice', password: 'alice password' }, { origin: s.url, 'sec-fetch-site': 'same-origin' })).status).toBe(
        200,
      );
      expect((await post('/auth/login', { username: 'alice', password: 'alice password' }, {})).status).toBe(200);
      expect(
        (await post('/oauth/introspect', { token: 'x', client_id: 'resource-server', client_secret: 'resource-server-secret-of-32-characters' }, {})).status,
      ).toBe(200);
    } finally {
      await s.stop();
    }
  }, 60_000);
});
