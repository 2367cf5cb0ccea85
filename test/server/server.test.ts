/**
 * The standalone service on a real listening socket: a standard OAuth 2.0 client that knows only
 * the RFC 8414 metadata, the CLI, configuration errors and graceful shutdown.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService, loadConfig, startServer, users } from 'baton-auth-server';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import { SETTINGS_TABLE } from '../../packages/baton-auth-server/src/server/settings.ts';
import { userTag } from '../../packages/baton-auth/src/core/session-id.ts';
import { freePort } from '../support/ports.ts';

const run = promisify(execFile);
const RS_SECRET = 'resource-server-secret-of-32-characters-at-least';
const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'baton-server-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Standard error without the line saying which store a command acts on (`baton: store …`), and that line. */
const storeLine = /^baton: store (.+)\n/;
const split = (stderr: string) => ({ stderr: stderr.replace(storeLine, ''), store: storeLine.exec(stderr)?.[1] });

describe('a standard OAuth 2.0 client against the running service', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    const config = loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_INTROSPECTION_SECRET: RS_SECRET, BATON_LOG_LEVEL: 'silent', BATON_ACCESS_TTL: '60' });
    server = await startServer(config);
    await users.add(server.service.store, 'alice', 'correct horse battery');
  });
  afterAll(() => server.stop());

  it('discovers the endpoints, refreshes, introspects and revokes using only the metadata', async () => {
    const base = server.url;
    const meta = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as Record<string, string>;
    const login = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'correct horse battery' }),
    });
    expect(login.status).toBe(200);
    const pair = (await login.json()) as { access_token: string; refresh_token: string };

    const jwks = createRemoteJWKSet(new URL(meta.jwks_uri as string));
    const { payload } = await jwtVerify(pair.access_token, jwks, { issuer: meta.issuer as string, typ: 'at+jwt' });
    expect(payload.sub).toMatch(/^usr_/);

    const form = (fields: Record<string, string>) => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
    });
    const refreshed = await fetch(meta.token_endpoint as string, form({ grant_type: 'refresh_token', refresh_token: pair.refresh_token }));
    expect(refreshed.status).toBe(200);
    expect(refreshed.headers.get('cache-control')).toBe('no-store');
    const next = (await refreshed.json()) as { access_token: string; refresh_token: string };

    const basic = `Basic ${Buffer.from(`resource-server:${RS_SECRET}`).toString('base64')}`;
    const introspect = async (token: string) =>
      (await (
        await fetch(meta.introspection_endpoint as string, {
          ...form({ token }),
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
        })
      ).json()) as { active: boolean };
    expect(await introspect(next.access_token)).toMatchObject({ active: true, sub: payload.sub });
    expect(await introspect(next.refresh_token)).toMatchObject({ active: true, sub: expect.any(String) });

    expect((await fetch(meta.revocation_endpoint as string, form({ token: next.refresh_token }))).status).toBe(200);
    expect(await introspect(next.access_token)).toEqual({ active: false });
    const after = await fetch(meta.token_endpoint as string, form({ grant_type: 'refresh_token', refresh_token: next.refresh_token }));
    expect(after.status).toBe(400);
    expect(await after.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('answers 413 to an oversized body, declared or streamed without a length, and keeps serving', async () => {
    const send = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          `${server.url}/oauth/token`,
          { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } },
          (res) => {
            let body = '';
            res
              .setEncoding('utf8')
              .on('data', (d: string) => (body += d))
              .on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        const chunk = `grant_type=refresh_token&refresh_token=${'x'.repeat(64 * 1024)}`;
        for (let i = 0; i < 16; i++) req.write(chunk); // 1 MiB
        req.end();
      });
    const streamed = await send({ 'transfer-encoding': 'chunked' });
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body)).toMatchObject({ error: 'invalid_request' });
    expect((await send({ 'content-length': String(16 * (64 * 1024 + 39)) })).status).toBe(413);
    const meta = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
    expect(meta.status).toBe(200);
  });

  it('serves the web page', async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('id="login-form"');
    expect((await fetch(`${server.url}/app.js`)).status).toBe(200);
  });
});

