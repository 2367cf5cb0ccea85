/**
 * DPoP (RFC 9449) from the app's server: in a server-rendered app the browser never holds a token,
 * so the key the tokens are bound to is the server's. Each call to the service's token endpoints
 * carries a fresh proof (§4.2) by that key, with the nonce the service gave last (§8); the access
 * token is checked here by a proof of the same key, so the verifier's rule for bound tokens (§7) holds.
 */
import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';
import type { JWK } from 'jose';
import { BatonConfigError } from '../core/errors.ts';
import type { ServerDpopKey } from './types.ts';

/** The server's proofs. */
export interface ServerProofs {
  /**
   * A proof for `method` `url` (no query, no fragment: §4.2 `htu`): to the service with the nonce it
   * gave last; presenting `accessToken` (checked here, where no nonce is asked) with its hash (`ath`) and no nonce.
   */
  proof(method: string, url: string, accessToken?: string): Promise<string>;
  /** Keeps an answer's `DPoP-Nonce` for the next proof. */
  noteNonce(headers: Headers): void;
  /** The key's RFC 7638 thumbprint: the `cnf.jkt` of the tokens bound to it. */
  jkt(): Promise<string>;
}

const NONCE = /^[\x21-\x7e]{1,256}$/;

/** Proofs by `key`, which is checked now: a wrong key is a sentence at start-up, not a refused sign-in later. */
export function serverProofs(key: ServerDpopKey): ServerProofs {
  const algorithm = key.privateKey?.algorithm as (KeyAlgorithm & { namedCurve?: string }) | undefined;
  const fits = key.alg === 'ES256' ? algorithm?.name === 'ECDSA' && algorithm.namedCurve === 'P-256' : algorithm?.name === 'Ed25519';
  if (!fits || key.privateKey.type !== 'private' || key.publicKey?.type !== 'public') {
    throw new BatonConfigError(
      `dpop needs { alg, privateKey, publicKey } with an ${key.alg === 'ES256' ? 'ECDSA P-256' : 'Ed25519'} key pair (for example jose's generateKeyPair('${key.alg}')).`,
    );
  }
  let jwk: Promise<JWK> | undefined;
  const publicJwk = () => (jwk ??= exportJWK(key.publicKey).then(({ kty, crv, x, y }) => ({ kty, crv, x, ...(y === undefined ? {} : { y }) }) as JWK));
  let nonce: string | undefined;
  return {
    async proof(method, url, accessToken) {
      const u = new URL(url);
      const claims: Record<string, unknown> = { jti: randomUUID(), htm: method, htu: `${u.origin}${u.pathname}` };
      if (nonce !== undefined && accessToken === undefined) claims.nonce = nonce;
      if (accessToken !== undefined) claims.ath = createHash('sha256').update(accessToken).digest('base64url');
      return new SignJWT(claims)
        .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: await publicJwk() })
        .setIssuedAt()
        .sign(key.privateKey);
    },
    noteNonce(headers) {
      const given = headers.get('dpop-nonce');
      if (given !== null && NONCE.test(given)) nonce = given;
    },
    jkt: async () => calculateJwkThumbprint(await publicJwk()),
  };
}
