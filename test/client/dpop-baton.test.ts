/**
 * The SDK's DPoP (RFC 9449) against the real Baton handler, called in-process (its `fetch` is the
 * handler), with an API behind `requireAuth` (the Hono adapter): a sign-in that binds the session
 * to the client's key, refreshes over DPoP, `Authorization: DPoP` to the API, and a bound refresh
 * token that is useless without the key — also after a restart over the same token file. And a
 * WebSocket to the service that stays authenticated with a bound token across lifetimes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { decodeJwt, EmbeddedJWK, jwtVerify } from 'jose';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { createTokenClient, memoryStorage } from 'baton-auth-client';
import type { TokenClientOptions } from 'baton-auth-client';
import { fileStorage } from 'baton-auth-client/node';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler } from 'baton-auth/http';
import { requireAuth } from 'baton-auth/adapters/hono';
import type { BatonVariables } from 'baton-auth/adapters/hono';
import { memoryStore } from 'baton-auth/stores/memory';
import { startTestService } from '../support/service.ts';
import { eventually } from '../support/eventually.ts';
import { codeOf } from '../support/baton.ts';

const ISSUER = 'https://auth.test';
const LOGIN = `${ISSUER}/auth/login`;
const dir = mkdtempSync(join(tmpdir(), 'baton-dpop-baton-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Seen {
  path: string;
  authorization: string | null;
  dpop: string | null;
  status: number;
}

/** A Baton service in-process, an API at /api/* behind requireAuth, every request recorded. */
function server() {
  const baton = createBaton({
    issuer: ISSUER,
    keys: [generateKey('ES256')],
    refreshTokenSecret: randomBytes(32),
    store: memoryStore(),
    accessTokenTtl: 60,
    refreshRateLimit: false,
  });
  const handler = createAuthHandler({ baton, authenticate: async (_user, password) => (password === 'right' ? { userId: 'u1' } : null) });
  const api = new Hono<{ Variables: BatonVariables }>();
  api.get('/api/me', requireAuth(baton, { audience: baton.audience }), (c) => c.json({ sub: c.get('auth').sub, cnf: c.get('auth').cnf }));
  const seen: Seen[] = [];
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const path = new URL(request.url).pathname;
    const response = path.startsWith('/api/') ? await api.fetch(request) : await handler(request);
    seen.push({ path, authorization: request.headers.get('authorization'), dpop: request.headers.get('dpop'), status: response.status });
    return response;
  };
  const client = (extra: Partial<TokenClientOptions> = {}) =>
    createTokenClient({ issuer: ISSUER, fetch: fetchImpl as typeof fetch, retry: { attempts: 2, baseMs: 1, maxMs: 2 }, ...extra });
  return { baton, seen, client, fetch: fetchImpl, at: (path: string) => seen.filter((s) => s.path === path) };
}

async function proofOf(s: Seen) {
  return (await jwtVerify(s.dpop as string, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] })).payload;
}

