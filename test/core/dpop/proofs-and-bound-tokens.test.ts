/**
 * DPoP red team: attacks the code withstood when they were tried (each test passes). Kept as
 * regressions; the findings are in the sibling files.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, base64url, exportJWK, generateKeyPair } from 'jose';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton, BatonEvent } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { boundLogin, raw } from './helpers.ts';
import { dpopKey, dpopProof } from '../../support/dpop.ts';
import { frameworks, startDemo } from '../../support/frameworks.ts';
import type { DpopKey } from '../../support/dpop.ts';
import type { Started } from '../../support/frameworks.ts';

const ISSUER = 'https://auth.test';
const TOKEN = `${ISSUER}/oauth/token`;
const API = 'https://api.test/orders';

function engine(): { baton: Baton; events: BatonEvent[] } {
  const events: BatonEvent[] = [];
  const baton = createBaton({
    issuer: ISSUER,
    keys: [generateKey('ES256')],
    refreshTokenSecret: randomBytes(32),
    store: memoryStore(),
    dpop: { requireNonce: false },
    onEvent: (e) => events.push(e),
  });
  return { baton, events };
}
const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'accepted',
    (e: { code?: string }) => e.code ?? String(e),
  );
const check = (baton: Baton, p: string, method = 'POST', url: string | string[] = TOKEN) => outcome(baton.checkProof(p, { method, url }));
const unsigned = (header: object, payload: object, sig = '') =>
  `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.${sig}`;
const claims = (o: Record<string, unknown> = {}) => ({
  jti: randomBytes(8).toString('hex'),
  htm: 'POST',
  htu: TOKEN,
  iat: Math.floor(Date.now() / 1000),
  ...o,
});

describe('proof format (RFC 9449 §4.3)', () => {
  it('alg none, HS256 with the jwk as secret, an oct jwk, a private jwk: refused', async () => {
    const { baton } = engine();
    const key = await dpopKey();
    expect(await check(baton, unsigned({ alg: 'none', typ: 'dpop+jwt', jwk: key.jwk }, claims()))).toBe('ERR_DPOP_INVALID');
    const secret = randomBytes(32);
    const oct = { kty: 'oct', k: base64url.encode(secret) };
    const hs = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: oct } as never).sign(secret);
    expect(await check(baton, hs)).toBe('ERR_DPOP_INVALID');
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const priv = await exportJWK(privateKey);
    const withD = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: priv } as never).sign(privateKey);
    expect(await check(baton, withD)).toBe('ERR_DPOP_INVALID');
    expect(
      await check(
        baton,
        await dpopProof(key, 'POST', TOKEN, { header: { alg: '__proto__' } }).catch(() =>
          unsigned({ alg: '__proto__', typ: 'dpop+jwt', jwk: key.jwk }, claims(), 'AAAA'),
        ),
      ),
    ).toBe('ERR_DPOP_INVALID');
  });

  it('typ JWT or missing, crit, an RSA key under 2048 bits, a DER ES256 signature: refused', async () => {
    const { baton } = engine();
    const key = await dpopKey();
    expect(await check(baton, await dpopProof(key, 'POST', TOKEN, { header: { typ: 'JWT' } }))).toBe('ERR_DPOP_INVALID');
    expect(await check(baton, await dpopProof(key, 'POST', TOKEN, { header: { typ: undefined } }))).toBe('ERR_DPOP_INVALID');
    expect(await check(baton, await dpopProof(key, 'POST', TOKEN, { header: { crit: ['exp'], exp: 1 } }).catch(() => 'x.y.z'))).toBe('ERR_DPOP_INVALID');
    const small = await dpopKey('RS256', { modulusLength: 1024 }).catch(() => undefined);
    if (small !== undefined) expect(await check(baton, await dpopProof(small, 'POST', TOKEN).catch(() => 'x.y.z'))).toBe('ERR_DPOP_INVALID');
    // The same proof with its P1363 signature re-encoded as DER.
    const good = await dpopProof(key, 'POST', TOKEN);
    const [h, p, s] = good.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    const int = (b: Buffer) => {
      let x = b;
      while (x.length > 1 && x[0] === 0 && !((x[1] as number) & 0x80)) x = x.subarray(1);
      return (x[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), x]) : x;
    };
    const r = int(sig.subarray(0, 32));
    const s2 = int(sig.subarray(32));
    const der = Buffer.concat([Buffer.from([0x30, r.length + s2.length + 4, 0x02, r.length]), r, Buffer.from([0x02, s2.length]), s2]);
    expect(await check(baton, `${h}.${p}.${der.toString('base64url')}`)).toBe('ERR_DPOP_INVALID');
    // And the untouched proof is fine (the control).
    expect(await check(baton, good)).toBe('accepted');
  });

  it('htm lowercase, iat as a string, iat an hour ahead or behind, a trailing slash in htu: refused', async () => {
    const { baton } = engine();
    const key = await dpopKey();
    const now = Math.floor(Date.now() / 1000);
    expect(await check(baton, await dpopProof(key, 'post', TOKEN))).toBe('ERR_DPOP_INVALID');
    expect(await check(baton, await dpopProof(key, 'POST', TOKEN, { claims: { iat: String(now) } }))).toBe('ERR_DPOP_INVALID');
    expect(await check(baton, await dpopProof(key, 'POST', TOKEN, { iat: now + 3600 }))).toBe('ERR_DPOP_INVALID');
    expect(await check(baton, await dpopProof(key, 'POST', TOKEN, { iat: now - 3600 }))).toBe('ERR_DPOP_INVALID');
    expect(await check(baton, await dpopProof(key, 'POST', `${TOKEN}/`))).toBe('ERR_DPOP_INVALID');
    expect(await check(baton, await dpopProof(key, 'POST', TOKEN.replace('/oauth/token', '/oauth/%74oken')))).toBe('ERR_DPOP_INVALID');
  });

  it('htu equivalences of RFC 3986 §6.2.2 (scheme and host case, default port, query, fragment) name the same URL: accepted', async () => {
    const { baton } = engine();
    const key = await dpopKey();
    for (const u of ['HTTPS://AUTH.TEST/oauth/token', 'https://auth.test:443/oauth/token', `${TOKEN}?a=1`, `${TOKEN}#f`]) {
      expect(await check(baton, await dpopProof(key, 'POST', u)), u).toBe('accepted');
    }
  });

  it('a replayed jti is refused; kid and x5c in the jwk change nothing of the thumbprint; a header member beyond typ, alg and jwk is refused (RFC 9449 §4.2)', async () => {
    const { baton } = engine();
    const key = await dpopKey();
    const p = await dpopProof(key, 'POST', TOKEN);
    expect(await check(baton, p)).toBe('accepted');
    expect(await check(baton, p)).toBe('ERR_DPOP_INVALID');
    const extra = await baton.checkProof(await dpopProof(key, 'POST', TOKEN, { header: { jwk: { ...key.jwk, kid: 'x', x5c: ['AAAA'] } } }), {
      method: 'POST',
      url: TOKEN,
    });
    expect(extra.jkt).toBe(key.jkt);
    await expect(baton.checkProof(await dpopProof(key, 'POST', TOKEN, { header: { kid: 'other' } }), { method: 'POST', url: TOKEN })).rejects.toThrow(
      /typ, alg and jwk only.*"kid"/,
    );
  });

  it('a nonce from another Baton (another refresh key) is answered with use_dpop_nonce', async () => {
    const a = engine().baton;
    const b = createBaton({ issuer: ISSUER, keys: [generateKey('ES256')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
    const key = await dpopKey();
    expect(await check(b, await dpopProof(key, 'POST', TOKEN, { nonce: a.dpopNonce() }))).toBe('ERR_DPOP_NONCE');
    expect(await check(b, await dpopProof(key, 'POST', TOKEN, { nonce: b.dpopNonce() }))).toBe('accepted');
  });

  it('a joined duplicate header, a 9000-character header, odd JSON payloads: refused, never thrown as anything else', async () => {
    const { baton } = engine();
    const key = await dpopKey();
    const p = await dpopProof(key, 'POST', TOKEN);
    expect(await check(baton, `${p}, ${p}`)).toBe('ERR_DPOP_INVALID');
    expect(await check(baton, 'a'.repeat(9000))).toBe('ERR_DPOP_INVALID');
    for (const body of [
      [1],
      'str',
      null,
      12,
      { jti: 1 },
      { jti: 'x', htm: 'POST', htu: 5, iat: 1 },
      { jti: 'x'.repeat(300), htm: 'POST', htu: TOKEN, iat: 1 },
    ]) {
      const jws = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk } as never).sign(key.privateKey);
      const [h] = jws.split('.') as [string];
      const input = `${h}.${base64url.encode(JSON.stringify(body))}`;
      const { sign } = await import('node:crypto');
      const pk = (await import('node:crypto')).createPrivateKey({ key: (await exportJWK(key.privateKey)) as never, format: 'jwk' });
      const sig = sign('sha256', Buffer.from(input), { key: pk, dsaEncoding: 'ieee-p1363' }).toString('base64url');
      expect(await check(baton, `${input}.${sig}`), JSON.stringify(body)).toBe('ERR_DPOP_INVALID');
    }
  });
});

describe('bound tokens in the engine', () => {
  async function bound(baton: Baton, key: DpopKey) {
    const jkt = (await baton.checkProof(await dpopProof(key, 'POST', TOKEN), { method: 'POST', url: TOKEN })).jkt;
    return baton.login('alice', { jkt });
  }

  it('verifyLocal and verifySync refuse a bound token; a proof with ath over base64 (not base64url) or another token is refused', async () => {
    const { baton } = engine();
    const key = await dpopKey();
    const pair = await bound(baton, key);
    expect(() => baton.verifyLocal(pair.access_token)).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_SCHEME' }));
    expect(() => baton.verifySync(pair.access_token)).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_SCHEME' }));
    const b64 = createHash('sha256').update(pair.access_token).digest('base64');
    const p = await dpopProof(key, 'GET', API, { claims: { ath: b64 } });
    expect(await outcome(baton.verify(pair.access_token, { audience: ISSUER, dpop: { proof: p, method: 'GET', url: API } }))).toBe('ERR_DPOP_INVALID');
    const other = await bound(baton, key);
    const q = await dpopProof(key, 'GET', API, { accessToken: other.access_token });
    expect(await outcome(baton.verify(pair.access_token, { dpop: { proof: q, method: 'GET', url: API } }))).toBe('ERR_DPOP_INVALID');
    // A token-endpoint proof (no ath) replayed at a resource: refused.
    const tokenProof = await dpopProof(key, 'POST', TOKEN);
    expect(await outcome(baton.verify(pair.access_token, { dpop: { proof: tokenProof, method: 'POST', url: TOKEN } }))).toBe('ERR_DPOP_INVALID');
  });

  it("an rtd_ token renamed rt_ (or rt_ renamed rtd_) is refused with nothing changed; revocation with another key's proof is refused; introspection names cnf", async () => {
    const { baton, events } = engine();
    const key = await dpopKey();
    const thief = await dpopKey();
    const pair = await bound(baton, key);
    const jktOf = async (k: DpopKey) => (await baton.checkProof(await dpopProof(k, 'POST', TOKEN), { method: 'POST', url: TOKEN })).jkt;
    const renamed = pair.refresh_token.replace(/^rtd_/, 'rt_');
    expect(await outcome(baton.refresh(renamed))).toBe('ERR_REFRESH_INVALID');
    expect(await outcome(baton.refresh(renamed, { jkt: await jktOf(thief) }))).toBe('ERR_REFRESH_INVALID');
    const plain = await baton.login('bob');
    expect(await outcome(baton.refresh(plain.refresh_token.replace(/^rt_/, 'rtd_'), { jkt: await jktOf(thief) }))).toBe('ERR_REFRESH_INVALID');
    // Revocation needs no proof (RFC 7009, see dpop-binding.test.ts); one by another key is refused.
    expect(await outcome(baton.revoke(pair.refresh_token, { jkt: await jktOf(thief) }))).toBe('ERR_DPOP_INVALID');
    await baton.revoke(renamed);
    expect(events.some((e) => e.type === 'session.revoked' || e.type === 'refresh.reused' || e.type === 'refresh.rotated')).toBe(false);
    expect((await baton.introspect(pair.refresh_token)).cnf).toEqual({ jkt: key.jkt });
    expect(await baton.introspect(pair.access_token)).toMatchObject({ token_type: 'DPoP', cnf: { jkt: key.jkt } });
    expect((await baton.refresh(pair.refresh_token, { jkt: await jktOf(key) })).token_type).toBe('DPoP');
  });
});

describe('over HTTP (express example)', () => {
  let server: Started;
  const d = startDemo();
  beforeAll(async () => {
    server = await frameworks.express(d);
  });
  afterAll(() => server.close());

  it('two concurrent refreshes with the same proof: one at most succeeds, nothing is revoked', async () => {
    const key = await dpopKey();
    const pair = await boundLogin(server.url, key);
    const url = `${server.url}/oauth/token`;
    const p = await dpopProof(key, 'POST', url, { nonce: pair.nonce });
    const send = () =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: p },
        body: `grant_type=refresh_token&refresh_token=${pair.refresh_token}`,
      });
    const results = await Promise.all([send(), send(), send()]);
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect((await d.baton.listSessions('user-demo')).some((s) => s.id === pair.session_id)).toBe(true);
  });

  it('a duplicated DPoP header, a huge Authorization header, Authorization: DPoP at the token endpoint: 4xx, no crash; a double space after DPoP is a space (RFC 9110 §11.4)', async () => {
    const key = await dpopKey();
    const pair = await boundLogin(server.url, key);
    const url = `${server.url}/api/profile`;
    const p1 = await dpopProof(key, 'GET', url, { accessToken: pair.access_token });
    const p2 = await dpopProof(key, 'GET', url, { accessToken: pair.access_token });
    const dup = await new Promise<number>((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const req = request(
          url,
          { headers: ['host', `127.0.0.1:${server.port}`, 'authorization', `DPoP ${pair.access_token}`, 'dpop', p1, 'dpop', p2] as never },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      }, reject);
    });
    expect(dup).toBe(401);
    // RFC 9110 §11.4: credentials follow the scheme after 1*SP — two spaces are as good as one (#22).
    expect((await fetch(url, { headers: { authorization: `DPoP  ${pair.access_token}`, dpop: p2 } })).status).toBe(200);
    const huge = await raw(server.port, 'GET', '/api/profile', {
      host: `127.0.0.1:${server.port}`,
      authorization: `DPoP ${'a'.repeat(15000)}`,
      dpop: 'b'.repeat(300),
    });
    expect(huge.status).toBeGreaterThanOrEqual(400);
    expect(huge.status).toBeLessThan(500);
    const tok = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `DPoP ${pair.access_token}`,
        'content-type': 'application/x-www-form-urlencoded',
        dpop: await dpopProof(key, 'POST', `${server.url}/oauth/token`, { nonce: pair.nonce }),
      },
      body: `grant_type=refresh_token&refresh_token=${pair.refresh_token}`,
    });
    expect(tok.status).toBeLessThan(500);
    // The session lives on and the right proof still works.
    const ok = await fetch(url, {
      headers: { authorization: `DPoP ${pair.access_token}`, dpop: await dpopProof(key, 'GET', url, { accessToken: pair.access_token }) },
    });
    expect(ok.status).toBe(200);
  });

  it('the bound access token as Bearer at /auth/me and at requireAuth: 401', async () => {
    const key = await dpopKey();
    const own = await boundLogin(server.url, key, null);
    expect((await fetch(`${server.url}/auth/me`, { headers: { authorization: `Bearer ${own.access_token}` } })).status).toBe(401);
    const api = await boundLogin(server.url, key);
    expect((await fetch(`${server.url}/api/profile`, { headers: { authorization: `Bearer ${api.access_token}` } })).status).toBe(401);
  });
});
