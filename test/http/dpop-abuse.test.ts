/**
 * DPoP proofs an attacker sends to the running service (issue #21, findings 1 and 10), over a real
 * socket: RSA keys whose check costs hundreds of honest ones are refused before any signature
 * check; a proof wrong in a cheap way is refused for that, its signature never checked; a proof's
 * signature is checked only for a request worth it (a refresh token whose MAC is right for the
 * proof's key, a live token to revoke, a login counted by the login protection), so no address is
 * throttled and no counter written; a proof's header is bounded and read for typ, alg and jwk only;
 * a revocation's answer does not depend on whether the token is live; and a refused request — a
 * grant with a junk refresh token, a revocation of a junk token — spends no `jti`: the one-time
 * ledger (SQLite) gains no row, while a sound request still spends its proof once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { users } from 'baton-auth-server';
import { DpopVerifier } from '../../packages/baton-auth/src/dpop/proof.ts';
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

  it('an RSA key with a 3,070-bit exponent or an 8,192-bit modulus is refused with invalid_dpop_proof and a sentence at the token endpoint; a revocation of a junk token answers 200 without reading it', async () => {
    // RSA-3072 with a 3,070-bit exponent: ~24 ms a check before the fix (0.1 ms for an honest key).
    const hugeExponent = { kty: 'RSA', n: b64(number(384, 0xff)), e: b64(number(384, 0x20)) };
    const hugeModulus = { kty: 'RSA', n: b64(number(1024, 0xff)), e: 'AQAB' };
    for (const [jwk, sentence, bytes] of [
      [hugeExponent, /e AQAB \(65537\).*exponent is not 65537/, 384],
      [hugeModulus, /modulus of 2048 to 4096 bits.*8192 bits/, 1024],
    ] as const) {
      const res = await post(TOKEN, junkGrant, { dpop: forged(jwk, 'RS256', { htu: TOKEN, nonce }, number(bytes, 0x01)), 'x-forwarded-for': '198.51.100.20' });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: 'invalid_dpop_proof', error_description: expect.stringMatching(sentence) });
      // The revocation of a junk token does not look at the proof: 200, nothing to revoke (RFC 7009 §2.2).
      expect(
        (await post(REVOKE, { token: 'rt_x' }, { dpop: forged(jwk, 'RS256', { htu: REVOKE }, number(bytes, 0x01)), 'x-forwarded-for': '198.51.100.20' }))
          .status,
      ).toBe(200);
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
    // The same proof with every claim right: the junk refresh token is refused before the signature.
    const res = await post(TOKEN, junkGrant, { dpop: forged(key.jwk, 'ES256', { htu: TOKEN, nonce }, bad), 'x-forwarded-for': '198.51.100.21' });
    expect(await res.json()).toEqual({ error: 'invalid_grant', error_description: 'The refresh token is invalid' });
  });

  /** Signs `tester` in with a proof by `key` from `from`: a session bound to the key. */
  const loginBound = async (key: Awaited<ReturnType<typeof dpopKey>>, from: Record<string, string>) => {
    const res = await post(
      `${service.url}/auth/login`,
      { username: 'tester', password: 'tester password 1' },
      { dpop: await dpopProof(key, 'POST', `${service.url}/auth/login`, { nonce }), ...from },
    );
    expect(res.status).toBe(200);
    return (await res.json()) as { access_token: string; refresh_token: string; token_type: string };
  };
  /** Every row of every table of the store. */
  const allRows = () =>
    (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).reduce(
      (n, { name }) => n + Number((db.prepare(`SELECT COUNT(*) AS n FROM "${name}"`).get() as { n: number }).n),
      0,
    );
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('an unauthenticated caller reaches no signature check at the token and revocation endpoints: a junk, forged or foreign-key token with a proof valid but for its signature is refused without one', async () => {
    const victim = await dpopKey();
    const thief = await dpopKey();
    const from = { 'x-forwarded-for': '198.51.100.40' };
    const pair = await loginBound(victim, from);
    const bad = Buffer.alloc(64, 5);
    const forgedToken = `${pair.refresh_token.slice(0, -4)}AAAA`;
    // A JWT naming the thief's own key, signed by no one: its state is never read before the proof's signature.
    const [h, , sig] = pair.access_token.split('.');
    const forgedAccess = `${h}.${b64({ ...JSON.parse(Buffer.from(pair.access_token.split('.')[1] as string, 'base64url').toString()), cnf: { jkt: thief.jkt } })}.${sig}`;
    const before = DpopVerifier.signaturesChecked;
    const answers: [number, string | undefined][] = [];
    const send = async (url: string, fields: Record<string, string>) => {
      const res = await post(url, fields, { dpop: forged(thief.jwk, 'ES256', { htu: url, ...(url === TOKEN ? { nonce } : {}) }, bad), ...from });
      answers.push([res.status, res.status === 200 ? undefined : ((await res.json()) as { error: string }).error]);
    };
    for (let i = 0; i < 50; i++) {
      await send(TOKEN, junkGrant);
      await send(TOKEN, { grant_type: 'refresh_token', refresh_token: forgedToken });
      await send(TOKEN, { grant_type: 'refresh_token', refresh_token: pair.refresh_token }); // bound to the victim's key
      await send(REVOKE, { token: `junk-${i}` });
      await send(REVOKE, { token: 'rt_x' });
      await send(REVOKE, { token: forgedAccess });
      await send(REVOKE, { token: pair.refresh_token });
      await send(REVOKE, { token: pair.access_token });
    }
    // Refresh grants: invalid_grant (the MAC); revocations: 200 whatever the token, nothing revoked.
    expect(answers.slice(0, 8)).toEqual([
      [400, 'invalid_grant'],
      [400, 'invalid_grant'],
      [400, 'invalid_grant'],
      [200, undefined],
      [200, undefined],
      [200, undefined],
      [200, undefined],
      [200, undefined],
    ]);
    expect(DpopVerifier.signaturesChecked - before).toBe(0);
    // The control: the victim's refresh with its key is checked, once.
    const ok = await post(
      TOKEN,
      { grant_type: 'refresh_token', refresh_token: pair.refresh_token },
      { dpop: await dpopProof(victim, 'POST', TOKEN, { nonce }), ...from },
    );
    expect(ok.status).toBe(200);
    expect(DpopVerifier.signaturesChecked - before).toBe(1);
  }, 60_000);

  it('junk proofs from 2,000 addresses write no row', async () => {
    const before = allRows();
    const statuses: Record<string, number> = {};
    for (let i = 0; i < 2000; i += 8) {
      await Promise.all(
        Array.from({ length: 8 }, async (_, j) => {
          const n = i + j;
          // Half from IPv6 /64s, half from IPv4 addresses; half revocations, half refresh grants.
          const from = {
            'x-forwarded-for': n % 2 === 0 ? `2001:db8:${(n >> 8).toString(16)}:${(n & 255).toString(16)}::1` : `10.${(n >> 8) & 255}.${n & 255}.9`,
          };
          const url = n % 4 < 2 ? REVOKE : TOKEN;
          const res = await post(url, url === REVOKE ? { token: 'junk' } : junkGrant, { dpop: 'a.b.c', ...from });
          statuses[`${url === REVOKE ? 'revoke' : 'token'} ${res.status}`] = (statuses[`${url === REVOKE ? 'revoke' : 'token'} ${res.status}`] ?? 0) + 1;
          await res.body?.cancel();
        }),
      );
    }
    expect(allRows() - before).toBe(0);
    // A junk token's revocation does not read the proof; a grant's junk proof is refused for its shape.
    expect(statuses).toEqual({ 'revoke 200': 1000, 'token 400': 1000 });
  }, 60_000);

  it("100 junk proofs from one address do not stop another client's valid refresh from that address", async () => {
    const nat = { 'x-forwarded-for': '203.0.113.50' };
    const key = await dpopKey();
    const pair = await loginBound(key, nat);
    const bad = Buffer.alloc(64, 3);
    for (let i = 0; i < 100; i++) {
      await (await post(REVOKE, { token: 'junk' }, { dpop: 'a.b.c', ...nat })).body?.cancel();
      await (await post(TOKEN, junkGrant, { dpop: forged(key.jwk, 'ES256', { htu: TOKEN, nonce }, bad), ...nat })).body?.cancel();
    }
    const res = await post(
      TOKEN,
      { grant_type: 'refresh_token', refresh_token: pair.refresh_token },
      { dpop: await dpopProof(key, 'POST', TOKEN, { nonce }), ...nat },
    );
    expect(res.status).toBe(200);
    expect(((await res.json()) as { token_type: string }).token_type).toBe('DPoP');
  });

  it('login checks the proof before the password: a junk proof, a stale nonce or a bad signature costs no hash, and a bad signature counts as a failed login of the address', async () => {
    const hashes = vi.spyOn(users, 'authenticate');
    const LOGIN = `${service.url}/auth/login`;
    const right = { username: 'tester', password: 'tester password 1' };
    const from = { 'x-forwarded-for': '198.51.100.60' };
    const key = await dpopKey();
    const junk = await post(LOGIN, right, { dpop: 'a.b.c', ...from });
    expect(await junk.json()).toMatchObject({ error: 'invalid_dpop_proof' });
    const stale = await post(LOGIN, right, { dpop: await dpopProof(key, 'POST', LOGIN, { nonce: 'stale' }), ...from });
    expect(await stale.json()).toMatchObject({ error: 'use_dpop_nonce' });
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const res = await post(LOGIN, right, { dpop: forged(key.jwk, 'ES256', { htu: LOGIN, nonce }, Buffer.alloc(64, 1)), ...from });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    expect(hashes).toHaveBeenCalledTimes(0);
    // Ten failures of the pair (tester, address), then 429 — the login protection's own budget.
    expect(statuses).toEqual([...Array(9).fill(400), 429, 429]);
    // An honest DPoP login from elsewhere: the nonce round, then one hash.
    const honest = await post(LOGIN, right, { dpop: await dpopProof(key, 'POST', LOGIN), 'x-forwarded-for': '198.51.100.61' });
    expect(await honest.json()).toMatchObject({ error: 'use_dpop_nonce' });
    const fresh = honest.headers.get('dpop-nonce') as string;
    expect((await post(LOGIN, right, { dpop: await dpopProof(key, 'POST', LOGIN, { nonce: fresh }), 'x-forwarded-for': '198.51.100.61' })).status).toBe(200);
    expect(hashes).toHaveBeenCalledTimes(1);
  });

  it("a proof's header is at most 2,048 characters and has typ, alg and jwk only: a 2,700-level [[…]] or a 5.5 KB string in it is refused unparsed", async () => {
    const key = await dpopKey();
    const withHeader = (extra: Record<string, unknown>) =>
      `${b64({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk, ...extra })}.${b64({ jti: randomBytes(12).toString('base64url'), htm: 'POST', htu: TOKEN, iat: Math.floor(Date.now() / 1000), nonce })}.${b64(Buffer.alloc(64))}`;
    const deep = JSON.parse(`${'['.repeat(2700)}${']'.repeat(2700)}`) as unknown;
    for (const [extra, sentence] of [
      [{ z: deep }, /header is longer than 2048 characters/],
      [{ z: 'A'.repeat(5500) }, /header is longer than 2048 characters/],
      [{ kid: 'k' }, /typ, alg and jwk only.*'kid'/],
    ] as const) {
      const res = await post(TOKEN, junkGrant, { dpop: withHeader(extra), 'x-forwarded-for': '198.51.100.70' });
      expect(await res.json()).toEqual({ error: 'invalid_dpop_proof', error_description: expect.stringMatching(sentence) });
    }
  });

  it('revocation of a stolen bound access token with a proof by another key gets the same answer whether the session is live, logged out or the token forged', async () => {
    const victim = await dpopKey();
    const thief = await dpopKey();
    const from = { 'x-forwarded-for': '198.51.100.80' };
    const pair = await loginBound(victim, from);
    const attempt = async (token: string) => {
      const res = await post(REVOKE, { token }, { dpop: await dpopProof(thief, 'POST', REVOKE), ...from });
      return [res.status, res.status === 200 ? '' : ((await res.json()) as { error: string }).error];
    };
    const live = await attempt(pair.access_token);
    const forgedAt = await attempt(`${pair.access_token.slice(0, -4)}AAAA`);
    // The victim logs out (its refresh token, its own proof).
    expect((await post(REVOKE, { token: pair.refresh_token }, { dpop: await dpopProof(victim, 'POST', REVOKE), ...from })).status).toBe(200);
    const dead = await attempt(pair.access_token);
    expect(live).toEqual(dead);
    expect(forgedAt).toEqual(dead);
    expect(dead).toEqual([200, '']);
  });

  it("revocation with a proof that is not the token's says nothing of the token: a genuine refresh token (bound or not, live or dead) and a forged one get the same answer, and nothing is revoked", async () => {
    const victim = await dpopKey();
    const thief = await dpopKey();
    const from = { 'x-forwarded-for': '198.51.100.90' };
    const bound = await loginBound(victim, from);
    const plain = (await (await post(`${service.url}/auth/login`, { username: 'tester', password: 'tester password 1' }, from)).json()) as {
      refresh_token: string;
    };
    const bad = Buffer.alloc(64, 7);
    const answer = async (token: string, proof: string) => {
      const res = await post(REVOKE, { token }, { dpop: proof, ...from });
      return [res.status, await res.text()];
    };
    const proofs = {
      thiefs: async () => dpopProof(thief, 'POST', REVOKE),
      victimsKeyBadSignature: async () => forged(victim.jwk, 'ES256', { htu: REVOKE }, bad),
      thiefsKeyBadSignature: async () => forged(thief.jwk, 'ES256', { htu: REVOKE }, bad),
    };
    const tokens = {
      bound: bound.refresh_token,
      plain: plain.refresh_token,
      forgedBound: `${bound.refresh_token.slice(0, -4)}AAAA`,
      forgedPlain: `${plain.refresh_token.slice(0, -4)}AAAA`,
    };
    for (const [name, make] of Object.entries(proofs)) {
      for (const [kind, token] of Object.entries(tokens)) {
        // A valid proof by any key presents an unbound token as well as none would: that one is revoked, so not tried here.
        if (name === 'thiefs' && kind === 'plain') continue;
        expect(await answer(token, await make()), `${kind} with the ${name} proof`).toEqual([200, '']);
      }
    }
    // Nothing was revoked: both sessions still refresh.
    expect(
      (
        await post(
          TOKEN,
          { grant_type: 'refresh_token', refresh_token: bound.refresh_token },
          { dpop: await dpopProof(victim, 'POST', TOKEN, { nonce }), ...from },
        )
      ).status,
    ).toBe(200);
    expect((await post(TOKEN, { grant_type: 'refresh_token', refresh_token: plain.refresh_token }, from)).status).toBe(200);
  });

  it('a login the per-user budget refuses spends no proof: 40 logins with valid proofs, 30 admitted, 10 refused (429) with no ledger row (round 3 red team: 10 rows)', async () => {
    await users.add(service.server.service.store, 'budgeted', 'budgeted password 1');
    const key = await dpopKey();
    const from = { 'x-forwarded-for': '198.51.100.120' };
    const LOGIN = `${service.url}/auth/login`;
    const before = ledgerRows();
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await post(
        LOGIN,
        { username: 'budgeted', password: 'budgeted password 1' },
        { dpop: await dpopProof(key, 'POST', LOGIN, { nonce }), ...from },
      );
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array(30).fill(200), ...Array(10).fill(429)]);
    expect(ledgerRows() - before).toBe(30);
  });

  it('2,000 refused refresh grants and 2,000 revocations of a junk token, each with a valid proof, write no ledger row; a sound refresh spends its proof once', async () => {
    const key = await dpopKey();
    const from = { 'x-forwarded-for': '198.51.100.30' };
    const before = ledgerRows();
    const send = async (n: number, one: () => Promise<Response>, expected: (res: Response) => Promise<void>) => {
      for (let i = 0; i < n; i += 8) await Promise.all(Array.from({ length: 8 }, async () => expected(await one())));
    };
    await send(
      2000,
      async () => post(TOKEN, junkGrant, { dpop: await dpopProof(key, 'POST', TOKEN, { nonce }), ...from }),
      async (res) => {
        expect(res.status).toBe(400);
        expect((await res.json()).error).toBe('invalid_grant');
      },
    );
    await send(
      2000,
      async () => post(REVOKE, { token: `junk-${randomBytes(6).toString('hex')}` }, { dpop: await dpopProof(key, 'POST', REVOKE), ...from }),
      async (res) => {
        expect(res.status).toBe(200);
        await res.body?.cancel();
      },
    );
    expect(ledgerRows() - before).toBe(0);

    // A sound request: the login and the refresh spend one row each, and the refresh's proof once.
    const login = await post(
      `${service.url}/auth/login`,
      { username: 'tester', password: 'tester password 1' },
      { dpop: await dpopProof(key, 'POST', `${service.url}/auth/login`, { nonce }), ...from },
    );
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
