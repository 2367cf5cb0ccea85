/**
 * No credential in what the service and its command print: a Redis password given in the user
 * part or as `?password=` never reaches the start-up line, the logs, the commands' output or a
 * store error, and a token pasted into a request's path never reaches a log line.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsOf, redactIn, redactUrl } from '../../packages/baton-auth-server/src/server/config.ts';
import { startRedis } from '../support/redis-servers.ts';
import type { RedisServer } from '../support/redis-servers.ts';
import { freePort } from '../support/ports.ts';

const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const PASSWORD = 'hunter2-redis-password';
const SECRET = 'redaction-test-service-secret-of-32-characters';
const dir = mkdtempSync(join(tmpdir(), 'baton-redaction-'));
let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedis();
  // Started open (the helper waits for an unauthenticated PONG), then closed with a password.
  await promisify(execFile)('redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), 'config', 'set', 'requirepass', PASSWORD]);
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** `baton <args>`: its exit status and everything it printed. */
const baton = (args: string[], env: Record<string, string>) =>
  new Promise<{ code: number; out: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, BATON_SECRET: SECRET, BATON_RUNTIME_FILE: join(dir, 'run', 'service.json'), ...env },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
    child.stdin.end('');
  });

describe('store URLs', () => {
  it('lose the password of their user part and the value of every credential-like parameter, keeping what says which store', () => {
    expect(redactUrl(`redis://:${PASSWORD}@127.0.0.1:6379/0?password=${PASSWORD}`)).toBe('redis://:***@127.0.0.1:6379/0?password=***');
    expect(redactUrl('postgres://app:p%40ss@db:5432/baton?sslmode=require&sslpassword=x&sslkey=/k')).toBe(
      'postgres://app:***@db:5432/baton?sslmode=require&sslpassword=***&sslkey=***',
    );
    expect(redactUrl('redis+cluster://a:7001,b:7002?auth_token=t&name=x')).toBe('redis+cluster://a:7001,b:7002?auth_token=***&name=x');
    expect(redactUrl('redis://:a@b@host/0')).toBe('redis://:***@host/0'); // an unencoded @ in the password
    expect(redactUrl('sqlite:./data/baton.sqlite')).toBe('sqlite:./data/baton.sqlite');
    expect(redactUrl('sqlite:/home/a@b/baton.sqlite')).toBe('sqlite:/home/a@b/baton.sqlite');
    expect(credentialsOf('redis://u:p%40ss@h/?Password=x%2By')).toEqual(['p%40ss', 'p@ss', 'x%2By', 'x+y']);
    expect(redactIn('WRONGPASS for p@ss at redis://u:p%40ss@h/?Password=x%2By', 'redis://u:p%40ss@h/?Password=x%2By')).toBe(
      'WRONGPASS for *** at redis://u:***@h/?Password=***',
    );
  });
});

describe('store URLs whose user part is not where a parser looks', () => {
  // [URL, the secret it holds]: a raw /, # or ? in the password ends the authority early; no //; a
  // colon spelt %3A; a password as a ;parameter of the path or inside another parameter's value.
  const forms: [string, string][] = [
    ['redis://:pa/ssPW1@127.0.0.1:6390', 'ssPW1'],
    ['redis://:pa#ssPW1@127.0.0.1:6390', 'ssPW1'],
    ['redis://:pa?ssPW1@127.0.0.1:6390', 'ssPW1'],
    ['postgres://u:pa/ssPW1@127.0.0.1:5499/db', 'ssPW1'],
    ['postgres://u:123/ssPW1@127.0.0.1:5499/db', 'ssPW1'], // parses, with the password in the path
    ['redis:/:s3cretPW@h', 's3cretPW'],
    ['redis:s3cretPW@h', 's3cretPW'],
    ['redis://%3As3cretPW@h', 's3cretPW'],
    ['postgres://u@h/db;password=s3cretPW', 's3cretPW'],
    ['postgres://u@h/db?options=-c%20password%3Ds3cretPW', 's3cretPW'],
    ['postgres://u:s3cretPW@h/db?x=1#@evil', 's3cretPW'],
  ];
  it.each(forms)('%s: no secret in the printed URL or in a message holding it', (url, secret) => {
    for (const text of [redactUrl(url), redactIn(`failed at ${url}: ${secret} (${encodeURIComponent(secret)})`, url)]) {
      expect(text).not.toContain(secret);
    }
    expect(redactUrl(url)).toMatch(/^[a-z]+:/);
  });

  it('are refused at start and by a command with a sentence that does not print the password (raw /)', async () => {
    const store = `redis://:pa/ss${PASSWORD}@127.0.0.1:${redis.port}`;
    const sentence =
      'baton: BATON_STORE redis://<redacted> has an @ after its host, or no // before its user part: percent-encode /, ?, #, @ and : in the user name and password (%2F, %3F, %23, %40, %3A), as in redis://:p%2Fss@host:6379.\n';
    const served = await baton(['serve'], { BATON_STORE: store, PORT: '0', HOST: '127.0.0.1' });
    expect([served.code, served.out]).toEqual([1, sentence]);
    const listed = await baton(['users', 'list'], { BATON_STORE: store, BATON_RUNTIME_FILE: join(dir, 'none.json') });
    expect([listed.code, listed.out]).toEqual([1, sentence]);
  }, 30_000);
});

