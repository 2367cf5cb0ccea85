/**
 * Red team of #26 (the verified-token cache keyed by a hash of a token's last eight characters,
 * the pipeline asking that cache first for any token, the steady clock reading the wall clock at
 * most once a millisecond, the Hono guard reading node-server's `c.env.incoming`): the attacks
 * that held. Each test fails if the defence it names is taken away.
 */
import { createPrivateKey, randomBytes, sign as cryptoSign } from 'node:crypto';
import http2 from 'node:http2';
import { connect } from 'node:net';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton, BatonOptions } from 'baton-auth';
import { requireAuth } from 'baton-auth/adapters/hono';
import type { BatonVariables } from 'baton-auth/adapters/hono';
import { memoryStore } from 'baton-auth/stores/memory';
import { steadyClock } from '../../packages/baton-auth/src/core/clock.ts';
import { keyOf } from '../../packages/baton-auth/src/protocol/token-cache.ts';
import { serveHono } from '../support/hono-servers.ts';
import type { HonoServers } from '../support/hono-servers.ts';

const ISSUER = 'https://issuer.test';
const API = 'https://api.test';
const clock = { t: Date.UTC(2026, 11, 7, 12) };
const signing = generateKey('EdDSA', 'ed');

function engine(extra: Partial<BatonOptions> = {}): Baton {
  return createBaton({
    issuer: ISSUER,
    keys: [signing],
    refreshTokenSecret: randomBytes(32),
    store: memoryStore(),
    leeway: '5s',
    now: () => clock.t,
    ...extra,
  });
}

/** 'accepted', or the refusal's code. */
const decision = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'accepted',
    (err: { code?: string }) => err.code ?? String(err),
  );
