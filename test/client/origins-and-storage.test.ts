/**
 * What an outside review of the SDK broke (2026-12-05), each kept as a regression test that failed
 * before its fix: axios sending tokens anywhere, a refresh spent on a foreign 401 after a redirect,
 * a long Retry-After parking every request, Redis records of two partners or two Redis databases
 * crossing (on a Redis of this file's own), and a token file written through a symbolic link planted after the check.
 */
import { randomBytes } from 'node:crypto';
import { chownSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import axios from 'axios';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { axiosInterceptors, createTokenClient, memoryStorage } from 'baton-auth-client';
import type { StoredTokens } from 'baton-auth-client';
import { recordingServer } from '../support/recording-server.ts';
import type { RecordingServer } from '../support/recording-server.ts';
import { startRedis } from '../support/redis-servers.ts';
import type { RedisServer } from '../support/redis-servers.ts';

// Fault injection for the race below: run a hook right after fileStorage's lstat of the token path.
let afterLstat: ((path: string) => void) | undefined;
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const lstat = (async (path: string, ...rest: never[]) => {
    const s = await real.lstat(path, ...rest);
    const hook = afterLstat;
    afterLstat = undefined;
    hook?.(path);
    return s;
  }) as typeof real.lstat;
  return { ...real, lstat, default: { ...real, lstat } };
});
const { fileStorage, redisTokenStorage } = await import('baton-auth-client/node');