describe('key reload', () => {
  it('keeps issuing and verifying tokens after re-reading the keys it saved itself', async () => {
    const server = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_KEY_RELOAD: '1', BATON_LOG_LEVEL: 'silent' }));
    try {
      const pair = await server.service.baton.login('u');
      await new Promise((r) => setTimeout(r, 1300));
      const res = await fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=refresh_token&refresh_token=${pair.refresh_token}`,
      });
      expect(res.status).toBe(200);
      await server.service.baton.verify(((await res.json()) as { access_token: string }).access_token);
    } finally {
      await server.stop();
    }
  });
});

describe('logs', () => {
  it('never contain a token, a password or a secret', async () => {
    const lines: string[] = [];
    const { default: pino } = await import('pino');
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const config = loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_INTROSPECTION_SECRET: 'introspection-secret-1234-introspection-secret' });
    const service = await createService(config, logger);
    await users.add(service.store, 'erin', 'erin password 1');
    const call = (path: string, init: RequestInit) => service.handler(new Request(`${config.issuer}${path}`, init), { ip: '127.0.0.1' });
    const login = (await (
      await call('/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'erin', password: 'erin password 1' }),
      })
    ).json()) as { access_token: string; refresh_token: string };
    await call('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'erin', password: 'wrong password 2' }),
    });
    const form = (f: Record<string, string>) => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${login.access_token}` },
      body: new URLSearchParams(f),
    });
    await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: login.refresh_token }));
    await call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: 'rt_forged' }));
    await call('/oauth/revoke', form({ token: login.access_token }));
    await call('/auth/me', form({}));
    // A token pasted into a path (a 404, or the session route's parameter): logs name the route, never the path.
    await call(`/auth/${login.refresh_token}`, { method: 'GET' });
    await call(`/auth/sessions/${login.access_token}`, { method: 'DELETE', headers: { authorization: `Bearer ${login.access_token}` } });
    // A DPoP-bound session: its proofs (one-time credentials) and its tokens stay out of the logs too, refused or not.
    const key = await dpopKey();
    const proofs: string[] = [];
    const withProof = async (path: string, init: RequestInit, nonce?: string) => {
      const proof = await dpopProof(key, 'POST', `${config.issuer}${path}`, nonce === undefined ? {} : { nonce });
      proofs.push(proof);
      return call(path, { ...init, headers: { ...(init.headers as Record<string, string>), dpop: proof } });
    };
    const loginInit = {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'erin', password: 'erin password 1' }),
    };
    const nonce = (await withProof('/auth/login', loginInit)).headers.get('dpop-nonce') as string;
    const bound = (await (await withProof('/auth/login', loginInit, nonce)).json()) as { refresh_token: string; token_type: string };
    expect(bound.token_type).toBe('DPoP');
    await withProof(
      '/oauth/token',
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: bound.refresh_token }),
      },
      nonce,
    );
    await call('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: 'not.a.proof' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: bound.refresh_token }),
    });
    // An unknown client: the caller hears "Client authentication failed", the operator why (#22: nothing was logged).
    await call('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'erin', password: 'erin password 1', client_id: 'mobile-typo' }),
    });
    const all = lines.join('');
    expect(all).toMatch(/"event":"client\.auth_failed","client":"mobile-typo","ip":"127\.0\.0\.1","why":"unknown client"/);
    expect(lines.length).toBeGreaterThan(5);
    for (const secret of [
      login.access_token,
      login.refresh_token,
      login.refresh_token.split('.')[2],
      'erin password 1',
      'wrong password 2',
      'introspection-secret-1234',
      'rt_forged',
      bound.refresh_token,
      ...proofs,
      'not.a.proof',
    ]) {
      expect(all).not.toContain(secret);
    }
    expect(all).toContain('"event":"refresh.rotated"');
    expect(all).toContain('"route":"unknown route","status":404');
    expect(all).toContain('"route":"/auth/sessions/*"');
    await service.close();
  });
});