describe('a Redis password in BATON_STORE', () => {
  it('appears in no output of `baton serve` (start-up line, logs at debug), of a command, or of a store error', async () => {
    const store = `redis://:${PASSWORD}@127.0.0.1:${redis.port}/0?password=${PASSWORD}`;
    // A new Redis is set up on purpose, once: that command's output is checked too.
    const init = await baton(['store', 'init'], { BATON_STORE: store, BATON_RUNTIME_FILE: join(dir, 'none.json') });
    expect(init.code, init.out).toBe(0);
    const child = spawn(process.execPath, [CLI, 'serve'], {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        BATON_STORE: store,
        BATON_SECRET: SECRET,
        BATON_RUNTIME_FILE: join(dir, 'run', 'service.json'),
        BATON_LOG_LEVEL: 'debug',
      },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const outputs: string[] = [init.out];
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', () => {
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1] as string);
        });
        child.once('exit', () => reject(new Error(`server exited early: ${out}`)));
      });
      expect(out).toContain(`store redis://:***@127.0.0.1:${redis.port}/0?password=***`);
      // A command acting on the running service's store says which, without its password.
      const listed = await baton(['users', 'list'], {});
      expect(listed.code, listed.out).toBe(0);
      outputs.push(listed.out);
      // The same store named with a wrong password: the store's error, redacted.
      const wrong = `redis://:wrong-${PASSWORD}@127.0.0.1:${redis.port}/0?password=wrong-${PASSWORD}`;
      const refused = await baton(['users', 'list'], { BATON_STORE: wrong });
      expect(refused.code).toBe(1);
      expect(refused.out).toContain(`redis://:***@127.0.0.1:${redis.port}/0?password=***`);
      outputs.push(refused.out);
      // Unreachable: the sentence names the store, not its password.
      const away = await baton(['users', 'list'], {
        BATON_STORE: `redis://:${PASSWORD}@127.0.0.1:${await freePort()}/0?password=${PASSWORD}`,
        BATON_RUNTIME_FILE: join(dir, 'none.json'),
      });
      expect(away.out).toMatch(/Cannot reach the store at BATON_STORE=redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0\?password=\*\*\* within 5 s: connection refused/);
      outputs.push(away.out);
      // A token pasted into a path: the log line names the route, not the path.
      for (const path of ['/auth/rt_pasted.into.path', '/auth/sessions/rt_pasted.into.path', '/oauth/token/rt_pasted.into.path']) {
        const res = await fetch(`${url}${path}`);
        await res.body?.cancel();
      }
      await fetch(`${url}/oauth/token?refresh_token=rt_pasted.into.query`, { method: 'POST' }).then((r) => r.body?.cancel());
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    expect(out).toMatch(/"route":"unknown route","status":404/);
    expect(out).toMatch(/"route":"\/auth\/sessions\/\*"/);
    for (const text of [out, ...outputs]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain('rt_pasted');
    }
  }, 60_000);
});