/** A token endpoint that mints a new pair per call, and an API on the same origin that redirects to `elsewhere`. */
let auth: RecordingServer;
let evil: RecordingServer;
let minted = 0;
beforeAll(async () => {
  evil = await recordingServer((_req, res) => res.writeHead(401, { 'www-authenticate': 'Bearer' }).end());
  auth = await recordingServer((req, res) => {
    if (req.url === '/token')
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ access_token: `AT-${++minted}`, refresh_token: `RT-${minted}`, expires_in: 3600 }));
    if (req.url?.startsWith('/go')) return void res.writeHead(302, { location: `${evil.url}/landing` }).end(); // an open redirect on the API
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
afterAll(async () => {
  await auth.close();
  await evil.close();
});
const tokenCalls = () => auth.seen.filter((r) => r.url === '/token').length;
const client = () =>
  createTokenClient({ endpoints: { token: `${auth.url}/token` }, clientId: 'app', storage: memoryStorage(), retry: { attempts: 2, baseMs: 1, maxMs: 5 } });

describe('origins', () => {
  it('axios: no token to, and no refresh for, an origin the client does not send tokens to', async () => {
    const c = client();
    await c.setTokens({ access_token: 'AT-secret', refresh_token: 'RT-0', expires_in: 3600 });
    const api = axios.create({ baseURL: auth.url });
    const { request, response } = axiosInterceptors(c, api);
    api.interceptors.request.use(request);
    api.interceptors.response.use(undefined, response);
    await api.get('/orders');
    expect(auth.seen.at(-1)?.authorization).toBe('Bearer AT-secret');
    const before = tokenCalls();
    await api.get(`${evil.url}/collect`).catch(() => undefined); // an absolute URL overrides baseURL
    expect(evil.seen.at(-1)?.authorization).toBeUndefined();
    expect(tokenCalls()).toBe(before);
  });

  it('a redirect from an allowed origin to another carries no token, and the foreign 401 spends no refresh', async () => {
    const c = client();
    await c.setTokens({ access_token: 'AT-secret', refresh_token: 'RT-0', expires_in: 3600 });
    const before = tokenCalls();
    const res = await c.fetch(`${auth.url}/go`);
    expect(res.url.startsWith(evil.url)).toBe(true);
    expect(evil.seen.at(-1)?.authorization).toBeUndefined();
    expect(tokenCalls()).toBe(before);
  });
});

describe('Retry-After', () => {
  it('a day-long Retry-After fails the refresh at once, and a still-valid token keeps working', async () => {
    const down = await recordingServer((_req, res) => res.writeHead(503, { 'retry-after': '86400', 'content-type': 'text/html' }).end('<h1>maintenance</h1>'));
    try {
      const c = createTokenClient({
        endpoints: { token: `${down.url}/token` },
        clientId: 'app',
        storage: memoryStorage(),
        retry: { attempts: 3, baseMs: 1, maxMs: 5 },
      });
      // 10 s left of a 60 s token: inside the refresh margin, still usable.
      await c.setTokens({ access_token: 'AT-valid', refresh_token: 'RT', expires_in: 60 }, Date.now() - 50_000);
      const started = Date.now();
      expect(await c.getAccessToken()).toBe('AT-valid');
      expect(Date.now() - started).toBeLessThan(2_000);
      const err = (await c.refresh().catch((e: unknown) => e)) as { code: string; retryAfterMs: number };
      expect(err).toMatchObject({ code: 'ERR_REFRESH_UNAVAILABLE' });
      expect(err.retryAfterMs).toBeGreaterThan(86_000_000);
      expect(down.seen).toHaveLength(2); // one per refresh: nothing retried into a day's wait
    } finally {
      await down.close();
    }
  });
});

describe('redisTokenStorage', () => {
  const key = randomBytes(32);
  const tokens = (tag: string, expiresIn = 3_600_000): StoredTokens => ({
    accessToken: `AT-${tag}`,
    refreshToken: `RT-${tag}`,
    receivedAt: Date.now() - 100_000,
    expiresAt: Date.now() + expiresIn,
  });
  const prefix = `redteam-${randomBytes(3).toString('hex')}:`;
  let server: RedisServer | undefined;
  let [db0, db1] = [] as unknown as [Redis, Redis];
  beforeAll(async () => {
    server = await startRedis(); // this suite's own, with its databases 0 and 1
    [db0, db1] = [new Redis(`${server.url}/0`), new Redis(`${server.url}/1`)];
  }, 60_000);
  afterAll(async () => {
    for (const r of [db0, db1]) r?.disconnect();
    await server?.stop();
  });

  it("two partners' records of one user id live side by side", async () => {
    const a = redisTokenStorage({ redis: db0, key, prefix, issuer: 'https://a.example', userId: 'u42' });
    const b = redisTokenStorage({ redis: db0, key, prefix, issuer: 'https://b.example', userId: 'u42' });
    await a.set(tokens('A'));
    await b.set(tokens('B'));
    expect((await b.get())?.accessToken).toBe('AT-B');
    expect((await a.get())?.accessToken).toBe('AT-A');
  });

  it("a refresh over one Redis database never hands out another database's user's token", async () => {
    const issuer = 'https://partner.example';
    const tenantA = redisTokenStorage({ redis: db0, key: randomBytes(32), prefix, issuer, userId: '7' });
    const tenantB = redisTokenStorage({ redis: db1, key: randomBytes(32), prefix, issuer, userId: '7' });
    await tenantA.set(tokens('tenantA', 1000));
    await tenantB.set(tokens('tenantB', 1000));
    const fetch = (async (_url: RequestInfo | URL, init?: RequestInit) => {
      const rt = new URLSearchParams(String(init?.body)).get('refresh_token');
      await new Promise((r) => setTimeout(r, 50));
      return Response.json({ access_token: `AT-for-${rt}`, refresh_token: `${rt}-next`, expires_in: 3600 });
    }) as typeof globalThis.fetch;
    const endpoints = { token: 'https://partner.example/token' };
    const [a, b] = [createTokenClient({ issuer, endpoints, storage: tenantA, fetch }), createTokenClient({ issuer, endpoints, storage: tenantB, fetch })];
    expect(await Promise.all([a.getAccessToken(), b.getAccessToken()])).toEqual(['AT-for-RT-tenantA', 'AT-for-RT-tenantB']);
  });
});

describe('fileStorage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'redteam-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a symbolic link planted between the check and the write is replaced, never written through', async () => {
    const path = join(dir, 'tokens.json');
    const target = join(dir, 'someone-elses.txt');
    writeFileSync(target, 'precious');
    if (process.getuid?.() === 0) chownSync(target, 4242, 4242);
    const storage = fileStorage(path);
    await storage.set({ accessToken: 'AT-old', receivedAt: 0, expiresAt: 1 });
    afterLstat = (p) => {
      rmSync(p);
      symlinkSync(target, p); // the race: after lstat said "regular file", before the write
    };
    await storage.set({ accessToken: 'AT-secret', refreshToken: 'RT-secret', receivedAt: 0, expiresAt: 1 }).catch(() => undefined);
    expect(readFileSync(target, 'utf8')).toBe('precious');
    if (process.getuid?.() === 0) expect(statSync(target).uid).toBe(4242);
    const written = lstatSync(path);
    if (!written.isSymbolicLink()) {
      // The rename replaced the link itself with our own private file.
      expect(written.mode & 0o777).toBe(0o600);
      expect(written.uid).toBe(process.getuid?.());
    }
  });

  it('a symbolic link swapped in before a read is refused, not followed', async () => {
    const path = join(dir, 'read.json');
    const planted = join(dir, 'planted.json');
    writeFileSync(planted, JSON.stringify({ accessToken: 'AT-attacker', receivedAt: 0, expiresAt: Date.now() + 3_600_000 }));
    symlinkSync(planted, path);
    await expect(fileStorage(path).get()).rejects.toMatchObject({ code: 'ERR_STORAGE_UNSAFE' });
  });
});
