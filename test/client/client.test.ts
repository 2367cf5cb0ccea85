/**
 * The client SDK against a real Baton handler called in-process (its `fetch` is the handler), with
 * a clock the test moves. Also the Node file storage with two "processes" on one file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatonClientError, createTokenClient, memoryStorage, NotSignedInError, SessionEndedError, TransientRefreshError } from 'baton-auth-client';
import type { TokenClientOptions } from 'baton-auth-client';
import { fileStorage, redisTokenStorage } from 'baton-auth-client/node';
import { Redis } from 'ioredis';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, Refusal } from 'baton-auth/http';
import { createGuard } from '../../packages/baton-auth/src/http/guard.ts';
import { memoryStore } from 'baton-auth/stores/memory';
import { ManualClock } from '../support/clock.ts';
import { startRedis } from '../support/redis-servers.ts';
import type { RedisServer } from '../support/redis-servers.ts';

const ISSUER = 'https://auth.test';
const dir = mkdtempSync(join(tmpdir(), 'baton-client-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A Baton server in-process: the token endpoints plus an API at /api/* that requires a token. */
function server(options: { skewMs?: number; sessionMaxAge?: number } = {}) {
  const clock = new ManualClock(Date.now());
  const baton = createBaton({
    issuer: ISSUER,
    keys: [generateKey('HS256')],
    refreshTokenSecret: randomBytes(32),
    store: memoryStore(),
    accessTokenTtl: 60,
    refreshRateLimit: false,
    now: () => clock.now() + (options.skewMs ?? 0),
    ...(options.sessionMaxAge === undefined ? {} : { sessionMaxAge: options.sessionMaxAge, refreshTokenTtl: options.sessionMaxAge }),
  });
  const handler = createAuthHandler({ baton, authenticate: async () => ({ userId: 'u1' }) });
  const counts = { token: 0, api: 0 };
  let down = 0;
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const path = new URL(request.url).pathname;
    if (path === '/oauth/token') {
      counts.token++;
      if (down > 0) {
        down--;
        return new Response('{"error":"temporarily_unavailable"}', { status: 503, headers: { 'retry-after': '0' } });
      }
    }
    if (path.startsWith('/api/')) {
      counts.api++;
      const auth = await createGuard(baton, { audience: baton.audience })(request.headers.get('authorization'), '');
      if (auth instanceof Refusal) return Response.json(auth.body, { status: auth.status });
      return Response.json({ sub: auth.sub, body: request.method === 'POST' ? await request.text() : undefined });
    }
    return handler(request);
  };
  const login = async () =>
    (await (
      await handler(
        new Request(`${ISSUER}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":"a","password":"b"}' }),
      )
    ).json()) as { access_token: string; refresh_token: string; expires_in: number };
  // Bearer, as the API above checks and the counts of token requests assume (DPoP: test/client/dpop*.test.ts).
  const client = (extra: Partial<TokenClientOptions> = {}) =>
    createTokenClient({ issuer: ISSUER, fetch: fetchImpl as typeof fetch, now: clock.now, retry: { baseMs: 1, maxMs: 5 }, dpop: false, ...extra });
  return { baton, clock, counts, login, client, failNext: (n: number) => void (down = n) };
}

describe('refresh strategies', () => {
  it('attaches the token, and refreshes proactively within the margin of expiry (from expires_in and the local clock)', async () => {
    const s = server({ skewMs: 3_600_000 }); // the server's clock is an hour ahead: the client must not care
    const client = s.client({ refreshMargin: 10_000, jitter: 0 });
    await client.setTokens(await s.login());
    const first = await client.fetch(`${ISSUER}/api/me`);
    expect(await first.json()).toMatchObject({ sub: 'u1' });
    expect(s.counts.token).toBe(0);
    s.clock.advance(45_000);
    await client.fetch(`${ISSUER}/api/me`);
    expect(s.counts.token).toBe(0);
    s.clock.advance(6_000); // 9 s left < 10 s margin
    await client.fetch(`${ISSUER}/api/me`);
    expect(s.counts.token).toBe(1);
  });

  it("near the session's absolute end: the token is capped at it (expires_in), and no refresh is made before it expires — one at expiry, which signs out", async () => {
    const s = server({ sessionMaxAge: 100 }); // access tokens 60 s, the session 100 s (idle and absolute)
    const client = s.client({ jitter: 0 });
    const expired: string[] = [];
    client.on('sessionEnded', (e) => expired.push(e.reason));
    await client.setTokens(await s.login());
    let lastOk = 0;
    for (let t = 1; t <= 101; t++) {
      s.clock.advance(1000);
      try {
        await client.getAccessToken();
        lastOk = t;
      } catch (err) {
        expect(err).toBeInstanceOf(SessionEndedError);
        break;
      }
    }
    // One refresh within the margin of the first token (capped at the session's end: 52 s), then none until it expired.
    expect(s.counts.token).toBe(2);
    expect(lastOk).toBe(99);
    expect(expired).toHaveLength(1);
  });

  it('single-flight: N concurrent requests on an expired token make exactly one refresh', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 100 }), async (n) => {
        const s = server();
        const client = s.client();
        await client.setTokens(await s.login());
        s.clock.advance(61_000);
        const responses = await Promise.all(Array.from({ length: n }, () => client.fetch(`${ISSUER}/api/me`)));
        expect(responses.every((r) => r.status === 200)).toBe(true);
        expect(s.counts.token).toBe(1);
      }),
      { numRuns: 15 },
    );
  });

  it('on 401: refreshes once and retries once, replaying a streamed body', async () => {
    const s = server();
    const client = s.client();
    const pair = await s.login();
    await client.setTokens(pair);
    await s.baton.revoke(pair.access_token); // the server stops accepting this access token
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('payload'));
        c.close();
      },
    });
    const res = await client.fetch(`${ISSUER}/api/transfer`, { method: 'POST', body, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ body: 'payload' });
    expect(s.counts.token).toBe(1);
    expect(s.counts.api).toBe(2);
  });

  it('invalid_grant: sessionEnded, tokens cleared; the 401 goes back to the caller', async () => {
    const s = server();
    const storage = memoryStorage();
    const client = s.client({ storage });
    const expired: string[] = [];
    client.on('sessionEnded', (e) => expired.push(e.reason));
    const pair = await s.login();
    await client.setTokens(pair);
    await s.baton.revokeUserSessions('u1');
    const res = await client.fetch(`${ISSUER}/api/me`);
    expect(res.status).toBe(401);
    expect(expired).toEqual(['revoked']); // revokeUserSessions' default reason, from the server's session_end
    expect(await storage.get()).toBeNull();
    await expect(client.fetch(`${ISSUER}/api/me`)).rejects.toBeInstanceOf(NotSignedInError);
  });

  it('its errors share BatonClientError, with codes of their own: not signed in, session ended, refresh unavailable', async () => {
    const s = server();
    const client = s.client({ retry: { attempts: 2, baseMs: 1, maxMs: 2 } });
    const none = (await client.getAccessToken().catch((e: unknown) => e)) as BatonClientError;
    expect(none).toBeInstanceOf(NotSignedInError);
    expect(none.code).toBe('ERR_NOT_SIGNED_IN');
    await client.setTokens(await s.login());
    s.failNext(10);
    const transient = (await client.refresh().catch((e: unknown) => e)) as BatonClientError;
    expect(transient).toBeInstanceOf(TransientRefreshError);
    expect(transient).toBeInstanceOf(BatonClientError);
    expect(transient.code).toBe('ERR_REFRESH_UNAVAILABLE');
    s.failNext(0);
    await s.baton.revokeUserSessions('u1');
    const ended = (await client.refresh().catch((e: unknown) => e)) as BatonClientError;
    expect(ended).toBeInstanceOf(SessionEndedError);
    expect(ended).toBeInstanceOf(BatonClientError);
    expect(ended.code).toBe('ERR_SESSION_ENDED');
  });

  it('503 and network errors: backoff and retry, the session kept', async () => {
    const s = server();
    const client = s.client({ retry: { attempts: 4, baseMs: 1, maxMs: 5 } });
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    await client.setTokens(await s.login());
    s.clock.advance(61_000);
    s.failNext(2);
    expect((await client.fetch(`${ISSUER}/api/me`)).status).toBe(200);
    expect(s.counts.token).toBe(3);
    s.clock.advance(61_000);
    s.failNext(10);
    await expect(client.refresh()).rejects.toBeInstanceOf(TransientRefreshError);
    expect(errors).toHaveLength(1);
    s.failNext(0);
    expect((await client.fetch(`${ISSUER}/api/me`)).status).toBe(200); // nothing was lost
  });

  it('hooks run around each request, ky-style', async () => {
    const s = server();
    const seen: string[] = [];
    const client = s.client({
      hooks: {
        beforeRequest: [
          (r) => {
            seen.push(`before ${new URL(r.url).pathname}`);
            return new Request(r, { headers: { ...Object.fromEntries(r.headers), 'x-trace': '1' } });
          },
        ],
        afterResponse: [
          (_r, res) => {
            seen.push(`after ${res.status}`);
          },
        ],
      },
    });
    await client.setTokens(await s.login());
    await client.fetch(`${ISSUER}/api/me`);
    expect(seen).toEqual(['before /api/me', 'after 200']);
  });

  it('logout revokes the refresh token at the server (RFC 7009) and clears storage', async () => {
    const s = server();
    const storage = memoryStorage();
    const client = s.client({ storage });
    const pair = await s.login();
    await client.setTokens(pair);
    await client.logout();
    expect(await storage.get()).toBeNull();
    expect(await s.baton.introspect(pair.refresh_token)).toEqual({ active: false });
  });
});

describe('Node file storage', () => {
  it("writes 0600 atomically; two processes on one file refresh once, the second reusing the first's result", async () => {
    const s = server();
    const path = join(dir, 'a', 'tokens.json');
    const one = s.client({ storage: fileStorage(path) });
    const two = s.client({ storage: fileStorage(path) });
    await one.setTokens(await s.login());
    expect(statSync(path).mode & 0o777).toBe(0o600);
    s.clock.advance(61_000);
    const [a, b] = await Promise.all([one.fetch(`${ISSUER}/api/me`), two.fetch(`${ISSUER}/api/me`)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(s.counts.token).toBe(1);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('takes over a lock left by a dead process', async () => {
    const s = server();
    const path = join(dir, 'b', 'tokens.json');
    const { mkdirSync, utimesSync } = await import('node:fs');
    const client = s.client({ storage: fileStorage(path, { staleMs: 2000 }) });
    await client.setTokens(await s.login());
    mkdirSync(`${path}.lock`); // a crashed process's lock
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${path}.lock`, old, old);
    s.clock.advance(61_000);
    expect((await client.fetch(`${ISSUER}/api/me`)).status).toBe(200);
  });
});