describe('configuration', () => {
  it('fails fast with a sentence that says what to fix', () => {
    expect(() => loadConfig({ BATON_STORE: 'mysql://x' })).toThrow(/BATON_STORE must be sqlite:<path>, memory:/);
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ BATON_ACCESS_TTL: '15 minutes' })).toThrow(/BATON_ACCESS_TTL must be seconds or a duration/);
    expect(() => loadConfig({ BATON_ALG: 'none' })).toThrow(/BATON_ALG must be HS256, ES256, EdDSA, RS256 or PS256/);
    expect(() => loadConfig({ BATON_COOKIE_SECURE: 'false', BATON_ISSUER: 'https://auth.example.com' })).toThrow(/only allowed for a plain-http localhost/);
    expect(loadConfig({ BATON_COOKIE_SECURE: 'false' }).cookieSecure).toBe(false);
    expect(loadConfig({}).store).toBe('sqlite:./data/baton.sqlite');
    expect(() => loadConfig({ BATON_RESOURCES: 'https://api.example.com,api.example.com' })).toThrow(
      /BATON_RESOURCES must list absolute URIs without a fragment/,
    );
    expect(loadConfig({ BATON_RESOURCES: 'https://a.example.com, urn:example:b' }).resources).toEqual(['https://a.example.com', 'urn:example:b']);
    expect(() => loadConfig({ BATON_DPOP: 'on' })).toThrow(/BATON_DPOP must be 'auto' \(DPoP once every instance on the store supports it\) or 'off'/);
    expect(() => loadConfig({ BATON_HEARTBEAT: '0' })).toThrow(/BATON_HEARTBEAT must be a duration from 1s to 5m/);
    expect(() => loadConfig({ BATON_HEARTBEAT: 'often' })).toThrow(/BATON_HEARTBEAT must be a duration from 1s to 5m/);
    expect(loadConfig({})).toMatchObject({ dpop: 'auto', heartbeatMs: 10_000, issuerSet: false });
    expect(loadConfig({ BATON_ISSUER: 'https://auth.example.com', BATON_HEARTBEAT: '2s' })).toMatchObject({ heartbeatMs: 2000, issuerSet: true });
  });

  it('a config file that is not JSON is named, and none of its text is repeated (it may hold a secret)', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ "BATON_SECRET": "hunter2-hunter2-hunter2-hunter2-hunter2" ');
    let message = '';
    try {
      loadConfig({ BATON_CONFIG: file });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(`Cannot read the config file ${file}: it is not valid JSON.`);
    expect(() => loadConfig({ BATON_CONFIG: join(dir, 'missing.json') })).toThrow(/missing\.json: ENOENT\.$/);
  });

  it('a misspelled setting in the config file stops the start with the nearest name (#22: it was ignored, its setting left at the default)', () => {
    const file = join(dir, 'typo.json');
    writeFileSync(file, JSON.stringify({ PORT: 8080, BATON_ACESS_TTL: '5m' }));
    expect(() => loadConfig({ BATON_CONFIG: file })).toThrow(/names "BATON_ACESS_TTL", which is no setting: did you mean BATON_ACCESS_TTL\?/);
    writeFileSync(file, JSON.stringify({ SOMETHING_ELSE: 1 }));
    expect(() => loadConfig({ BATON_CONFIG: file })).toThrow(/names "SOMETHING_ELSE", which is no setting \(every setting/);
    writeFileSync(file, '{"constructor": 1, "toString": 2}'); // names every object has are no settings either
    expect(() => loadConfig({ BATON_CONFIG: file })).toThrow(/names "constructor", which is no setting/);
    writeFileSync(file, '[1, 2]');
    expect(() => loadConfig({ BATON_CONFIG: file })).toThrow(/must hold one JSON object of settings/);
    writeFileSync(file, JSON.stringify({ PORT: 8080, BATON_ACCESS_TTL: '5m' }));
    expect(loadConfig({ BATON_CONFIG: file }).port).toBe(8080);
  });
});

// The port the command's service listens on, and the commands find it at: a free one of this run.
const CLI_PORT = String(await freePort());

