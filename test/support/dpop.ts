/**
 * DPoP keys and proofs (RFC 9449 §4.2) for tests, made with jose independently of Baton's code.
 */
import { createHash, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey, JWK } from 'jose';

export interface DpopKey {
  alg: 'ES256' | 'EdDSA' | 'RS256' | 'PS256';
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
  /** RFC 7638 SHA-256 thumbprint. */
  jkt: string;
}

export async function dpopKey(alg: DpopKey['alg'] = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, publicKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
}

/** A proof for `method` `url`; `accessToken` adds its `ath`; other claims override. */
export function dpopProof(key: DpopKey, method: string, url: string, o: { accessToken?: string; nonce?: string; iat?: number; claims?: Record<string, unknown> } = {}): Promise<string> {
  return new SignJWT({
    jti: randomBytes(12).toString('base64url'),
    htm: method,
    htu: url,
    iat: o.iat ?? Math.floor(Date.now() / 1000),
    ...(o.nonce === undefined ? {} : { nonce: o.nonce }),
    ...(o.accessToken === undefined ? {} : { ath: createHash('sha256').update(o.accessToken).digest('base64url') }),
    ...o.claims,
  })
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk })
    .sign(key.privateKey);
}

/** POSTs a form or JSON body with a proof by `key`, following one use_dpop_nonce answer (RFC 9449 §8). */
export async function postWithProof(key: DpopKey, url: string, body: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  const send = async (nonce?: string) => fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers, dpop: await dpopProof(key, 'POST', url, nonce === undefined ? {} : { nonce }) },
    body: JSON.stringify(body),
  });
  const first = await send();
  const nonce = first.headers.get('dpop-nonce');
  return first.status === 400 && nonce !== null ? send(nonce) : first;
}
