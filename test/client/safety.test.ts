/**
 * The SDK against the real service (and servers that pretend to be it): tokens only where they
 * belong, never a wrong logout, and the reason of every session end.
 */
import type { AddressInfo } from 'node:net';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatonClientError, createTokenClient, memoryStorage, sessionEndMessage } from 'baton-auth-client';
import type { ClientWarning, SessionEnd, TokenClientOptions } from 'baton-auth-client';
import { fileStorage } from 'baton-auth-client/node';
import { clients } from '../../packages/baton-auth-server/src/server/clients.ts';
import { startTestService } from '../support/service.ts';
import type { TestService } from '../support/service.ts';
import { eventually } from '../support/eventually.ts';
import { recordingServer as listen } from '../support/recording-server.ts';
import { codeOf } from '../support/baton.ts';

let service: TestService;
let rotations = 0;
beforeAll(async () => {
  service = await startTestService({ BATON_ACCESS_TTL: '2s', BATON_REFRESH_TTL: '1h', BATON_REFRESH_GRACE: '1s' });
  service.server.service.baton.on('refresh.rotated', () => rotations++);
});
afterAll(() => service.stop());

const client = (options: Partial<TokenClientOptions> = {}) =>
  createTokenClient({ issuer: service.url, clientId: 'default', storage: memoryStorage(), retry: { attempts: 2, baseMs: 1, maxMs: 2 }, ...options });

describe('tokens only where they belong', () => {
  it('a fetch to another origin carries no token, and its 401 spends no refresh; allowedOrigins opts an API in', async () => {
    const api = await listen((_req, res) => res.writeHead(401, { 'www-authenticate': 'Bearer' }).end());
    try {
      const c = client();
      await c.setTokens(await service.login());
      const before = rotations;
      expect((await c.fetch(`${api.url}/steal`)).status).toBe(401);
      expect(api.seen.map((r) => r.authorization)).toEqual([undefined]);
      expect(rotations).toBe(before); // the foreign 401 refreshed nothing
      expect((await c.fetch(`${service.url}/auth/me`)).status).toBe(200); // the issuer's origin gets it

      const trusting = client({ allowedOrigins: [api.url] });
      await trusting.setTokens(await service.login());
      await trusting.fetch(`${api.url}/orders`);
      // The refresh after the API's 401 carried a DPoP proof: the token it brought is bound, and goes as DPoP.
      expect(api.seen.at(-1)?.authorization).toMatch(/^(Bearer|DPoP) ey/);
      const byFunction = client({ allowedOrigins: (origin) => origin === api.url });
      await byFunction.setTokens(await service.login());
      await byFunction.fetch(`${api.url}/orders`);
      expect(api.seen.at(-1)?.authorization).toMatch(/^(Bearer|DPoP) ey/);
    } finally {
      await api.close();
    }
  });

  it('a WebSocket to another origin is refused before it opens', async () => {
    const c = client();
    await c.setTokens(await service.login());
    expect(() => c.websocket('ws://127.0.0.1:9/ws')).toThrow(expect.objectContaining({ code: 'ERR_ORIGIN_NOT_ALLOWED' }));
  });

  it('metadata naming another issuer is refused before any token is sent (RFC 8414 §3.3)', async () => {
    const fake = await listen((req, res) => {
      if (req.url?.startsWith('/.well-known/')) {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ issuer: service.url, token_endpoint: `http://127.0.0.1:${(req.socket.address() as AddressInfo).port}/token` }));
      } else res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"x","expires_in":60}');
    });
    try {
      const c = createTokenClient({ issuer: fake.url, storage: memoryStorage() });
      await c.setTokens(await service.login());
      expect(await codeOf(c.refresh())).toBe('ERR_DISCOVERY');
      expect(fake.seen.map((r) => r.url)).toEqual(['/.well-known/oauth-authorization-server']);
      expect(fake.seen.some((r) => r.body.includes('rt_'))).toBe(false);
    } finally {
      await fake.close();
    }
  });

  it("inserts the well-known path before an issuer's path (RFC 8414 §3.1), and follows no redirect", async () => {
    const fake = await listen((req, res) => {
      if (req.url === '/.well-known/oauth-authorization-server/tenant') res.writeHead(302, { location: '/elsewhere' }).end();
      else res.writeHead(404).end();
    });
    try {
      const c = createTokenClient({ issuer: `${fake.url}/tenant`, storage: memoryStorage() });
      await c.setTokens(await service.login());
      expect(await codeOf(c.refresh())).toBe('ERR_DISCOVERY');
      expect(fake.seen.map((r) => r.url)).toEqual(['/.well-known/oauth-authorization-server/tenant']); // the redirect was not followed
    } finally {
      await fake.close();
    }
  });

  it('endpoints off loopback must be https', async () => {
    expect(() => createTokenClient({ endpoints: { token: 'http://auth.example.com/oauth/token' } })).toThrow(
      expect.objectContaining({ code: 'ERR_DISCOVERY' }),
    );
    expect(() => createTokenClient({ issuer: 'http://10.1.2.3' })).toThrow(expect.objectContaining({ code: 'ERR_DISCOVERY' }));
    // The issuer is checked even when the endpoints are given, and so is every allowed origin.
    expect(() => createTokenClient({ issuer: 'http://api.example.com', endpoints: { token: 'https://auth.example.com/token' } })).toThrow(
      expect.objectContaining({ code: 'ERR_DISCOVERY' }),
    );
    expect(() => createTokenClient({ issuer: 'https://auth.example.com', allowedOrigins: ['http://api.example.com'] })).toThrow(
      expect.objectContaining({ code: 'ERR_DISCOVERY' }),
    );
    // A predicate is never asked about a plain-http origin off loopback.
    const asked: string[] = [];
    const c = createTokenClient({
      issuer: 'https://auth.example.com',
      allowedOrigins: (o) => (asked.push(o), true),
      fetch: async (input) => new Response(String(new Request(input).headers.get('authorization'))),
    });
    await c.setTokens({ access_token: 'AT-secret', refresh_token: 'r', expires_in: 3600 });
    expect(await (await c.fetch('http://api.example.com/orders')).text()).toBe('null');
    expect(asked).toEqual([]);
  });
});

