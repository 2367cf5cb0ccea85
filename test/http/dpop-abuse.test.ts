/**
 * DPoP proofs an attacker sends to the running service (issue #21, findings 1 and 10), over a real
 * socket: RSA keys whose check costs hundreds of honest ones are refused before any signature
 * check; a proof wrong in a cheap way is refused for that, its signature never checked; invalid
 * proofs are throttled per address (the one the service resolves, behind a trusted proxy); and a
 * refused request — a grant with a junk refresh token, a revocation of a junk token — spends no
 * `jti`: the one-time ledger (SQLite) gains no row, while a sound request still spends its proof once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import { startTestService } from '../support/service.ts';
import type { TestService } from '../support/service.ts';

const b64 = (value: object | Buffer): string => (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url');

/** `bytes` random bytes with the top byte `top` and the last bit set (odd, like a modulus or exponent). */
function number(bytes: number, top: number): Buffer {
  const b = randomBytes(bytes);
  b[0] = top;
  b[bytes - 1] = (b[bytes - 1] as number) | 1;
  return b;
}

/** A proof by `jwk` whose signature is `signature` (anything: the server must not get that far). */
function forged(jwk: object, alg: string, claims: Record<string, unknown>, signature: Buffer): string {
  return `${b64({ alg, typ: 'dpop+jwt', jwk })}.${b64({ jti: randomBytes(12).toString('base64url'), htm: 'POST', iat: Math.floor(Date.now() / 1000), ...claims })}.${b64(signature)}`;
}