describe("encrypted Redis storage (backends holding many users' tokens)", () => {
  let redisServer: RedisServer | undefined;
  beforeAll(async () => {
    redisServer = await startRedis(); // this suite's own
  }, 60_000);
  afterAll(async () => {
    await redisServer?.stop();
  });
  it('encrypts per user, expires before the refresh token, and lets two instances refresh once', async () => {
    const s = server();
    const redis = new Redis((redisServer as RedisServer).url);
    const prefix = `baton-client-test-${randomBytes(3).toString('hex')}:`;
    const key = randomBytes(32);
    const one = s.client({ storage: redisTokenStorage({ redis, key, issuer: ISSUER, userId: 'u1', prefix }) });
    // Another instance: its own id, so only the Redis lock keeps the two from refreshing twice.
    const two = s.client({ storage: { ...redisTokenStorage({ redis, key, issuer: ISSUER, userId: 'u1', prefix }), id: 'second-instance' } });
    const pair = await s.login();
    await one.setTokens({ ...pair, refresh_expires_in: 3600 });
    const partner = createHash('sha256').update(ISSUER).digest('base64url').slice(0, 16);
    const slot = (user: string, p = prefix) => `${p}{${user}}:${partner}:tokens`;
    const raw = (await redis.get(slot('u1'))) as string;
    expect(raw).not.toContain(pair.access_token.slice(0, 20));
    expect(Buffer.from(raw, 'base64').toString('latin1')).not.toContain('rt_');
    const ttl = await redis.pttl(slot('u1'));
    expect(ttl).toBeGreaterThan(3_400_000);
    expect(ttl).toBeLessThanOrEqual(3_540_000);
    // Another key, another user's slot, another partner's key name or another issuer reads nothing.
    expect(await redisTokenStorage({ redis, key: randomBytes(32), issuer: ISSUER, userId: 'u1', prefix }).get()).toBeNull();
    await redis.set(slot('u2'), raw);
    expect(await redisTokenStorage({ redis, key, issuer: ISSUER, userId: 'u2', prefix }).get()).toBeNull();
    await redis.set(slot('u1', `${prefix}partner-b:`), raw);
    expect(await redisTokenStorage({ redis, key, issuer: ISSUER, userId: 'u1', prefix: `${prefix}partner-b:` }).get()).toBeNull();
    expect(await redisTokenStorage({ redis, key, issuer: 'https://other-partner.test', userId: 'u1', prefix }).get()).toBeNull();
    expect(await redisTokenStorage({ redis, key, issuer: ISSUER, userId: 'u1', prefix }).get()).toMatchObject({ accessToken: pair.access_token });
    s.clock.advance(61_000);
    const [a, b] = await Promise.all([one.fetch(`${ISSUER}/api/me`), two.fetch(`${ISSUER}/api/me`)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(s.counts.token).toBe(1);
    redis.disconnect();
  });
});