describe('never a wrong logout', () => {
  /** A proxy in front of the service's token endpoint that can answer for it. */
  async function proxy(answer: () => { status: number; type: string; body: string } | undefined) {
    return listen(async (req, res, body) => {
      const own = answer();
      if (own !== undefined) return void res.writeHead(own.status, { 'content-type': own.type }).end(own.body);
      const upstream = await fetch(`${service.url}${req.url}`, {
        method: req.method ?? 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) },
        body,
      });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(await upstream.text());
    });
  }

  it("a proxy's HTML 400, a 502 and invalid_client keep the tokens; the session refreshes once the path is clear", async () => {
    let mode: 'html' | 'invalid_client' | 'pass' = 'html';
    const p = await proxy(() =>
      mode === 'html'
        ? { status: 400, type: 'text/html', body: '<html><body>Bad Request</body></html>' }
        : mode === 'invalid_client'
          ? { status: 401, type: 'application/json', body: '{"error":"invalid_client","error_description":"Client authentication failed"}' }
          : undefined,
    );
    try {
      const storage = memoryStorage();
      const c = createTokenClient({ endpoints: { token: `${p.url}/oauth/token` }, clientId: 'default', storage, retry: { attempts: 2, baseMs: 1, maxMs: 2 } });
      const expired: SessionEnd[] = [];
      const errors: Error[] = [];
      c.on('sessionEnded', (e) => expired.push(e));
      c.on('error', (e) => errors.push(e));
      const pair = await service.login();
      await c.setTokens(pair);
      expect(await codeOf(c.refresh())).toBe('ERR_REFRESH_UNAVAILABLE');
      mode = 'invalid_client';
      expect(await codeOf(c.refresh())).toBe('ERR_CLIENT_REJECTED');
      expect(errors.map((e) => (e as BatonClientError).code)).toEqual(['ERR_REFRESH_UNAVAILABLE', 'ERR_CLIENT_REJECTED']);
      expect(errors[1]?.message).toMatch(/invalid_client.*configuration/);
      expect(expired).toEqual([]);
      expect((await storage.get())?.refreshToken).toBe(pair.refresh_token);
      mode = 'pass';
      const fresh = await c.refresh();
      expect(fresh.refreshToken).not.toBe(pair.refresh_token);
      expect(expired).toEqual([]);
    } finally {
      await p.close();
    }
  });

  it('a confidential client authenticates with client_secret_basic; a wrong secret is invalid_client and logs nobody out', async () => {
    const id = `backend-${Date.now()}`;
    const { secret } = await clients.add(service.server.service.store, id, { confidential: true });
    const pair = await service.server.service.baton.login('u-backend', { clientId: id });
    const storage = memoryStorage();
    const wrong = createTokenClient({ issuer: service.url, clientId: id, clientAuthentication: { secret: `${secret}x` }, storage });
    await wrong.setTokens(pair);
    expect(await codeOf(wrong.refresh())).toBe('ERR_CLIENT_REJECTED');
    expect((await storage.get())?.refreshToken).toBe(pair.refresh_token);
    const right = createTokenClient({ issuer: service.url, clientId: id, clientAuthentication: { secret: secret as string }, storage });
    expect((await right.refresh()).refreshToken).toMatch(/^rt_/);
    expect(() => createTokenClient({ issuer: service.url, clientAuthentication: { secret: 's' } })).toThrow(/clientId/);
  });

  it('a device clock 10 minutes fast still refreshes before expiry, and says its clock is off', async () => {
    const skew = 10 * 60_000;
    const warnings: ClientWarning[] = [];
    const c = client({ now: () => Date.now() + skew, background: true });
    c.on('warning', (w) => warnings.push(w));
    let refreshedAt = 0;
    c.on('refreshed', () => (refreshedAt ||= Date.now()));
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    const started = Date.now();
    await c.setTokens(await service.login()); // a 2 s access token
    await eventually(() => refreshedAt > 0, { what: 'a background refresh', timeoutMs: 5_000 }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; errors: ${errors.map((e) => e.message).join(' | ')}`);
    });
    expect(refreshedAt - started).toBeLessThan(2_000); // before the token expired on the server
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ kind: 'clock_skew' });
    expect(Math.abs((warnings[0] as { offsetMs: number }).offsetMs + skew)).toBeLessThan(2_000);
    expect(c.clockOffset).toBeLessThan(-skew + 2_000);
    c.close();
  });
});

describe('always say why', () => {
  const baton = () => service.server.service.baton;

  it('each reason reaches sessionEnded with who, from which device and when, and reads as a sentence', async () => {
    const ended = async (end: (pair: Awaited<ReturnType<TestService['login']>>) => Promise<unknown>): Promise<SessionEnd> => {
      const c = client();
      const got: SessionEnd[] = [];
      c.on('sessionEnded', (e) => got.push(e));
      const pair = await service.login();
      await c.setTokens(pair);
      await end(pair);
      expect(await codeOf(c.refresh())).toBe('ERR_SESSION_ENDED');
      expect(got).toHaveLength(1);
      return got[0] as SessionEnd;
    };
    const userId = async () => (await service.server.service.baton.introspect((await service.login()).access_token)).sub as string;

    const admin = await ended((pair) => baton().revokeSession(pair.session_id, 'admin'));
    expect(admin).toMatchObject({ reason: 'admin' });
    expect(sessionEndMessage(admin)).toMatch(/^Signed out by an administrator at /);

    const kicked = await ended(async (pair) => {
      const other = await fetch(`${service.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0' },
        body: JSON.stringify({ username: 'tester', password: 'tester password 1' }),
      });
      const { access_token } = (await other.json()) as { access_token: string };
      const res = await fetch(`${service.url}/auth/sessions/${pair.session_id}`, { method: 'DELETE', headers: { authorization: `Bearer ${access_token}` } });
      expect(res.status).toBeLessThan(300);
    });
    expect(kicked).toMatchObject({ reason: 'kicked', by: expect.any(String), device: { userAgent: expect.stringContaining('Firefox') } });
    expect(sessionEndMessage(kicked)).toMatch(/^Signed out: this device was signed out from Firefox on Linux at /);

    const changed = await ended(async () => baton().passwordChanged(await userId()));
    expect(changed.reason).toBe('password_changed');

    const reused = await ended(async (pair) => {
      const next = await baton().refresh(pair.refresh_token);
      await new Promise((r) => setTimeout(r, 1_100)); // past the 1 s grace window
      await baton()
        .refresh(pair.refresh_token)
        .catch(() => undefined); // the old token again: reuse
      void next;
    });
    expect(reused).toMatchObject({ reason: 'reused', generation: 0 });
    expect(sessionEndMessage(reused)).toMatch(/^Signed out for your safety/);
  });
});

