/**
 * DPoP red team, client side: the attacks the SDK withstood, kept as regressions. Each test names
 * the attack; the real service over HTTP, hostile `node:http` servers on other loopback ports as
 * foreign origins. (The attacks it did not withstand are in the other files of this folder.)
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryStorage } from 'baton-auth-client';
import { fileStorage, redisTokenStorage } from 'baton-auth-client/node';
import { boundClient, client, hostile, proofPayload, recordingFetch, service, USER } from './helpers.ts';
import type { Hostile } from './helpers.ts';
import { codeOf } from '../../support/baton.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'baton-dpop-redteam-'));
let s: Awaited<ReturnType<typeof service>>;
const servers: Hostile[] = [];
const serve = async (...args: Parameters<typeof hostile>) => {
  const h = await hostile(...args);
  servers.push(h);
  return h;
};
beforeAll(async () => {
  s = await service();
});
afterAll(async () => {
  for (const h of servers) await h.close();
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

const nonceChallenge = (nonce: string) => ({ 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': nonce });

describe('proofs and tokens stay home', () => {
  it('a foreign origin gets neither token nor proof; its 401 use_dpop_nonce gets no retry, spends no refresh, and its nonce never reaches the issuer', async () => {
    const foreign = await serve((_req, res) => res.writeHead(401, nonceChallenge('foreign-nonce')).end());
    const rec = recordingFetch();
    const { client: c } = await boundClient(s, { fetch: rec.fetch });
    const before = s.rotations();
    expect((await c.fetch(`${foreign.url}/steal`)).status).toBe(401);
    expect(foreign.hits).toHaveLength(1);
    expect(foreign.hits[0]?.headers.authorization).toBeUndefined();
    expect(foreign.hits[0]?.headers.dpop).toBeUndefined();
    expect(s.rotations()).toBe(before);
    await c.fetch(`${s.url}/auth/me`);
    expect((await proofPayload(rec.sent.at(-1)?.dpop)).nonce).not.toBe('foreign-nonce');
  });

  it('authorizationHeaders and websocket refuse a foreign origin before signing anything', async () => {
    const { client: c } = await boundClient(s);
    expect(await codeOf(c.authorizationHeaders('GET', 'http://127.0.0.1:9/x'))).toBe('ERR_ORIGIN_NOT_ALLOWED');
    expect(await codeOf(c.authorizationHeaders('GET', `${s.url.replace('127.0.0.1', 'localhost')}/auth/me`))).toBe('ERR_ORIGIN_NOT_ALLOWED'); // same port, another origin
    expect(() => c.websocket('ws://127.0.0.1:9/ws')).toThrow(expect.objectContaining({ code: 'ERR_ORIGIN_NOT_ALLOWED' }));
  });

  it("nonces are per origin: the issuer's nonce is not sent to an allowed API, noteDpopNonce of a foreign URL does not touch the issuer's", async () => {
    const api = await serve((_req, res) => res.writeHead(200).end('{}'));
    const rec = recordingFetch();
    const { client: c } = await boundClient(s, { fetch: rec.fetch, allowedOrigins: [api.url] });
    await c.fetch(`${api.url}/orders`);
    expect((await proofPayload(api.hits[0]?.headers.dpop as string)).nonce).toBeUndefined();
    c.noteDpopNonce('http://127.0.0.1:9/x', 'foreign-nonce');
    c.noteDpopNonce(`${s.url}/auth/me`, 'x'.repeat(5000)); // too long: not a nonce
    c.noteDpopNonce(`${s.url}/auth/me`, 'a b"c'); // not NQCHAR
    const { dpop } = await c.authorizationHeaders('GET', `${s.url}/auth/me`);
    const nonce = (await proofPayload(dpop)).nonce;
    expect(nonce).toEqual(expect.any(String)); // the issuer's own, from the sign-in
    expect(nonce).not.toMatch(/foreign-nonce|^x+$|"/);
  });

  it('a token endpoint that redirects to another origin: not followed, nothing reaches the other origin (sign-in and refresh)', async () => {
    const foreign = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"x","token_type":"DPoP"}'));
    const as = await serve((_req, res) => res.writeHead(307, { location: `${foreign.url}/token` }).end());
    const c = client(as.url, { endpoints: { token: `${as.url}/token` }, dpop: true });
    await expect(c.signIn(`${as.url}/token`, USER)).rejects.toMatchObject({ code: 'ERR_SIGN_IN_REFUSED', status: 307 });
    await c.setTokens({ access_token: 'a', refresh_token: 'r', expires_in: 0, token_type: 'DPoP' });
    expect(await codeOf(c.refresh())).toBe('ERR_CLIENT_REJECTED');
    expect(foreign.hits).toEqual([]);
  });

  it("a resource server's Date does not move the clock proofs are dated by", async () => {
    const api = await serve((_req, res) => res.writeHead(200, { date: 'Fri, 01 Jan 2100 00:00:00 GMT' }).end('{}'));
    const { client: c } = await boundClient(s, { allowedOrigins: [api.url] });
    const offset = c.clockOffset;
    await c.fetch(`${api.url}/x`);
    expect(c.clockOffset).toBe(offset);
    const { dpop } = await c.authorizationHeaders('GET', `${s.url}/auth/me`);
    expect(Math.abs(((await proofPayload(dpop)).iat as number) - Date.now() / 1000)).toBeLessThan(60);
  });
});

describe('nonce rounds are bounded', () => {
  it('a token endpoint answering use_dpop_nonce forever: exactly two requests per attempt, each with a proof, then an error (refresh and sign-in)', async () => {
    let n = 0;
    const as = await serve((_req, res) =>
      res.writeHead(400, { 'content-type': 'application/json', 'dpop-nonce': `n${++n}` }).end('{"error":"use_dpop_nonce"}'),
    );
    const rec = recordingFetch();
    const c = client(as.url, { endpoints: { token: `${as.url}/token` }, dpop: true, fetch: rec.fetch });
    await c.setTokens({ access_token: 'a', refresh_token: 'r', expires_in: 0, token_type: 'DPoP' });
    expect(await codeOf(c.refresh())).toBe('ERR_CLIENT_REJECTED');
    expect(as.hits).toHaveLength(2);
    expect(rec.sent.every((r) => r.dpop !== null)).toBe(true);
    expect((await proofPayload(rec.sent[1]?.dpop)).nonce).toBe('n1');
    await expect(c.signIn(`${as.url}/token`, USER)).rejects.toMatchObject({ code: 'ERR_SIGN_IN_REFUSED', error: 'use_dpop_nonce' });
    expect(as.hits).toHaveLength(4);
  });

  it('a resource nonce retry that succeeds is exactly one retry signed with the nonce, and no refresh', async () => {
    const api = await serve((req, res) => {
      const proof = JSON.parse(Buffer.from(String(req.headers.dpop).split('.')[1] as string, 'base64url').toString()) as { nonce?: string };
      if (proof.nonce === 'fresh') res.writeHead(200).end('{}');
      else res.writeHead(401, nonceChallenge('fresh')).end();
    });
    const { client: c } = await boundClient(s, { allowedOrigins: [api.url] });
    const before = s.rotations();
    expect((await c.fetch(`${api.url}/x`, { method: 'POST', body: 'payload' })).status).toBe(200);
    expect(api.hits.map((h) => h.body)).toEqual(['payload', 'payload']); // the body replayed once
    expect(s.rotations()).toBe(before);
  });
});

describe('malformed answers neither crash nor hang', () => {
  it('a huge DPoP-Nonce, a nonce with spaces, an HTML body: the token request fails as transient, quickly, and the nonce is never used', async () => {
    const answers = [
      (res: import('node:http').ServerResponse) =>
        res.writeHead(400, { 'content-type': 'application/json', 'dpop-nonce': 'N'.repeat(60_000) }).end('{"error":"use_dpop_nonce"}'),
      (res: import('node:http').ServerResponse) =>
        res.writeHead(400, { 'content-type': 'application/json', 'dpop-nonce': 'a "b" c' }).end('{"error":"use_dpop_nonce"}'),
      (res: import('node:http').ServerResponse) =>
        res.writeHead(502, { 'content-type': 'text/html', 'dpop-nonce': 'html' }).end('<html><body>Bad gateway</body></html>'),
      (res: import('node:http').ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":42,"token_type":{"x":1}}'),
    ];
    for (const answer of answers) {
      const as = await serve((_req, res) => answer(res));
      const rec = recordingFetch();
      const storage = memoryStorage();
      const c = client(as.url, { endpoints: { token: `${as.url}/token` }, dpop: true, fetch: rec.fetch, storage });
      await c.setTokens({ access_token: 'a', refresh_token: 'r', expires_in: 0, token_type: 'DPoP' });
      const started = Date.now();
      // A nonce round that failed is the server refusing this client; the rest is transient. Never a session end.
      expect(await codeOf(c.refresh())).toMatch(/^(ERR_CLIENT_REJECTED|ERR_REFRESH_UNAVAILABLE)$/);
      expect(Date.now() - started).toBeLessThan(5000);
      for (const r of rec.sent) expect((await proofPayload(r.dpop)).nonce ?? 'none').toMatch(/^(none|html)$/);
      expect((await storage.get())?.refreshToken).toBe('r'); // the session is kept
    }
  });

  it("a resource server's use_dpop_nonce with an oversized nonce (8 KB, under the HTTP header limit): retried without it, no crash", async () => {
    const api = await serve((_req, res) => res.writeHead(401, nonceChallenge('Z'.repeat(8_000))).end());
    const { client: c } = await boundClient(s, { allowedOrigins: [api.url] });
    expect((await c.fetch(`${api.url}/x`)).status).toBe(401);
    for (const h of api.hits) expect((await proofPayload(h.headers.dpop as string)).nonce).toBeUndefined();
  });
});

describe('proof contents (verified with jose)', () => {
  it('htm upper case, htu without query and fragment, ath of the exact token, iat now, unique jti, public key only, thumbprint as bound', async () => {
    const rec = recordingFetch();
    const { client: c, tokens } = await boundClient(s, { fetch: rec.fetch });
    expect((await c.fetch(`${s.url}/auth/me?q=1&r=2#frag`, { method: 'get' })).status).toBe(200);
    const sent = rec.sent.at(-1);
    const proof = await proofPayload(sent?.dpop);
    expect(proof).toMatchObject({ htm: 'GET', htu: `${s.url}/auth/me`, ath: createHash('sha256').update(tokens.accessToken).digest('base64url') });
    expect(Math.abs((proof.iat as number) - Date.now() / 1000)).toBeLessThan(10);
    const header = decodeProtectedHeader(sent?.dpop as string);
    expect(Object.keys(header.jwk ?? {}).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    expect(await calculateJwkThumbprint(header.jwk as never)).toBe(await c.dpopThumbprint());
    const jtis = new Set<unknown>();
    for (let i = 0; i < 40; i++) jtis.add((await proofPayload((await c.authorizationHeaders('delete', `${s.url}/x`)).dpop)).jti);
    expect(jtis.size).toBe(40);
    expect((await proofPayload((await c.authorizationHeaders('delete', `${s.url}/x`)).dpop)).htm).toBe('DELETE');
  });

  it("a bound session's refresh token never travels without a proof, and the refresh proof names the token endpoint without ath", async () => {
    const rec = recordingFetch();
    const { client: c } = await boundClient(s, { fetch: rec.fetch });
    await c.refresh();
    await c.refresh();
    const refreshes = rec.sent.filter((r) => r.body.includes('refresh_token='));
    expect(refreshes.length).toBeGreaterThanOrEqual(2);
    for (const r of refreshes) {
      const p = await proofPayload(r.dpop);
      expect(p).toMatchObject({ htm: 'POST', htu: `${s.url}/oauth/token` });
      expect(p.ath).toBeUndefined();
    }
  });
});

describe('the key never leaves', () => {
  it('memoryStorage and fileStorage hand out a private key that cannot be exported', async () => {
    const memory = (await memoryStorage().dpopKey?.('x')) as CryptoKeyPair;
    await expect(crypto.subtle.exportKey('jwk', memory.privateKey)).rejects.toThrow();
    const file = (await fileStorage(join(dir, 'nx', 'tokens.json')).dpopKey?.('x')) as CryptoKeyPair;
    expect(file.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('jwk', file.privateKey)).rejects.toThrow();
    expect(statSync(join(dir, 'nx', 'tokens.json.dpop.json')).mode & 0o777).toBe(0o600);
  });

  it('a key file planted by another user, readable by others, or a symlink (whose target is never written) is refused', async () => {
    const planted = join(dir, 'planted', 'tokens.json');
    mkdirSync(join(dir, 'planted'), { mode: 0o700 });
    const jwk = await crypto.subtle.exportKey('jwk', (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign'])).privateKey);
    writeFileSync(`${planted}.dpop.json`, JSON.stringify(jwk), { mode: 0o600 });
    if (process.getuid?.() === 0) {
      chownSync(`${planted}.dpop.json`, 4242, 4242);
      expect(await codeOf(fileStorage(planted).dpopKey?.('x') as Promise<unknown>)).toBe('ERR_STORAGE_UNSAFE');
      chownSync(`${planted}.dpop.json`, 0, 0);
    }
    chmodSync(`${planted}.dpop.json`, 0o640);
    expect(await codeOf(fileStorage(planted).dpopKey?.('x') as Promise<unknown>)).toBe('ERR_STORAGE_UNSAFE');

    const linked = join(dir, 'planted', 'linked.json');
    const target = join(dir, 'planted', 'attacker-target');
    symlinkSync(target, `${linked}.dpop.json`); // dangling: a write through it would create the target
    expect(await codeOf(fileStorage(linked).dpopKey?.('x') as Promise<unknown>)).toBe('ERR_STORAGE_UNSAFE');
    expect(lstatSync(`${linked}.dpop.json`).isSymbolicLink()).toBe(true);
    expect(readlinkSync(`${linked}.dpop.json`)).toBe(target);
    expect(() => statSync(target)).toThrow();
  });

  it('a key file is not created in a folder others may write in (no sticky bit)', async () => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(await codeOf(fileStorage(join(open, 'tokens.json')).dpopKey?.('x') as Promise<unknown>)).toBe('ERR_STORAGE_UNSAFE');
  });

  it('six processes racing to create the key file end up with ONE key, and no temp file is left', async () => {
    const path = join(dir, 'race', 'tokens.json');
    const startAt = Date.now() + 1500;
    const outs = await Promise.all(
      Array.from({ length: 6 }, () =>
        run(process.execPath, [new URL('./key-race-worker.ts', import.meta.url).pathname, path, String(startAt)], { env: process.env }),
      ),
    );
    const keys = new Set(outs.map((o) => o.stdout.trim()));
    expect(keys.size).toBe(1);
    expect((JSON.parse(readFileSync(`${path}.dpop.json`, 'utf8')) as { x: string }).x).toBe([...keys][0]);
    expect(readdirSync(join(dir, 'race')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 30_000);

  it('redisTokenStorage keeps no key: a client over it sends no proof (Bearer), and dpop: true is refused', async () => {
    const data = new Map<string, string>();
    const redis = {
      get: async (k: string) => data.get(k) ?? null,
      set: async (k: string, v: string) => {
        data.set(k, v);
        return 'OK';
      },
      del: async (k: string) => void data.delete(k),
      eval: async () => 0,
    };
    const storage = redisTokenStorage({ redis: redis as never, key: new Uint8Array(32), issuer: s.url, userId: 'u' });
    expect(storage.dpopKey).toBeUndefined();
    const rec = recordingFetch();
    const c = client(s.url, { storage, fetch: rec.fetch });
    expect(await c.dpopThumbprint()).toBeUndefined();
    await c.setTokens(await s.login());
    await c.refresh();
    expect(rec.sent.filter((r) => r.dpop !== null)).toEqual([]);
    expect(() => client(s.url, { storage, dpop: true })).toThrow(expect.objectContaining({ name: 'BatonClientError', code: 'ERR_CONFIG' }));
  });
});