describe('the baton command', () => {
  const env = { ...process.env, PORT: CLI_PORT, BATON_STORE: `sqlite:${join(dir, 'cli', 'baton.sqlite')}`, BATON_LOG_LEVEL: 'silent' };
  const baton = (args: string[], input?: string) =>
    new Promise<{ code: number; stdout: string; stderr: string; store: string | undefined }>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], { env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, ...split(stderr) }));
      child.stdin.end(input ?? '');
    });

  it('manages users, keys and sessions, and inspects tokens without printing them', async () => {
    const created = await baton(['users', 'add', 'carol', '--password-stdin'], 'a long password\n');
    expect(created.stdout).toMatch(/^Created user carol \(usr_/);
    expect(created.store).toBe(`${env.BATON_STORE} (BATON_STORE)`); // every command acting on a store says which
    const dup = await baton(['users', 'add', 'carol', '--password-stdin'], 'another password\n');
    expect(dup.code).toBe(1);
    expect(dup.stderr).toBe('baton: The user carol already exists.\n');
    expect((await baton(['users', 'list'])).stdout).toMatch(/^carol\tusr_/);
    const keys = await baton(['keys', 'list']);
    expect(keys.stdout).toMatch(/\tEdDSA\tactive/);
    const rotated = await baton(['keys', 'rotate']);
    expect(rotated.stdout).toMatch(/^Signing with .+; .+ is published for the next rotation\.$/m);
    expect((await baton(['keys', 'list'])).stdout.match(/\tEdDSA\t/g)).toHaveLength(3);

    // A session made by the service on the same store, seen and revoked from the command line.
    const config = loadConfig({ PORT: env.PORT, BATON_STORE: env.BATON_STORE, BATON_LOG_LEVEL: 'silent' });
    const server = await startServer(config);
    const login = await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'carol', password: 'a long password' }),
    });
    const pair = (await login.json()) as { access_token: string; session_id: string };
    await server.stop();
    expect((await baton(['sessions', 'list', 'carol'])).stdout).toContain(pair.session_id);
    const inspect = await baton(['token', 'inspect', pair.access_token]);
    expect(inspect.code).toBe(0);
    expect(JSON.parse(inspect.stdout)).toMatchObject({ verdict: 'valid', claims: { sid: pair.session_id }, header: { typ: 'at+jwt' } });
    expect(inspect.stdout).not.toContain(pair.access_token.split('.')[2]);
    expect((await baton(['sessions', 'revoke', '--user', 'carol'])).stdout).toBe('Revoked 1 session(s).\n');
    const revoked = await baton(['token', 'inspect', pair.access_token]);
    expect(JSON.parse(revoked.stdout).verdict).toMatch(/^ERR_SESSION_REVOKED/);
    expect(revoked.code).toBe(1); // scripts can test a token with the exit status
    const history = (await baton(['sessions', 'history', 'carol'])).stdout;
    expect(history).toMatch(new RegExp(`\\tsession\\.revoked\\t${pair.session_id}\\tdefault\\tadmin`));
    expect(history).toMatch(new RegExp(`\\tsession\\.created\\t${pair.session_id}\\t`));
    expect(history).not.toContain('Older sessions'); // one page
    const badCursor = await baton(['sessions', 'history', 'carol', '--before', 'x']);
    expect([badCursor.code, badCursor.stderr]).toEqual([1, expect.stringMatching(/^baton: before must be the `next` cursor of a previous page/)]);

    // A new password ends every session of the user, and says why to their clients.
    const server2 = await startServer(config);
    const again = await fetch(`${server2.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'carol', password: 'a long password' }),
    });
    const { refresh_token } = (await again.json()) as { refresh_token: string };
    await server2.stop();
    expect((await baton(['users', 'passwd', 'carol', '--password-stdin'], 'a newer password\n')).stdout).toBe(
      'Changed the password of carol; 1 session(s) ended (password_changed).\n',
    );
    const server3 = await startServer(config);
    try {
      const refused = await fetch(`${server3.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token }),
      });
      expect(await refused.json()).toMatchObject({ error: 'invalid_grant', session_end: { reason: 'password_changed' } });
      const old = await fetch(`${server3.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'carol', password: 'a long password' }),
      });
      expect(old.status).toBe(401);
    } finally {
      await server3.stop();
    }
    const piped = await baton(['users', 'passwd', 'carol'], 'no terminal here\n');
    expect([piped.code, piped.stderr]).toEqual([
      1,
      expect.stringMatching(
        /^baton: There is no terminal to ask for the password: pipe it with --password-stdin \(e\.g\. `printf %s "\$PASSWORD" \| (npm run baton --|npx baton) users passwd carol --password-stdin`\)\.\n$/,
      ),
    ]);
    expect((await baton(['users', 'remove', 'carol'])).stdout).toBe('Removed carol.\n');
  }, 60_000);

  it('registers clients and user scopes that the running service enforces; reads tokens from standard input', async () => {
    expect((await baton(['clients', 'add', 'shop', '--scopes', 'profile orders:read'])).stdout).toBe(
      'Registered public client shop (scopes: profile orders:read).\n',
    );
    const confidential = await baton(['clients', 'add', 'reports', '--introspect']);
    const secret = /shown only now:\n(\S+)/.exec(confidential.stdout)?.[1] as string;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const list = (await baton(['clients', 'list'])).stdout;
    expect(list).toMatch(/^reports\tconfidential, introspects\t\(no scope\)\t\(every resource\)\t\(no redirect URI\)$/m);
    expect(list).not.toContain(secret);
    expect((await baton(['clients', 'add', 'kiosk', '--dpop', 'required'])).stdout).toBe('Registered public client kiosk, DPoP required.\n');
    expect((await baton(['clients', 'list'])).stdout).toMatch(/^kiosk\tpublic, DPoP required\t/m);
    expect(await baton(['clients', 'add', 'kiosk2', '--dpop', 'sometimes'])).toMatchObject({
      code: 1,
      stderr: 'baton: --dpop is required or allowed, not "sometimes".\n',
    });
    expect((await baton(['users', 'add', 'dave', '--password-stdin', '--scopes', 'profile'], 'dave password 1\n')).stdout).toMatch(/with scopes profile\.$/m);

    const server = await startServer(loadConfig({ PORT: env.PORT, BATON_STORE: env.BATON_STORE, BATON_LOG_LEVEL: 'silent' }));
    try {
      const login = (scope: string) =>
        fetch(`${server.url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'dave', password: 'dave password 1', client_id: 'shop', scope }),
        });
      expect(await (await login('orders:read')).json()).toMatchObject({ error: 'invalid_scope' });
      expect((await baton(['users', 'scopes', 'dave', 'profile orders:read'])).stdout).toBe('dave may be granted: profile orders:read.\n');
      const pair = (await (await login('orders:read')).json()) as { access_token: string; scope: string };
      expect(pair.scope).toBe('orders:read');
      const introspected = await fetch(`${server.url}/oauth/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`reports:${secret}`).toString('base64')}` },
        body: new URLSearchParams({ token: pair.access_token }),
      });
      expect(await introspected.json()).toMatchObject({ active: true, client_id: 'shop', scope: 'orders:read' });
      const kiosk = await fetch(`${server.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'dave', password: 'dave password 1', client_id: 'kiosk' }),
      });
      expect([kiosk.status, (await kiosk.json()).error]).toEqual([400, 'invalid_dpop_proof']); // the service enforces the CLI's policy
      const inspect = await baton(['token', 'inspect', '-'], `${pair.access_token}\n`);
      expect(JSON.parse(inspect.stdout)).toMatchObject({ verdict: 'valid', claims: { scope: 'orders:read', client_id: 'shop' } });
    } finally {
      await server.stop();
    }
    expect((await baton(['clients', 'remove', 'shop'])).stdout).toBe('Removed shop.\n');
    expect((await baton(['clients', 'remove', 'shop'])).stderr).toBe('baton: There is no client shop.\n');
  }, 60_000);

  it("acts on the running service's store and issuer when the environment names none, and warns when it names another", async () => {
    const runtime = join(dir, 'runtime', 'service.json');
    const store = `sqlite:${join(dir, 'shared', 'baton.sqlite')}`;
    const child = spawn(process.execPath, [CLI, 'serve'], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', BATON_STORE: store, BATON_RUNTIME_FILE: runtime, BATON_LOG_LEVEL: 'silent' },
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          const m = /listening on (http:\/\/\S+)/.exec(d.toString());
          if (m) resolve(m[1] as string);
        });
        child.once('exit', () => reject(new Error('server exited early')));
      });
      expect(JSON.parse(readFileSync(runtime, 'utf8'))).toMatchObject({ url, issuer: url, store, pid: child.pid });
      expect(statSync(runtime).mode & 0o777).toBe(0o600);
      const { BATON_STORE: _unused, ...withoutStore } = env;
      const cli = (args: string[], extra: Record<string, string> = {}, input = '') =>
        new Promise<{ code: number; stdout: string; stderr: string; store: string | undefined }>((resolve) => {
          const c = spawn(process.execPath, [CLI, ...args], { env: { ...withoutStore, BATON_RUNTIME_FILE: runtime, ...extra } });
          let stdout = '';
          let stderr = '';
          c.stdout.on('data', (d) => (stdout += d));
          c.stderr.on('data', (d) => (stderr += d));
          c.on('close', (code) => resolve({ code: code ?? -1, stdout, ...split(stderr) }));
          c.stdin.end(input);
        });
      const added = await cli(['users', 'add', 'dana', '--password-stdin'], {}, 'dana password 1\n');
      expect(added.stderr).toBe('');
      expect(added.store).toBe(`${store} (announced in ${runtime} by the service running as process ${child.pid})`);
      const login = await fetch(`${url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'dana', password: 'dana password 1' }),
      });
      expect(login.status).toBe(200); // the user the command made is the running service's
      const { access_token } = (await login.json()) as { access_token: string };
      const inspect = await cli(['token', 'inspect', '-'], {}, access_token);
      expect([inspect.code, JSON.parse(inspect.stdout).verdict]).toEqual([0, 'valid']); // its issuer, with the port it picked
      const elsewhere = await cli(['users', 'list'], { BATON_STORE: `sqlite:${join(dir, 'other', 'baton.sqlite')}` });
      expect(elsewhere.stderr).toMatch(
        new RegExp(
          `^baton: warning: this command uses BATON_STORE=sqlite:.*other.*, but the service running as process ${child.pid} uses ${store.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`,
        ),
      );
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    expect(existsSync(runtime)).toBe(false);
  }, 60_000);

  it('inspects a token issued for an API (RFC 8707 resource) as valid', async () => {
    const server = await startServer(
      loadConfig({ PORT: env.PORT, BATON_STORE: env.BATON_STORE, BATON_LOG_LEVEL: 'silent', BATON_RESOURCES: 'https://orders.example.com' }),
    );
    try {
      await users.add(server.service.store, 'erin', 'erin password 1').catch(() => undefined);
      const login = await fetch(`${server.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'erin', password: 'erin password 1', resource: 'https://orders.example.com' }),
      });
      const { access_token } = (await login.json()) as { access_token: string };
      const inspect = await baton(['token', 'inspect', '-'], access_token);
      expect([inspect.code, JSON.parse(inspect.stdout).verdict, JSON.parse(inspect.stdout).claims.aud]).toEqual([0, 'valid', 'https://orders.example.com']);
    } finally {
      await server.stop();
    }
  }, 30_000);

  it('says its version, and every setting in serve --help', async () => {
    const version = await run(process.execPath, [CLI, '--version']);
    expect(version.stdout.trim()).toBe(
      (JSON.parse(readFileSync(new URL('../../packages/baton-auth-server/package.json', import.meta.url), 'utf8')) as { version: string }).version,
    );
    const help = (await run(process.execPath, [CLI, 'serve', '--help'])).stdout;
    for (const { env: name } of SETTINGS_TABLE) expect(help).toMatch(new RegExp(`^  ${name} `, 'm'));
    expect(help).toContain('BATON_RUNTIME_FILE');
  });

  it('names the variables a mistake is about, and warns of a long grace window', async () => {
    const store = `sqlite:${join(dir, 'ttl', 'baton.sqlite')}`;
    await expect(
      startServer(loadConfig({ PORT: '0', BATON_STORE: store, BATON_ACCESS_TTL: '1h', BATON_REFRESH_TTL: '5m', BATON_LOG_LEVEL: 'silent' })),
    ).rejects.toThrow(/BATON_REFRESH_TTL .*BATON_ACCESS_TTL/);
    expect(loadConfig({ BATON_REFRESH_GRACE: '1h' }).warnings).toEqual([expect.stringMatching(/^BATON_REFRESH_GRACE=1h is long/)]);
    expect(loadConfig({}).warnings).toEqual([]);
    const memory = await new Promise<string>((resolve) => {
      execFile(process.execPath, [CLI, 'users', 'list'], { env: { ...env, BATON_STORE: 'memory:' } }, (_err, _out, stderr) => resolve(stderr));
    });
    expect(memory).toMatch(/^baton: The store is memory: .*no command can reach/);
  }, 30_000);

  it('revokes a session whose id starts with a dash (1 in 64 do), which the argument parser would take for an option', async () => {
    const config = loadConfig({ PORT: env.PORT, BATON_STORE: env.BATON_STORE, BATON_LOG_LEVEL: 'silent' });
    const server = await startServer(config);
    // Users whose sessions' ids start with `-` and with `-h` (the help flag's letter).
    const userWhoseTagStarts = (prefix: string) => {
      for (let i = 0; ; i++) if (userTag(`usr_dash${i}`).startsWith(prefix)) return `usr_dash${i}`;
    };
    const ids = [
      (await server.service.baton.login(userWhoseTagStarts('-'))).session_id,
      (await server.service.baton.login(userWhoseTagStarts('-h'))).session_id,
    ];
    await server.stop();
    for (const id of ids) {
      expect(id).toMatch(/^-/);
      const revoked = await baton(['sessions', 'revoke', id]);
      expect([revoked.code, revoked.stdout, revoked.stderr]).toEqual([0, `Revoked ${id}.\n`, '']);
      expect((await baton(['sessions', 'revoke', id])).stdout).toBe(`No active session ${id}.\n`);
    }
  });

  it('explains mistakes in a sentence with a non-zero exit', async () => {
    const missing = await baton(['sessions', 'list', 'nobody']);
    expect([missing.code, missing.stderr]).toEqual([1, 'baton: There is no user nobody.\n']);
    const both = await baton(['sessions', 'revoke']);
    expect(both.stderr).toBe('baton: Give a session id or --user <name>, not both.\n');
    const badStore = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, [CLI, 'users', 'list'], { env: { ...env, BATON_STORE: 'mysql://x' } }, (err, _out, stderr) =>
        resolve({ code: err ? (err as { code: number }).code : 0, stderr }),
      );
    });
    expect(badStore.code).toBe(1);
    expect(badStore.stderr).toMatch(/^baton: Configuration error: BATON_STORE must be/);
    const help = await run(process.execPath, [CLI, 'users', 'add', '--help']);
    expect(help.stdout).toMatch(/--password-stdin/);
  }, 30_000);
});

describe('graceful shutdown', () => {
  it('SIGTERM finishes the request in flight, then exits 0', async () => {
    const child = spawn(process.execPath, [CLI, 'serve'], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent' },
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        const m = /listening on (http:\/\/\S+)/.exec(d.toString());
        if (m) resolve(m[1] as string);
      });
      child.once('exit', () => reject(new Error('server exited early')));
    });
    // A slow upload keeps a request in flight while SIGTERM arrives.
    const { request } = await import('node:http');
    const inflight = new Promise<number>((resolve, reject) => {
      const req = request(`${url}/oauth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('token=');
      setTimeout(() => req.end('abc'), 400);
    });
    await new Promise((r) => setTimeout(r, 100));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await inflight).toBe(200);
    expect(await exited).toBe(0);
  }, 30_000);
});