describe('DPoP proofs an attacker sends (the service over a socket)', () => {
  let dir: string;
  let service: TestService;
  let db: DatabaseSync;
  let TOKEN: string;
  let REVOKE: string;
  let nonce: string;

  const post = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString() });
  /** Rows of the one-time ledger: what a spent proof writes. */
  const ledgerRows = () => Number((db.prepare('SELECT COUNT(*) AS n FROM baton_consumed_jti').get() as { n: number }).n);
  const junkGrant = { grant_type: 'refresh_token', refresh_token: 'rt_x' };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-dpop-abuse-'));
    // Behind a proxy on loopback: the client's address is the X-Forwarded-For entry before it.
    service = await startTestService({ BATON_STORE: `sqlite:${join(dir, 'baton.sqlite')}`, BATON_TRUST_PROXY: 'loopback' });
    db = new DatabaseSync(join(dir, 'baton.sqlite'), { readOnly: true });
    TOKEN = `${service.url}/oauth/token`;
    REVOKE = `${service.url}/oauth/revoke`;
    const asked = await post(TOKEN, junkGrant, { dpop: await dpopProof(await dpopKey(), 'POST', TOKEN) });
    expect(await asked.json()).toMatchObject({ error: 'use_dpop_nonce' });
    nonce = asked.headers.get('dpop-nonce') as string;
  });
  afterAll(async () => {
    db?.close();
    await service?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an RSA key with a 3,070-bit exponent or an 8,192-bit modulus is refused with invalid_dpop_proof and a sentence, at the token and revocation endpoints', async () => {
    // RSA-3072 with a 3,070-bit exponent: ~24 ms a check before the fix (0.1 ms for an honest key).
    const hugeExponent = { kty: 'RSA', n: b64(number(384, 0xff)), e: b64(number(384, 0x20)) };
    const hugeModulus = { kty: 'RSA', n: b64(number(1024, 0xff)), e: 'AQAB' };
    for (const [jwk, sentence, bytes] of [[hugeExponent, /e AQAB \(65537\).*exponent is not 65537/, 384], [hugeModulus, /modulus of 2048 to 4096 bits.*8192 bits/, 1024]] as const) {
      for (const [url, fields] of [[TOKEN, junkGrant], [REVOKE, { token: 'rt_x' }]] as const) {
        const res = await post(url, fields, { dpop: forged(jwk, 'RS256', { htu: url, nonce }, number(bytes, 0x01)), 'x-forwarded-for': '198.51.100.20' });
        expect(res.status).toBe(400);
        expect(await res.json()).toEqual({ error: 'invalid_dpop_proof', error_description: expect.stringMatching(sentence) });
      }
    }
  });

  it('a proof wrong in a cheap way is refused for that, before its signature is checked: a bad signature with a stale iat is named for the iat', async () => {
    const key = await dpopKey();
    const bad = Buffer.alloc(64, 7); // not the signature of anything
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ htu: TOKEN, nonce, iat: Math.floor(Date.now() / 1000) - 3600 }, /iat is too far from now/],
      [{ htu: TOKEN, nonce, htm: 'GET' }, /htm does not match/],
      [{ htu: `${service.url}/elsewhere`, nonce }, /htu does not match/],
      [{ htu: TOKEN, nonce, jti: '' }, /jti is missing/],
    ];
    for (const [claims, message] of cases) {
      const res = await post(TOKEN, junkGrant, { dpop: forged(key.jwk, 'ES256', claims, bad), 'x-forwarded-for': '198.51.100.21' });
      expect(await res.json()).toEqual({ error: 'invalid_dpop_proof', error_description: expect.stringMatching(message) });
    }
    // The control: the same proof with every claim right is refused for its signature.
    const res = await post(TOKEN, junkGrant, { dpop: forged(key.jwk, 'ES256', { htu: TOKEN, nonce }, bad), 'x-forwarded-for': '198.51.100.21' });
    expect(await res.json()).toEqual({ error: 'invalid_dpop_proof', error_description: expect.stringMatching(/signed by the key in its header/) });
  });

  it('invalid proofs are throttled per address (as the trusted proxy names it): 100, then 429 with Retry-After, even for a good proof; other addresses and requests without a proof go on', async () => {
    const key = await dpopKey();
    const attacker = { 'x-forwarded-for': '203.0.113.66' };
    const bad = Buffer.alloc(64, 9);
    const statuses: number[] = [];
    for (let i = 0; i < 101 && !statuses.includes(429); i++) {
      statuses.push((await post(TOKEN, junkGrant, { dpop: forged(key.jwk, 'ES256', { htu: TOKEN, nonce }, bad), ...attacker })).status);
    }
    expect(statuses.slice(0, -1).every((s) => s === 400)).toBe(true);
    expect(statuses.length).toBe(100); // the 100th invalid proof sets the block
    const good = await post(TOKEN, junkGrant, { dpop: await dpopProof(key, 'POST', TOKEN, { nonce }), ...attacker });
    expect(good.status).toBe(429);
    expect(Number(good.headers.get('retry-after'))).toBeGreaterThan(3000);
    expect(await good.json()).toEqual({ error: 'slow_down', error_description: 'Too many invalid DPoP proofs from this address; try again later' });
    // Another address behind the same proxy is not blocked, nor is the attacker's address without a proof.
    expect(await (await post(TOKEN, junkGrant, { dpop: await dpopProof(key, 'POST', TOKEN, { nonce }), 'x-forwarded-for': '198.51.100.22' })).json()).toMatchObject({ error: 'invalid_grant' });
    expect(await (await post(TOKEN, junkGrant, attacker)).json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('2,000 refused refresh grants and 2,000 revocations of a junk token, each with a valid proof, write no ledger row; a sound refresh spends its proof once', async () => {
    const key = await dpopKey();
    const from = { 'x-forwarded-for': '198.51.100.30' };
    const before = ledgerRows();
    const send = async (n: number, one: () => Promise<Response>, expected: (res: Response) => Promise<void>) => {
      for (let i = 0; i < n; i += 8) await Promise.all(Array.from({ length: 8 }, async () => expected(await one())));
    };
    await send(2000, async () => post(TOKEN, junkGrant, { dpop: await dpopProof(key, 'POST', TOKEN, { nonce }), ...from }), async (res) => {
      expect(res.status).toBe(400);
      expect((await res.json()).error).toBe('invalid_grant');
    });
    await send(2000, async () => post(REVOKE, { token: `junk-${randomBytes(6).toString('hex')}` }, { dpop: await dpopProof(key, 'POST', REVOKE), ...from }), async (res) => {
      expect(res.status).toBe(200);
      await res.body?.cancel();
    });
    expect(ledgerRows() - before).toBe(0);

    // A sound request: the login and the refresh spend one row each, and the refresh's proof once.
    const login = await post(`${service.url}/auth/login`, { username: 'tester', password: 'tester password 1' }, { dpop: await dpopProof(key, 'POST', `${service.url}/auth/login`, { nonce }), ...from });
    const pair = (await login.json()) as { refresh_token: string; token_type: string };
    expect(pair.token_type).toBe('DPoP');
    const proof = await dpopProof(key, 'POST', TOKEN, { nonce });
    const grant = { grant_type: 'refresh_token', refresh_token: pair.refresh_token };
    expect((await post(TOKEN, grant, { dpop: proof, ...from })).status).toBe(200);
    expect(ledgerRows() - before).toBe(2);
    const replayed = await post(TOKEN, grant, { dpop: proof, ...from });
    expect(await replayed.json()).toEqual({ error: 'invalid_dpop_proof', error_description: 'the DPoP proof was already used' });
    expect(ledgerRows() - before).toBe(2);
  }, 120_000);
});