/** The refusal's detail (its message is generic). */
const detailOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    return String((err as { detail?: string }).detail);
  }
  return 'accepted';
};
const syncDecision = (f: () => unknown): string => {
  try {
    return f() === undefined ? 'undecided' : 'accepted';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
};

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
const ed = createPrivateKey({ key: (signing as unknown as { privateKey: object }).privateKey as never, format: 'jwk' });
/** A token of this issuer, signed with its key by hand (for collision searches: no engine round trip). */
function mint(sub: string): string {
  const sec = Math.floor(clock.t / 1000);
  const input = `${b64({ alg: 'EdDSA', typ: 'at+jwt', kid: signing.kid })}.${b64({ iss: ISSUER, aud: API, sub, client_id: 'app', sid: `s-${sub}`, iat: sec, exp: sec + 300, jti: randomBytes(9).toString('base64url') })}`;
  return `${input}.${cryptoSign(null, Buffer.from(input), ed).toString('base64url')}`;
}

describe('the verified-token cache keyed by the last eight characters, asked first for any token', () => {
  const baton = engine();
  beforeAll(() => baton.ready());
  afterAll(() => baton.close());

  it('a cached token with its payload swapped, or its signature changed before the hashed tail, is refused (the whole token is compared)', async () => {
    const token = mint('ada');
    expect(await decision(baton.verify(token, { audience: API }))).toBe('accepted');
    const [head, , sig] = token.split('.') as [string, string, string];
    const sec = Math.floor(clock.t / 1000);
    const swapped = `${head}.${b64({ iss: ISSUER, aud: API, sub: 'admin', client_id: 'app', iat: sec, exp: sec + 300, jti: 'x' })}.${sig}`;
    const flipped = `${head}.${token.split('.')[1]}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    for (const forged of [swapped, flipped]) {
      expect(keyOf(forged)).toBe(keyOf(token)); // the same cache key: only the comparison refuses it
      expect(syncDecision(() => baton.verifySync(forged, { audience: API }))).toBe('ERR_TOKEN_INVALID');
      expect(await decision(baton.verify(forged, { audience: API }))).toBe('ERR_TOKEN_INVALID');
    }
  });

  it("two live tokens whose keys meet (a birthday search) are never answered with each other's claims", async () => {
    const byKey = new Map<number, string>();
    let pair: [string, string] | undefined;
    while (pair === undefined) {
      const token = mint(`user-${byKey.size}`);
      const other = byKey.get(keyOf(token));
      if (other !== undefined) pair = [other, token];
      else byKey.set(keyOf(token), token);
    }
    const [a, b] = pair;
    const sub = async (t: string) => ((await baton.verify(t, { audience: API })) as { sub: string }).sub;
    const expected = [
      JSON.parse(Buffer.from(a.split('.')[1] as string, 'base64url').toString()).sub,
      JSON.parse(Buffer.from(b.split('.')[1] as string, 'base64url').toString()).sub,
    ];
    for (let round = 0; round < 3; round++) {
      expect([await sub(a), await sub(b)]).toEqual(expected);
      expect([baton.verifySync(a, { audience: API })?.sub, baton.verifySync(b, { audience: API })?.sub]).toEqual(expected);
    }
  }, 60_000);

  it('a cached token past its exp and the leeway is refused by the cache-first path', async () => {
    const token = mint('ada');
    expect(await decision(baton.verify(token, { audience: API }))).toBe('accepted');
    const at = clock.t;
    clock.t += 306_000;
    try {
      expect(syncDecision(() => baton.verifySync(token, { audience: API }))).toBe('ERR_TOKEN_EXPIRED');
      expect(await decision(baton.verify(token, { audience: API }))).toBe('ERR_TOKEN_EXPIRED');
    } finally {
      clock.t = at;
    }
  });

  it('a cached token, the clock then back before its iat: not yet valid (the recheck on a hit)', async () => {
    const token = mint('ada');
    expect(await decision(baton.verify(token, { audience: API }))).toBe('accepted');
    const at = clock.t;
    clock.t -= 60_000;
    try {
      expect(syncDecision(() => baton.verifySync(token, { audience: API }))).toBe('ERR_TOKEN_NOT_YET_VALID');
    } finally {
      clock.t = at;
    }
  });

  it('a cached token for another audience is refused on a hit', async () => {
    const token = mint('ada');
    expect(await decision(baton.verify(token, { audience: API }))).toBe('accepted');
    expect(syncDecision(() => baton.verifySync(token, { audience: 'https://other.test' }))).toBe('ERR_TOKEN_INVALID');
  });

  it('a cached token whose session, or itself, was revoked is refused on a hit', async () => {
    const pair = await baton.login('ada', { resource: API });
    const other = await baton.login('bob', { resource: API });
    for (const t of [pair.access_token, other.access_token]) expect(await decision(baton.verify(t, { audience: API }))).toBe('accepted');
    const sid = (baton.verifySync(pair.access_token, { audience: API }) as { sid: string }).sid;
    await baton.revokeSession(sid);
    await baton.revoke(other.access_token);
    expect(syncDecision(() => baton.verifySync(pair.access_token, { audience: API }))).toBe('ERR_SESSION_REVOKED');
    expect(syncDecision(() => baton.verifySync(other.access_token, { audience: API }))).toBe('ERR_TOKEN_REVOKED');
  });

  it('a DPoP-bound token in the cache (introspected) is refused as Bearer', async () => {
    const { access_token } = await baton.login('ada', { jkt: 'x'.repeat(43) });
    expect((await baton.introspect(access_token)).active).toBe(true); // now cached
    expect(syncDecision(() => baton.verifySync(access_token))).toBe('ERR_TOKEN_SCHEME');
    expect(await decision(baton.verify(access_token))).toBe('ERR_TOKEN_SCHEME');
  });

  it('a token longer than the maximum is refused for its length before the cache, a cached token as its prefix', async () => {
    const token = mint('ada');
    expect(await decision(baton.verify(token, { audience: API }))).toBe('accepted');
    const long = token + 'A'.repeat(20_000);
    expect(detailOf(() => baton.verifySync(long, { audience: API }))).toMatch(/too long/);
  });

  it('non-string input (a String object of a cached token, a number, null) is refused as not a string', async () => {
    const token = mint('ada');
    expect(await decision(baton.verify(token, { audience: API }))).toBe('accepted');
    for (const junk of [new String(token), 42, null, { length: token.length, charCodeAt: (i: number) => token.charCodeAt(i) }])
      expect(detailOf(() => baton.verifySync(junk as unknown as string, { audience: API }))).toMatch(/not a string/);
  });

  it('refused tokens take no place in the cache: 3,000 forgeries leave a cached token a hit (a cache of 4)', async () => {
    const small = engine({ verifyCache: { max: 4 } });
    await small.ready();
    const token = mint('ada');
    await small.verify(token, { audience: API });
    const [head, payload] = token.split('.') as [string, string];
    for (let i = 0; i < 3000; i++)
      expect(syncDecision(() => small.verifySync(`${head}.${payload}.${randomBytes(64).toString('base64url')}`, { audience: API }))).toBe('ERR_TOKEN_INVALID');
    const hits = small.stats().verify.cacheHits;
    small.verifySync(token, { audience: API });
    expect(small.stats().verify.cacheHits).toBe(hits + 1);
    await small.close();
  });
});

describe('JWE and opaque tokens through the cache-first path', () => {
  const jwe = engine({ tokenFormat: 'jwe', keys: [signing, generateKey('dir', 'enc')] });
  const opaque = engine({ tokenFormat: 'opaque' });
  beforeAll(async () => Promise.all([jwe.ready(), opaque.ready()]));
  afterAll(async () => Promise.all([jwe.close(), opaque.close()]));

  it('a cached JWE: tampered before its tag (the hashed tail), revoked, or for another audience, is refused', async () => {
    const { access_token } = await jwe.login('ada');
    expect(access_token.split('.')).toHaveLength(5);
    expect(await decision(jwe.verify(access_token))).toBe('accepted');
    expect(syncDecision(() => jwe.verifySync(access_token))).toBe('accepted'); // the cache-first path answers a JWE
    const parts = access_token.split('.');
    const ct = parts[3] as string;
    parts[3] = (ct[0] === 'A' ? 'B' : 'A') + ct.slice(1);
    const tampered = parts.join('.');
    expect(keyOf(tampered)).toBe(keyOf(access_token));
    expect(await decision(jwe.verify(tampered))).toBe('ERR_TOKEN_INVALID');
    expect(syncDecision(() => jwe.verifySync(access_token, { audience: 'https://other.test' }))).toBe('ERR_TOKEN_INVALID');
    await jwe.revoke(access_token);
    expect(syncDecision(() => jwe.verifySync(access_token))).toBe('ERR_TOKEN_REVOKED');
  });

  it('an opaque token is never answered from the cache: revoked after an accepted use, refused', async () => {
    const { access_token } = await opaque.login('ada');
    expect(await decision(opaque.verify(access_token))).toBe('accepted');
    expect(syncDecision(() => opaque.verifySync(access_token))).toBe('undecided');
    await opaque.revoke(access_token);
    expect(await decision(opaque.verify(access_token))).not.toBe('accepted');
  });
});

describe('the steady clock reading the wall clock at most once per wallEveryMs', () => {
  it('an expired token stays refused through a wall clock stepped back, inside the skip window and after it', async () => {
    const c = { wall: Date.UTC(2026, 11, 7, 12), mono: 1_000 };
    const now = steadyClock({ wall: () => c.wall, monotonic: () => c.mono, wallEveryMs: 250 });
    const baton = createBaton({
      issuer: ISSUER,
      keys: [signing],
      refreshTokenSecret: randomBytes(32),
      store: memoryStore(),
      leeway: '5s',
      accessTokenTtl: '60s',
      now,
    });
    await baton.ready();
    const { access_token } = await baton.login('ada');
    expect(await decision(baton.verify(access_token))).toBe('accepted');
    c.mono += 70_000;
    c.wall += 70_000;
    expect(syncDecision(() => baton.verifySync(access_token))).toBe('ERR_TOKEN_EXPIRED');
    c.wall -= 3_600_000; // an hour back, read within the window: not followed
    c.mono += 0.1;
    expect(await decision(baton.verify(access_token))).toBe('ERR_TOKEN_EXPIRED');
    c.mono += 300; // read now: a step back, pending, not taken
    expect(await decision(baton.verify(access_token))).toBe('ERR_TOKEN_EXPIRED');
    await baton.close();
  });
});

describe('the Hono guard on @hono/node-server: the token in the query, over HTTP/1.1 and HTTP/2', () => {
  const baton = engine();
  const app = new Hono<{ Variables: BatonVariables }>();
  app.get('/api/me', requireAuth(baton, { audience: baton.audience }), (c) => c.text(c.get('auth').sub));
  let servers: HonoServers;
  beforeAll(async () => {
    await baton.ready();
    servers = await serveHono(app.fetch);
  });
  afterAll(async () => {
    session?.destroy();
    await servers.close();
    await baton.close();
  });

  const raw1 = (target: string, authorization: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const socket = connect(servers.ports.h1, '127.0.0.1', () =>
        socket.write(`GET ${target} HTTP/1.1\r\nHost: api.test\r\nAuthorization: ${authorization}\r\nConnection: close\r\n\r\n`),
      );
      let got = '';
      socket.setEncoding('latin1').on('data', (d: string) => (got += d));
      socket.on('error', reject).on('end', () => resolve(Number(got.split(' ')[1])));
    });
  let session: http2.ClientHttp2Session | undefined;
  const raw2 = (target: string, authorization: string): Promise<number> =>
    new Promise((resolve, reject) => {
      session ??= http2.connect(`http://127.0.0.1:${servers.ports.h2}`);
      const req = session.request({ ':path': target, authorization });
      req.on('response', (headers) => resolve(Number(headers[':status'])));
      req.on('error', reject).resume();
      req.end();
    });

  it('a token in the query (plain, percent-encoded, after another parameter) is refused with a valid header, on both', async () => {
    const { access_token } = await baton.login('ada');
    const header = `Bearer ${access_token}`;
    for (const send of [raw1, raw2]) {
      expect(await send('/api/me', header)).toBe(200);
      for (const query of [`?access_token=${access_token}`, `?%61ccess_token=${access_token}`, `?a=1&access%5Ftoken=${access_token}`])
        expect([query, await send(`/api/me${query}`, header)]).toEqual([query, 400]);
    }
  });
});