describe('DPoP against Baton', () => {
  it("signIn binds the session to the client's key (nonce retry once); refreshes go over DPoP; the API gets Authorization: DPoP", async () => {
    const s = server();
    const client = s.client({ storage: memoryStorage() });
    const thumbprint = await client.dpopThumbprint();
    expect(thumbprint).toMatch(/^[\w-]{43}$/); // the metadata offers ES256: on by default

    const tokens = await client.signIn(LOGIN, { username: 'alice', password: 'right' });
    expect(tokens.tokenType).toBe('DPoP');
    expect(s.at('/auth/login').map((r) => r.status)).toEqual([400, 200]); // use_dpop_nonce, then the retry with the nonce
    expect((await proofOf(s.at('/auth/login')[1]!)).nonce).toEqual(expect.any(String));
    expect(decodeJwt(tokens.accessToken).cnf).toEqual({ jkt: thumbprint });

    const me = await client.fetch(`${ISSUER}/api/me?x=1`);
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ sub: 'u1', cnf: { jkt: thumbprint } });
    const call = s.at('/api/me')[0]!;
    expect(call.authorization).toBe(`DPoP ${tokens.accessToken}`);
    expect(await proofOf(call)).toMatchObject({ htm: 'GET', htu: `${ISSUER}/api/me` });

    const refreshed = await client.refresh();
    expect(refreshed).toMatchObject({ tokenType: 'DPoP' });
    expect(refreshed.refreshToken).not.toBe(tokens.refreshToken);
    expect(decodeJwt(refreshed.accessToken).cnf).toEqual({ jkt: thumbprint });
    expect(s.at('/oauth/token').map((r) => r.status)).toEqual([200]); // the login's answer gave the nonce: no retry
    expect((await client.fetch(`${ISSUER}/api/me`)).status).toBe(200);
    expect(s.at('/api/me').at(-1)?.authorization).toBe(`DPoP ${refreshed.accessToken}`);

    // A bound access token presented as Bearer is refused (RFC 9449 §7.1).
    const asBearer = await s.fetch(`${ISSUER}/api/me`, { headers: { authorization: `Bearer ${refreshed.accessToken}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/DPoP/);
  });

  it('a copied bound refresh token is useless without the key — with another key or none — and the holder keeps the session', async () => {
    const s = server();
    const client = s.client({ storage: memoryStorage() });
    const tokens = await client.signIn(LOGIN, { username: 'alice', password: 'right' });
    for (const thief of [s.client({ storage: memoryStorage() }), s.client({ dpop: false })]) {
      const ended: string[] = [];
      thief.on('sessionEnded', (e) => ended.push(e.reason));
      await thief.setTokens({ access_token: 'x', expires_in: 0, refresh_token: tokens.refreshToken as string });
      expect(await codeOf(thief.refresh())).toBe('ERR_SESSION_ENDED');
      expect(ended).toEqual(['invalid_grant']);
    }
    // Nothing changed for the key's holder: no reuse tripped, the refresh token still works.
    const next = await client.refresh();
    expect(next.tokenType).toBe('DPoP');
    expect((await client.fetch(`${ISSUER}/api/me`)).status).toBe(200);
  });

  it('fileStorage: a restarted process over the same files keeps the bound session; without the key file it is over', async () => {
    const s = server();
    const path = join(dir, 'cli', 'tokens.json');
    await s.client({ storage: fileStorage(path) }).signIn(LOGIN, { username: 'alice', password: 'right' });
    const restarted = s.client({ storage: fileStorage(path) });
    const refreshed = await restarted.refresh();
    expect(refreshed.tokenType).toBe('DPoP');
    expect((await restarted.fetch(`${ISSUER}/api/me`)).status).toBe(200);

    rmSync(`${path}.dpop.json`);
    const keyless = s.client({ storage: fileStorage(path) });
    expect(await codeOf(keyless.refresh())).toBe('ERR_SESSION_ENDED'); // a new key: the server refuses the session's refresh token
  });

  it('a wrong password is a SignInError carrying the OAuth error; dpop: false signs in unbound, with Bearer tokens', async () => {
    const s = server();
    const client = s.client({ storage: memoryStorage() });
    await expect(client.signIn(LOGIN, { username: 'alice', password: 'wrong' })).rejects.toMatchObject({
      code: 'ERR_SIGN_IN_REFUSED',
      status: 401,
      error: 'invalid_grant',
    });
    const plain = s.client({ dpop: false });
    const tokens = await plain.signIn(LOGIN, { username: 'alice', password: 'right' });
    expect(tokens.tokenType).toBeUndefined();
    expect(s.at('/auth/login').at(-1)?.dpop).toBeNull();
    expect((await plain.fetch(`${ISSUER}/api/me`)).status).toBe(200);
    expect(s.at('/api/me').at(-1)?.authorization).toBe(`Bearer ${tokens.accessToken}`);
    await plain.refresh();
    expect(s.at('/oauth/token').at(-1)).toMatchObject({ dpop: null, status: 200 });
  });
});

describe('a DPoP WebSocket against the service', () => {
  it('connects with the bound token and its proof, and re-authenticates each lifetime with a new proof, on one socket', async () => {
    const service = await startTestService({ BATON_ACCESS_TTL: '3s', BATON_REFRESH_TTL: '1h' });
    onTestFinished(() => service.stop());
    const client = createTokenClient({ issuer: service.url, clientId: 'default', storage: memoryStorage() });
    const tokens = await client.signIn(`${service.url}/auth/login`, { username: 'tester', password: 'tester password 1' });
    expect(tokens.tokenType).toBe('DPoP');
    const log: string[] = [];
    const offered: string[][] = [];
    class Recording extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        offered.push([protocols ?? []].flat());
        this.addEventListener('message', (e) => log.push(`← ${(JSON.parse(String(e.data)) as { type: string }).type}`));
      }

      override send(data: string): void {
        const m = JSON.parse(data) as { type: string; dpop?: string };
        log.push(`→ ${m.type}${m.dpop === undefined ? '' : ' with a proof'}`);
        super.send(data);
      }
    }
    const ws = client.websocket(`${service.url.replace('http', 'ws')}/ws`, { WebSocket: Recording });
    onTestFinished(() => ws.close());
    await eventually(() => log.includes('← authenticated'), { what: 'the socket to authenticate' });
    expect(offered[0]?.map((p) => p.replace(/^(baton\.\w+\.).*/, '$1…'))).toEqual(['baton.v1', 'baton.dpop.…', 'baton.proof.…']);
    const first = ws.current;
    await eventually(() => log.filter((l) => l === '← reauth_ok').length >= 2, { what: 'two re-authentications', timeoutMs: 12_000 });
    expect(ws.current).toBe(first); // never reconnected
    expect(log.filter((l) => l.startsWith('→ reauth'))).toEqual(log.filter((l) => l.startsWith('→ reauth')).map(() => '→ reauth with a proof'));
    expect(log).not.toContain('← reauth_failed');
  }, 30_000);
});
