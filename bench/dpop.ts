/**
 * What DPoP (RFC 9449) costs: a protected request (the token from the verified-token cache, then
 * the proof: its ES256 signature, the checks, its jti spent in the memory store) and a refresh
 * (the proof with a nonce, then the rotation), next to the same without DPoP and to the raw
 * ES256 floor — one `node:crypto` signature check of a proof (split and decoded, as any verifier
 * must). Proofs are signed before timing, each used once, as clients send them.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';
import type { JWK } from 'jose';
import { createBaton, generateKey } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { fmt, measure, table } from './harness.ts';
import type { Candidate } from './harness.ts';

const ISSUER = 'https://auth.example.com';
const API = 'https://api.example.com/orders';
const TOKEN_URL = `${ISSUER}/oauth/token`;

const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A pool of proofs by one P-256 key, signed with node:crypto (each op takes the next one). */
function proofs(privateKey: KeyObject, jwk: JWK, count: number, claims: Record<string, unknown>): string[] {
  const header = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk });
  const out: string[] = [];
  const iat = Math.floor(Date.now() / 1000);
  for (let i = 0; i < count; i++) {
    const input = `${header}.${b64({ jti: randomBytes(12).toString('base64url'), iat, ...claims })}`;
    out.push(`${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`);
  }
  return out;
}

/** Runs the DPoP table and returns it as Markdown. */
export async function benchDpop(options: { ms?: number; rounds?: number } = {}): Promise<string> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  const baton = createBaton({
    issuer: ISSUER,
    keys: [generateKey('ES256', 'k1')],
    refreshTokenSecret: randomBytes(32),
    store: memoryStore(),
    refreshRateLimit: false,
  });
  await baton.ready();
  const bound = (await baton.login('user-1', { jkt, resource: 'https://api.example.com' })).access_token;
  const bearer = (await baton.login('user-2', { resource: 'https://api.example.com' })).access_token;
  const ms = options.ms ?? 400;
  const rounds = options.rounds ?? 3;
  // Enough proofs for the warm-up and every round of three candidates at 20,000 proofs a second each.
  const pool = proofs(privateKey, jwk, Math.ceil(((Math.min(ms, 150) + ms * rounds) / 1000) * 60_000), {
    htm: 'GET',
    htu: API,
    ath: createHash('sha256').update(bound).digest('base64url'),
  });
  let next = 0;
  const floor = (): boolean => {
    const proof = pool[next++] as string;
    const dot = proof.lastIndexOf('.');
    return cryptoVerify(
      'sha256',
      Buffer.from(proof.slice(0, dot)),
      { key: publicKey, dsaEncoding: 'ieee-p1363' },
      Buffer.from(proof.slice(dot + 1), 'base64url'),
    );
  };
  const audience = { audience: 'https://api.example.com' };
  const request: Candidate[] = [
    { name: 'raw node:crypto ES256 check of a proof (floor)', run: floor },
    { name: 'jose jwtVerify of a proof (EmbeddedJWK)', run: () => jwtVerify(pool[next++] as string, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] }) },
    {
      name: 'Baton verify, DPoP: cached token + proof',
      run: () => baton.verify(bound, { ...audience, dpop: { proof: pool[next++] as string, method: 'GET', url: API } }),
    },
    { name: 'Baton verify, Bearer: cached token', run: () => baton.verify(bearer, audience) },
  ];
  for (const c of request) await c.run(); // each accepts before it is timed
  const requestResults = await measure(request, { ms, rounds });
  if (next > pool.length) throw new Error(`the proof pool ran out (${next} > ${pool.length}): raise it`);

  const nonce = baton.dpopNonce();
  const refreshPool = proofs(privateKey, jwk, Math.ceil(((Math.min(ms, 150) + ms * rounds) / 1000) * 10_000), { htm: 'POST', htu: TOKEN_URL, nonce });
  next = 0;
  pool.length = Math.min(pool.length, Math.ceil(((Math.min(ms, 150) + ms * rounds) / 1000) * 20_000)); // the floor's share for this table
  let nextRefresh = 0;
  let boundToken = (await baton.login('user-3', { jkt })).refresh_token;
  let bearerToken = (await baton.login('user-4')).refresh_token;
  const refresh: Candidate[] = [
    { name: 'raw node:crypto ES256 check of a proof (floor)', run: request[0]?.run as () => unknown },
    {
      name: 'Baton refresh, DPoP: checkProof + rotation',
      run: async () => {
        const proof = await baton.checkProof(refreshPool[nextRefresh++] as string, { method: 'POST', url: TOKEN_URL });
        boundToken = (await baton.refresh(boundToken, { jkt: proof.jkt })).refresh_token;
      },
    },
    { name: 'Baton refresh, Bearer: rotation', run: async () => void (bearerToken = (await baton.refresh(bearerToken)).refresh_token) },
  ];
  const refreshResults = await measure(refresh, { ms, rounds });
  if (nextRefresh > refreshPool.length) throw new Error(`the refresh proof pool ran out (${nextRefresh} > ${refreshPool.length}): raise it`);

  const rows: (string | number)[][] = [];
  for (const [what, results] of [
    ['request', requestResults],
    ['refresh', refreshResults],
  ] as const) {
    const floor = results[0]?.opsPerSec ?? 1;
    for (const r of results) rows.push([`${what} · ${r.name}`, fmt(r.opsPerSec), (r.opsPerSec / floor).toFixed(2), `${(1e6 / r.opsPerSec).toFixed(1)}`]);
  }
  return table(['DPoP (memory store, one process)', 'ops/s', '× raw', 'µs/op'], rows);
}
