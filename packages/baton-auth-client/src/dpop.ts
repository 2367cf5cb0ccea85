/**
 * DPoP (RFC 9449) on the client: proofs signed with an ECDSA P-256 key (ES256), the key's RFC 7638
 * thumbprint, and the servers' nonces (§8, §9), remembered per origin.
 *
 * Written on WebCrypto (`globalThis.crypto.subtle`), which browsers and Node share, so one code path
 * serves both. Not with `jose`: a proof is one JSON header, one JSON payload and one ECDSA signature
 * (WebCrypto already returns the raw r‖s that JWS wants, RFC 7518 §3.4), some thirty lines here,
 * against a dependency that the web page would bundle and that would sign nothing more.
 */
import { absolute } from './origins.ts';

/** The only algorithm the client signs proofs with. */
export const DPOP_ALG = 'ES256';
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;

const encoder = new TextEncoder();

export function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const json64 = (value: unknown): string => base64url(encoder.encode(JSON.stringify(value)));

/** `base64url(SHA-256(value))`: a proof's `ath` (§4.2), a key's thumbprint (RFC 7638 §3). */
export async function sha256(value: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(value))));
}

/** A P-256 public key as a proof's header carries it: `kty`, `crv`, `x`, `y`, nothing else. */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

/** A new key pair whose private key can sign but never be read (`extractable: false`). */
export function generateDpopKeyPair(extractable = false): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(EC, extractable, ['sign', 'verify']);
}

/** Whether a key pair is one the client signs with: ECDSA on P-256. */
export function isDpopKeyPair(pair: unknown): pair is CryptoKeyPair {
  const p = pair as Partial<CryptoKeyPair> | null | undefined;
  const algorithm = p?.privateKey?.algorithm as EcKeyAlgorithm | undefined;
  return algorithm?.name === 'ECDSA' && algorithm.namedCurve === 'P-256' && p?.publicKey?.type === 'public' && p.privateKey?.type === 'private';
}

/**
 * Why a stored key pair is not one this SDK would have made, or undefined when it is: an ECDSA
 * P-256 pair whose private key is non-extractable and signs only (what `generateDpopKeyPair` makes).
 * A pair that fails this was planted (a script that exported its private key first); signing with it
 * would bind the session to a key someone else holds.
 */
export function foreignKeyReason(pair: unknown): string | undefined {
  if (!isDpopKeyPair(pair)) return pair === undefined ? 'no key pair' : 'not an ECDSA P-256 key pair';
  if (pair.privateKey.extractable !== false) return 'its private key is extractable';
  const usages = pair.privateKey.usages;
  if (usages.length !== 1 || usages[0] !== 'sign') return `its private key's usages are ${JSON.stringify(usages)}, not ["sign"]`;
  return undefined;
}

/** The `htu` of a URL (§4.2): without query and fragment; a WebSocket URL keeps its ws:/wss: scheme. */
export function htu(url: string): string {
  const u = absolute(url);
  u.search = '';
  u.hash = '';
  return u.href;
}

/** Signs proofs with one key pair. */
export class DpopSigner {
  readonly #privateKey: CryptoKey;
  readonly #jwk: Promise<PublicJwk>;
  /** Seconds since the epoch on the server's clock, as well as the client knows it. */
  readonly #serverSeconds: () => number;

  constructor(pair: CryptoKeyPair, serverNow: () => number) {
    this.#privateKey = pair.privateKey;
    // The public half of a generated pair is always extractable (WebCrypto §14.3.6 / generateKey).
    this.#jwk = crypto.subtle.exportKey('jwk', pair.publicKey).then(({ x, y }) => ({ kty: 'EC', crv: 'P-256', x: x as string, y: y as string }));
    this.#serverSeconds = () => Math.floor(serverNow() / 1000);
  }

  /** The public key, as proofs carry it. */
  publicJwk(): Promise<PublicJwk> {
    return this.#jwk;
  }

  /** The key's RFC 7638 thumbprint (SHA-256): what the server binds the session and its tokens to (`jkt`). */
  async thumbprint(): Promise<string> {
    const { crv, kty, x, y } = await this.#jwk;
    return sha256(JSON.stringify({ crv, kty, x, y })); // members in lexicographic order, no spaces (§3.2)
  }

  /**
   * A fresh proof (§4.2) for one request: `htm` the method, `htu` the URL without query or fragment,
   * a 128-bit `jti`, `iat` on the server's clock, the server's `nonce` if it gave one, and `ath`
   * when the request carries an access token.
   */
  async proof(method: string, url: string, options: { nonce?: string | undefined; accessToken?: string | undefined } = {}): Promise<string> {
    const payload: Record<string, unknown> = {
      jti: base64url(crypto.getRandomValues(new Uint8Array(16))),
      htm: method.toUpperCase(),
      htu: htu(url),
      iat: this.#serverSeconds(),
    };
    if (options.nonce !== undefined) payload.nonce = options.nonce;
    if (options.accessToken !== undefined) payload.ath = await sha256(options.accessToken);
    const input = `${json64({ typ: 'dpop+jwt', alg: DPOP_ALG, jwk: await this.#jwk })}.${json64(payload)}`;
    const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, this.#privateKey, encoder.encode(input));
    return `${input}.${base64url(new Uint8Array(signature))}`;
  }
}

/** The latest `DPoP-Nonce` (§8, §9) each origin sent. */
export class NonceBook {
  readonly #nonces = new Map<string, string>();

  #origin(url: string): string {
    return absolute(url).origin;
  }

  get(url: string): string | undefined {
    return this.#nonces.get(this.#origin(url));
  }

  /** Keeps the `DPoP-Nonce` of a response from `url`, if it has one. */
  note(url: string, response: Response): void {
    this.set(url, response.headers.get('dpop-nonce'));
  }

  /** Keeps `nonce` (a `DPoP-Nonce` header's value) for `url`'s origin, if it is one. */
  set(url: string, nonce: string | null | undefined): void {
    // A nonce is an opaque token of NQCHAR (§8.1); anything else is not one.
    if (typeof nonce === 'string' && nonce !== '' && nonce.length <= 1024 && /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(nonce))
      this.#nonces.set(this.#origin(url), nonce);
  }
}

/** Whether a `WWW-Authenticate` header's challenge is `use_dpop_nonce` (§9). */
export function asksForNonce(wwwAuthenticate: string | null | undefined): boolean {
  return /\berror\s*=\s*"?use_dpop_nonce\b/i.test(wwwAuthenticate ?? '');
}

/** Whether a resource server asks for a proof with its nonce (§9): a 401 `use_dpop_nonce` that names one. */
export function isResourceNonceChallenge(response: Response): boolean {
  return response.status === 401 && response.headers.has('dpop-nonce') && asksForNonce(response.headers.get('www-authenticate'));
}
