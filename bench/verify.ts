/**
 * Access-token verification: Baton next to jose, fast-jwt, jsonwebtoken and the raw node:crypto
 * floor, on the same tokens, in one process.
 */
import { constants, createHmac, createSecretKey, randomBytes, timingSafeEqual, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createVerifier } from 'fast-jwt';
import { jwtVerify } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { createBaton, generateKey } from 'baton-auth';
import type { KeyInput, SigningAlg } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { fmt, measure, table } from './harness.ts';
import type { Candidate } from './harness.ts';

const ISSUER = 'https://auth.example.com';

/** The raw floor: split, one MAC or signature check, parse the payload, check exp. Nothing else. */
function rawVerifier(alg: SigningAlg, key: KeyObject): (token: string) => unknown {
  return (token) => {
    const dot = token.lastIndexOf('.');
    const sig = Buffer.from(token.slice(dot + 1), 'base64url');
    const input = token.slice(0, dot);
    const ok =
      alg === 'HS256'
        ? timingSafeEqual(createHmac('sha256', key).update(input).digest(), sig)
        : alg === 'EdDSA'
          ? cryptoVerify(null, Buffer.from(input), key, sig)
          : cryptoVerify(
              'sha256',
              Buffer.from(input),
              alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : alg === 'PS256' ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : key,
              sig,
            );
    if (!ok) throw new Error('bad signature');
    const claims = JSON.parse(Buffer.from(token.slice(token.indexOf('.') + 1, dot), 'base64url').toString()) as { exp: number };
    if (claims.exp * 1000 < Date.now()) throw new Error('expired');
    return claims;
  };
}

async function setup(alg: SigningAlg) {
  const key: KeyInput = alg === 'HS256' ? { kid: 'k1', alg, secret: `base64url:${randomBytes(32).toString('base64url')}` } : generateKey(alg, 'k1');
  const common = { issuer: ISSUER, keys: [key], refreshTokenSecret: randomBytes(32), store: memoryStore() };
  const cold = createBaton({ ...common, verifyCache: false });
  const warm = createBaton({ ...common });
  await cold.ready();
  await warm.ready();
  const token = (await warm.login('user-123456', { clientId: 'web', scope: 'read write' })).access_token;
  const ring = cold.keys.get('k1');
  if (ring === undefined) throw new Error('no key');
  const verifyKey = ring.verifyKey;
  const pem = alg === 'HS256' ? verifyKey.export() : verifyKey.export({ format: 'pem', type: 'spki' });
  const fjAlg = alg === 'EdDSA' ? 'EdDSA' : alg;
  const fastCold = createVerifier({ key: pem as string | Buffer, algorithms: [fjAlg], cache: false });
  const fastWarm = createVerifier({ key: pem as string | Buffer, algorithms: [fjAlg], cache: 10_000 });
  const raw = rawVerifier(alg, alg === 'HS256' ? createSecretKey(verifyKey.export()) : verifyKey);
  const joseOpts = { issuer: ISSUER, audience: ISSUER, typ: 'at+jwt', algorithms: [alg] };
  const candidates: Candidate[] = [
    { name: 'raw node:crypto (floor)', run: () => raw(token) },
    { name: 'Baton verifyLocal, no cache', run: () => cold.verifyLocal(token) },
    { name: 'Baton verify, no cache', run: () => cold.verify(token) },
    { name: 'Baton verifyLocal, cached', run: () => warm.verifyLocal(token) },
    { name: 'Baton verify, cached', run: () => warm.verify(token) },
    { name: 'jose jwtVerify', run: () => jwtVerify(token, verifyKey, joseOpts) },
    { name: 'fast-jwt, no cache', run: () => fastCold(token) },
    { name: 'fast-jwt, cache', run: () => fastWarm(token) },
  ];
  if (alg !== 'EdDSA') {
    candidates.push({
      name: 'jsonwebtoken',
      run: () => jsonwebtoken.verify(token, pem as string | Buffer, { algorithms: [alg as 'HS256' | 'ES256' | 'RS256' | 'PS256'] }),
    });
  }
  for (const c of candidates) c.run(); // every candidate accepts the token before it is timed
  await Promise.all(candidates.map((c) => c.run()));
  return { token, candidates };
}

/** Runs the verification table and returns it as Markdown. */
export async function benchVerify(options: { ms?: number; rounds?: number } = {}): Promise<string> {
  const rows: (string | number)[][] = [];
  for (const alg of ['HS256', 'ES256', 'EdDSA', 'RS256', 'PS256'] as const) {
    const { token, candidates } = await setup(alg);
    const results = await measure(candidates, options);
    const floor = results[0]?.opsPerSec ?? 1;
    for (const r of results) rows.push([`${alg} · ${r.name}`, fmt(r.opsPerSec), (r.opsPerSec / floor).toFixed(2)]);
    if (alg === 'HS256') rows.unshift([`(token: ${token.length} bytes)`, '', '']);
  }
  return table(['verify', 'ops/s', '× raw'], rows);
}
