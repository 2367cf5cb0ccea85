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

/** A key pair for proofs; `modulusLength` for RSA keys of another size. */
export async function dpopKey(alg: DpopKey['alg'] = 'ES256', options: { modulusLength?: number } = {}): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...options });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, publicKey, jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
}

/** The `ath` of a proof: base64url of the SHA-256 of the access token (RFC 9449 §4.2). */
export const ath = (token: string): string => createHash('sha256').update(token).digest('base64url');

/** What a proof may carry beside its method and URL. */
export interface ProofOptions {
  /** Adds its `ath`. */
  accessToken?: string;
  nonce?: string;
  /** Seconds; default now. */
  iat?: number;
  /** Override any claim; a member set to undefined drops it. */
  claims?: Record<string, unknown>;
  /** Override any header member (alg, typ, jwk, …); a member set to undefined drops it. */
  header?: Record<string, unknown>;
}

const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** A proof for `method` `url` (RFC 9449 §4.2), well-formed unless `claims` or `header` say otherwise. */
export function dpopProof(key: { alg: string; privateKey: CryptoKey; jwk: JWK }, method: string, url: string, o: ProofOptions = {}): Promise<string> {
  const claims = defined({
    jti: randomBytes(12).toString('base64url'),
    htm: method,
    htu: url,
    iat: o.iat ?? Math.floor(Date.now() / 1000),
    ...(o.nonce === undefined ? {} : { nonce: o.nonce }),
    ...(o.accessToken === undefined ? {} : { ath: ath(o.accessToken) }),
    ...o.claims,
  });
  const header = defined({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk, ...o.header });
  return new SignJWT(claims).setProtectedHeader(header as never).sign(key.privateKey);
}

/** POSTs a form or JSON body with a proof by `key`, following one use_dpop_nonce answer (RFC 9449 §8). */
export async function postWithProof(key: DpopKey, url: string, body: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  const send = async (nonce?: string) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers, dpop: await dpopProof(key, 'POST', url, nonce === undefined ? {} : { nonce }) },
      body: JSON.stringify(body),
    });
  const first = await send();
  const nonce = first.headers.get('dpop-nonce');
  return first.status === 400 && nonce !== null ? send(nonce) : first;
}
