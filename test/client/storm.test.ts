/**
 * The client storm: 10 worker processes sharing one token file make 1,000 requests each against
 * the real Baton service across many 1-second access-token lifetimes, through a proxy that drops
 * a quarter of the token endpoint's responses after the server has processed them. No worker may
 * be logged out and the server's reuse detection must never fire. Then an attacker replays an old
 * refresh token after the grace window: the session dies and every client learns it. With DPoP
 * (RFC 9449), the same storm on a session bound to the key file the workers share; the attacker's
 * copy of the old refresh token, without the key, is refused and the session lives on.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatonEvent } from 'baton-auth';
import { loadConfig, startServer, users } from 'baton-auth-server';
import { createTokenClient } from 'baton-auth-client';
import { fileStorage } from 'baton-auth-client/node';
import { dpopKey, dpopProof } from '../support/dpop.ts';

const WORKER = new URL('../fixtures/storm-worker.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'baton-storm-'));
let service: Awaited<ReturnType<typeof startServer>>;
let proxy: Server;
let proxyUrl = '';
const stats = { forwarded: 0, dropped: 0 };
let dropRate = 0.25;
const events: BatonEvent[] = [];

beforeAll(async () => {
  // A proxy that, for the token endpoint, sometimes drops the response after the server handled it.
  proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers: Record<string, string> = {};
    for (const h of ['authorization', 'content-type', 'dpop']) if (req.headers[h]) headers[h] = req.headers[h] as string;
    const upstream = await fetch(`${service.url}${req.url}`, {
      method: req.method ?? 'GET',
      headers,
      ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
    });
    const body = Buffer.from(await upstream.arrayBuffer());
    stats.forwarded++;
    if (req.url?.startsWith('/oauth/token') && Math.random() < dropRate) {
      stats.dropped++;
      req.socket.destroy(); // the rotation happened; the client never hears of it
      return;
    }
    const answer: Record<string, string> = { 'content-type': upstream.headers.get('content-type') ?? 'application/json' };
    for (const h of ['dpop-nonce', 'www-authenticate']) if (upstream.headers.get(h) !== null) answer[h] = upstream.headers.get(h) as string;
    res.writeHead(upstream.status, answer);
    res.end(body);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  // Clients know the service by the proxy's URL, its public one: the issuer, which DPoP proofs name.
  service = await startServer(
    loadConfig({
      PORT: '0',
      BATON_ISSUER: proxyUrl,
      BATON_STORE: 'memory:',
      BATON_ACCESS_TTL: '1',
      BATON_REFRESH_TTL: '120',
      BATON_REFRESH_GRACE: '3',
      BATON_REFRESH_RATE: 'off',
      BATON_LOG_LEVEL: 'silent',
    }),
  );
  service.service.baton.on('*', (e) => events.push(e));
  await users.add(service.service.store, 'storm', 'storm password');
}, 60_000);
afterAll(async () => {
  proxy?.close();
  await service?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function runWorkers(
  count: number,
  requests: number,
  tokenFile: string,
  dpop = false,
): Promise<{ ok: number; unauthorized: number; sessionEnded: number; refreshed: number; errors: number }[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<{ ok: number; unauthorized: number; sessionEnded: number; refreshed: number; errors: number }>((resolve, reject) => {
          const child = spawn(process.execPath, [WORKER], {
            env: { ...process.env, PROXY: proxyUrl, TOKEN_FILE: tokenFile, REQUESTS: String(requests), DPOP: dpop ? '1' : '0' },
          });
          let out = '';
          let err = '';
          child.stdout.on('data', (d) => (out += d));
          child.stderr.on('data', (d) => (err += d));
          child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker exited ${code}: ${err}`))));
        }),
    ),
  );
}

describe('client storm against the real service', () => {
  it('10 processes × 1,000 requests, dropped refresh responses: zero sessionEnded, no reuse detected; then a replay kills the session everywhere', async () => {
    const tokenFile = join(dir, 'tokens.json');
    const login = await fetch(`${service.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'storm', password: 'storm password' }),
    });
    const pair = (await login.json()) as { access_token: string; refresh_token: string; expires_in: number };
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      tokenFile,
      JSON.stringify({
        accessToken: pair.access_token,
        refreshToken: pair.refresh_token,
        receivedAt: Date.now(),
        expiresAt: Date.now() + pair.expires_in * 1000,
      }),
      { mode: 0o600 },
    );

    const started = Date.now();
    const results = await runWorkers(10, 1000, tokenFile);
    const seconds = (Date.now() - started) / 1000;
    const total = results.reduce((a, r) => ({
      ok: a.ok + r.ok,
      unauthorized: a.unauthorized + r.unauthorized,
      sessionEnded: a.sessionEnded + r.sessionEnded,
      refreshed: a.refreshed + r.refreshed,
      errors: a.errors + r.errors,
    }));
    const rotations = events.filter((e) => e.type === 'refresh.rotated').length;
    const graceAnswers = events.filter((e) => e.type === 'refresh.grace').length;
    console.info(
      `storm: ${total.ok} ok requests in ${seconds.toFixed(1)} s over ${seconds.toFixed(0)} token lifetimes; ${rotations} rotations, ${graceAnswers} grace answers, ${stats.dropped} dropped refresh responses; sessionEnded ${total.sessionEnded}`,
    );
    expect(total.sessionEnded).toBe(0);
    expect(total.ok).toBe(10_000);
    expect(total.errors).toBe(0);
    expect(events.some((e) => e.type === 'refresh.reused')).toBe(false);
    // About one rotation per lifetime for all ten processes together: a refresh made by one is used by all.
    expect(rotations).toBeGreaterThanOrEqual(Math.floor(seconds) - 1);
    expect(rotations).toBeLessThanOrEqual(Math.ceil(seconds * 1.5) + 2);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(graceAnswers).toBeGreaterThan(0); // the dropped responses were recovered through the grace window

    // The attacker: the very first refresh token, long retired, after the grace window.
    dropRate = 0;
    await new Promise((r) => setTimeout(r, 3500));
    const replay = await fetch(`${service.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&refresh_token=${pair.refresh_token}`,
    });
    expect(replay.status).toBe(400);
    expect(events.some((e) => e.type === 'refresh.reused')).toBe(true);
    const after = await runWorkers(10, 50, tokenFile);
    expect(after.reduce((n, r) => n + r.sessionEnded, 0)).toBeGreaterThanOrEqual(1);
    expect(after.every((r) => r.ok < 50)).toBe(true);
    expect(() => JSON.parse(readFileSync(tokenFile, 'utf8'))).toThrow(); // the token file is gone
  }, 180_000);

  it('the same storm with DPoP on, the workers sharing one key file: zero sessionEnded, no reuse; the old refresh token copied without the key, or with another, is refused and the session lives on', async () => {
    dropRate = 0.25;
    stats.dropped = 0;
    events.length = 0;
    const tokenFile = join(dir, 'dpop-tokens.json');
    const owner = createTokenClient({ endpoints: { token: `${proxyUrl}/oauth/token` }, storage: fileStorage(tokenFile), dpop: true });
    dropRate = 0;
    const first = await owner.signIn(`${proxyUrl}/auth/login`, { username: 'storm', password: 'storm password' });
    dropRate = 0.25;
    expect(first.refreshToken).toMatch(/^rtd_/);
    const started = Date.now();
    const results = await runWorkers(10, 1000, tokenFile, true);
    const seconds = (Date.now() - started) / 1000;
    const total = results.reduce((a, r) => ({ ok: a.ok + r.ok, sessionEnded: a.sessionEnded + r.sessionEnded, errors: a.errors + r.errors }), {
      ok: 0,
      sessionEnded: 0,
      errors: 0,
    });
    const rotations = events.filter((e) => e.type === 'refresh.rotated').length;
    const graceAnswers = events.filter((e) => e.type === 'refresh.grace').length;
    console.info(
      `storm with DPoP: ${total.ok} ok requests in ${seconds.toFixed(1)} s; ${rotations} rotations, ${graceAnswers} grace answers, ${stats.dropped} dropped refresh responses; sessionEnded ${total.sessionEnded}`,
    );
    expect(total).toEqual({ ok: 10_000, sessionEnded: 0, errors: 0 });
    expect(events.some((e) => e.type === 'refresh.reused')).toBe(false);
    expect(rotations).toBeGreaterThanOrEqual(Math.floor(seconds) - 1);
    expect(graceAnswers).toBeGreaterThan(0);

    // The attacker has the first refresh token (a copy of the token file), not the key.
    dropRate = 0;
    await new Promise((r) => setTimeout(r, 3500));
    const refresh = (headers: Record<string, string> = {}) =>
      fetch(`${proxyUrl}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: `grant_type=refresh_token&refresh_token=${first.refreshToken}`,
      });
    const thief = await dpopKey();
    const bare = await refresh();
    const asked = await refresh({ dpop: await dpopProof(thief, 'POST', `${proxyUrl}/oauth/token`) });
    expect([bare.status, (await bare.json()).error, asked.status, (await asked.json()).error]).toEqual([400, 'invalid_grant', 400, 'use_dpop_nonce']);
    const stolen = await refresh({ dpop: await dpopProof(thief, 'POST', `${proxyUrl}/oauth/token`, { nonce: asked.headers.get('dpop-nonce') as string }) });
    expect([stolen.status, (await stolen.json()).error]).toEqual([400, 'invalid_grant']);
    expect(events.some((e) => e.type === 'refresh.reused' || e.type === 'session.revoked')).toBe(false);
    const after = await runWorkers(10, 50, tokenFile, true);
    expect(after.reduce((n, r) => n + r.ok, 0)).toBe(500);
  }, 180_000);
});