describe('shared work', () => {
  it('two clients over one storage (React Strict Mode mounts twice) make one refresh, and both hear of it', async () => {
    const storage = memoryStorage();
    const [a, b] = [client({ storage }), client({ storage })];
    await a.setTokens(await service.login());
    const heard: string[] = [];
    a.on('refreshed', () => heard.push('a'));
    b.on('refreshed', () => heard.push('b'));
    const before = rotations;
    const [x, y] = await Promise.all([a.refresh(), b.refresh()]);
    expect(x.accessToken).toBe(y.accessToken);
    expect(rotations).toBe(before + 1);
    expect(heard.sort()).toEqual(['a', 'b']);
  });
});

describe('fileStorage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-safety-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a symbolic link at the token path and leaves its target alone', async () => {
    const target = join(dir, 'target.txt');
    writeFileSync(target, 'precious');
    const path = join(dir, 'link.json');
    symlinkSync(target, path);
    const storage = fileStorage(path);
    expect(await codeOf(storage.set({ accessToken: 'a', receivedAt: 1, expiresAt: 2 }))).toBe('ERR_STORAGE_UNSAFE');
    expect(await codeOf(storage.get())).toBe('ERR_STORAGE_UNSAFE');
    expect(readFileSync(target, 'utf8')).toBe('precious');
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
  });

  it.runIf(process.getuid?.() === 0)('refuses a token file another user owns (a rewrite would keep its owner)', async () => {
    const path = join(dir, 'nobody.json');
    writeFileSync(path, '{}', { mode: 0o600 });
    chownSync(path, 65534, 65534);
    const storage = fileStorage(path);
    expect(await codeOf(storage.set({ accessToken: 'a', receivedAt: 1, expiresAt: 2 }))).toBe('ERR_STORAGE_UNSAFE');
    expect(await codeOf(storage.get())).toBe('ERR_STORAGE_UNSAFE');
    expect(readFileSync(path, 'utf8')).toBe('{}');
  });

  it('reads no token file in a folder others may write in or another user owns (they could have put it there), as it writes none', async () => {
    const tokens = JSON.stringify({ accessToken: 'at-of-the-folder', receivedAt: 1, expiresAt: 2 });
    const open = join(dir, 'open-folder');
    mkdirSync(open);
    chmodSync(open, 0o777);
    writeFileSync(join(open, 't.json'), tokens, { mode: 0o600 });
    const refused = await fileStorage(join(open, 't.json'))
      .get()
      .then(
        () => undefined,
        (err: unknown) => err as BatonClientError,
      );
    expect([refused?.code, refused?.message]).toEqual([
      'ERR_STORAGE_UNSAFE',
      `The folder ${open} of the token file is writable by others: \`chmod go-w ${open}\`.`,
    ]);
    if (process.getuid?.() === 0) {
      const theirs = join(dir, 'their-folder');
      mkdirSync(theirs, { mode: 0o755 });
      writeFileSync(join(theirs, 't.json'), tokens, { mode: 0o600 });
      chownSync(theirs, 65534, 65534);
      expect(await codeOf(fileStorage(join(theirs, 't.json')).get())).toBe('ERR_STORAGE_UNSAFE');
    }
    // A private folder is read as before; a missing one holds nothing.
    chmodSync(open, 0o700);
    expect(await fileStorage(join(open, 't.json')).get()).toEqual(JSON.parse(tokens));
    expect(await fileStorage(join(dir, 'none', 't.json')).get()).toBeNull();
  });

  it('refuses a token file group or others may read or write, with the chmod that fixes it; the files it writes are 0600', async () => {
    const path = join(dir, 'open.json');
    const tokens = { accessToken: 'at-of-the-open-file', refreshToken: 'rt_of.the.open-file', receivedAt: 1, expiresAt: 2 };
    for (const mode of [0o644, 0o640, 0o604, 0o660, 0o606]) {
      writeFileSync(path, JSON.stringify(tokens));
      chmodSync(path, mode);
      const refused = await fileStorage(path)
        .get()
        .then(
          () => undefined,
          (err: unknown) => err as BatonClientError,
        );
      expect(refused?.code, mode.toString(8)).toBe('ERR_STORAGE_UNSAFE');
      expect(refused?.message).toBe(
        `The token file ${path} is open to other users (mode ${mode.toString(8)}): \`chmod 600 ${path}\`, and sign in again if someone else could have read it.`,
      );
      expect(refused?.message).not.toContain('open-file'); // nothing of the tokens
    }
    chmodSync(path, 0o600);
    expect(await fileStorage(path).get()).toEqual(tokens);
    // A write replaces an open file with a private one (never through its mode).
    chmodSync(path, 0o644);
    await fileStorage(path).set(tokens);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await fileStorage(path).get()).toEqual(tokens);
  });
});
