/**
 * DPoP proofs (RFC 9449): a client proves, request by request, that it holds the private key its
 * tokens are bound to, so a copied token is useless without the key.
 *
 * Proofs are verified on `node:crypto` with the JWS code of the access-token fast path, written
 * by hand because `jose` (`jwtVerify` with `EmbeddedJWK`) imports the key anew for every proof
 * and runs at 0.38 of one raw ES256 check (`npm run bench -- --only dpop`): a client signs every
 * proof with the same key, so its key is imported and thumbprinted once and cached (per alg and
 * key, never per header text), and a proof costs one signature check and two small `JSON.parse`s. Every
 * check of RFC 9449 §4.3 that costs nothing runs before the signature, whose cost is bounded by the
 * keys accepted (`DPOP_RSA`, `proof-key.ts`); each proof's `jti` is spent once in the store's one-time ledger — by
 * `spend`, once the request is otherwise sound — so a replayed proof is refused on every instance.
 * A differential test holds it to `jose`.
 * Server nonces (§8) are `nonce.ts`'s.
 */
import { createHash } from 'node:crypto';
import { BatonError } from '../core/errors.ts';
import { decodeBase64url, splitCompact, verifySignature } from '../core/jws.ts';
import type { OneTimeLedger } from '../core/store.ts';
import { DpopNonces } from './nonce.ts';
import { headerOf, keyOf } from './proof-key.ts';
import type { ProofKey } from './proof-key.ts';

/** A verified proof: the key's RFC 7638 thumbprint, and what was checked. */
export interface DpopProof {
  /** `base64url(SHA-256(canonical JWK))`: what a session and its tokens are bound to (`cnf.jkt`, RFC 9449 §6). */
  jkt: string;
  jti: string;
  /** Seconds since the epoch. */
  iat: number;
}

/** What the proof must match: the request it came with. */
export interface DpopRequest {
  /** The HTTP method (`htm`). */
  method: string;
  /**
   * The request's URL (`htu`), or the URLs it is known by (the advertised endpoint and the one the
   * request named); query and fragment are ignored (§4.3 item 9).
   */
  url: string | readonly string[];
  /** The access token the request presents; the proof's `ath` must be its hash (§4.3 item 12). */
  accessToken?: string;
  /** A nonce is required in this proof (the token endpoint asks for one). */
  requireNonce?: boolean;
}

/** Options of the verifier. */
export interface DpopOptions {
  /** The secret nonces are derived from, shared by every instance (≥ 32 bytes), or a function returning the current one. */
  nonceSecret: Uint8Array | (() => Uint8Array);
  /** Where each proof's `jti` is spent once. */
  ledger: Pick<OneTimeLedger, 'consumeJti'>;
  now: () => number;
  /** How far a proof's `iat` may be from now, in seconds. Default 300 (a nonce-less proof's whole life). */
  iatWindowSec?: number;
  /** How long a nonce lasts, in seconds; the previous one is still accepted. Default 300. */
  nonceStepSec?: number;
}

/**
 * Why a proof was refused: `invalid_dpop_proof`, or `use_dpop_nonce` with the nonce to use (§8),
 * sent back in the `DPoP-Nonce` header.
 */
export class DpopError extends BatonError {
  override name = 'BatonDpopError';
  readonly nonce: string | undefined;
  constructor(code: 'ERR_DPOP_INVALID' | 'ERR_DPOP_NONCE', detail: string, nonce?: string) {
    super(code, detail);
    this.nonce = nonce;
  }
}

const invalid = (detail: string): DpopError => new DpopError('ERR_DPOP_INVALID', detail);

const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');

/**
 * The largest encoded header and payload of a proof, each checked before anything is decoded or
 * parsed: an RSA-4096 jwk makes a header of about 1,000 characters, a proof's claims a few hundred.
 * Within the 8,192 characters of the whole proof, a 2,700-level `[[…]]` or a 5.5 KB string in the
 * header cost 1.2–1.75 ms of JSON a request (issue #21 round 3).
 */
export const DPOP_MAX_HEADER = 2048;
export const DPOP_MAX_PAYLOAD = 4096;

/** The `htu` of a URL: scheme, host and path, without query or fragment, normalised by WHATWG URL parsing. */
function htu(url: string): string | undefined {
  const parsed = URL.parse(url);
  if (parsed === null) return undefined;
  parsed.search = '';
  parsed.hash = '';
  return parsed.href;
}

/** Checks DPoP proofs and makes the server's nonces. */
export class DpopVerifier {
  readonly #nonces: DpopNonces;
  readonly #ledger: Pick<OneTimeLedger, 'consumeJti'>;
  readonly #now: () => number;
  readonly #window: number;
  /** Proof keys seen lately, per (alg, key) — a client's proofs share one: bounded, so forged keys cannot grow it. */
  readonly #headers = new Map<string, ProofKey | string>();

  constructor(options: DpopOptions) {
    this.#ledger = options.ledger;
    this.#now = options.now;
    this.#window = options.iatWindowSec ?? 300;
    this.#nonces = new DpopNonces(options.nonceSecret, options.now, options.nonceStepSec ?? 300);
  }

  /** The nonce a client should use now (`DPoP-Nonce`, §8). */
  nonce(): string {
    return this.#nonces.current();
  }

  /**
   * Checks the `DPoP` header of a request (RFC 9449 §4.3) without spending its `jti`: what costs
   * nothing first — its size and shape, the header and its key (imported once per key), the claims
   * and the nonce — and the signature last, so a proof wrong in any cheap way costs no signature
   * check. Throws a `DpopError`; returns the proof's key thumbprint, `jti` and `iat`, for `spend`.
   */
  check(header: string | null | undefined, request: DpopRequest): DpopProof {
    return this.inspect(header, request).signed();
  }

  /** Signature checks made by every verifier of this process: what a test counts to see that a request reached none. */
  static signaturesChecked = 0;

  /**
   * `check` without the signature: every cheap check, then a proof that is not yet trusted — its
   * key's thumbprint, so that the caller can compare it with the token the request presents — and
   * `signed()`, which checks the signature (and throws a `DpopError` if it is wrong).
   */
  inspect(header: string | null | undefined, request: DpopRequest): DpopProof & { signed(): DpopProof } {
    if (typeof header !== 'string' || header === '') throw invalid('the DPoP header is missing');
    // Item 1: one header field (fetch joins repeated ones with ", ", which no compact JWS contains).
    if (header.includes(',') || header.length > 8192) throw invalid('one DPoP proof per request');
    let parts: ReturnType<typeof splitCompact>;
    try {
      parts = splitCompact(header);
    } catch {
      throw invalid('the DPoP proof is not a compact JWS');
    }
    const [headerSegment, payloadSegment, signatureSegment, signingInputEnd] = parts;
    if (headerSegment.length > DPOP_MAX_HEADER) throw invalid(`the DPoP proof's header is longer than ${DPOP_MAX_HEADER} characters`);
    if (payloadSegment.length > DPOP_MAX_PAYLOAD) throw invalid(`the DPoP proof's payload is longer than ${DPOP_MAX_PAYLOAD} characters`);
    const key = this.#keyOf(headerSegment);
    // The claims are read before the signature is checked, and trusted only once it was.
    let payload: unknown;
    let signature: Buffer;
    try {
      payload = JSON.parse(decodeBase64url(payloadSegment, 'payload').toString('utf8'));
      signature = decodeBase64url(signatureSegment, 'signature');
    } catch {
      throw invalid('the DPoP proof is not a valid dpop+jwt signed by the key in its header');
    }
    const proof = { jkt: key.jkt, ...this.#claimsOf(payload, request) };
    return {
      ...proof,
      signed(): DpopProof {
        // Items 2–3 and 6: signed by the key in its header.
        DpopVerifier.signaturesChecked++;
        let ok = false;
        try {
          ok = verifySignature(key.alg, key.key, header.slice(0, signingInputEnd), signature);
        } catch {
          // OpenSSL refusing the input is a bad signature too.
        }
        if (!ok) throw invalid('the DPoP proof is not a valid dpop+jwt signed by the key in its header');
        return proof;
      },
    };
  }

  /** Items 4–7: typ dpop+jwt, an asymmetric alg, a public jwk for it, within bounds — the key imported once per (alg, key). */
  #keyOf(headerSegment: string): ProofKey {
    const h = headerOf(headerSegment);
    if (typeof h === 'string') throw invalid(h);
    let proofKey = this.#headers.get(h.cacheKey);
    if (proofKey === undefined) {
      proofKey = keyOf(h.alg, h.jwk);
      if (this.#headers.size >= 1024) this.#headers.clear();
      this.#headers.set(h.cacheKey, proofKey);
    }
    if (typeof proofKey === 'string') throw invalid(proofKey);
    return proofKey;
  }

  /** The claims' checks (§4.3 items 8–12, §8), read before the signature is checked and trusted only once it was. */
  #claimsOf(payload: unknown, request: DpopRequest): { jti: string; iat: number } {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalid("the DPoP proof's payload is not a JSON object");
    const { jti, htm, iat, nonce, ath } = payload as Record<string, unknown>;
    if (typeof jti !== 'string' || jti === '' || jti.length > 256) throw invalid('jti is missing');
    if (htm !== request.method.toUpperCase()) throw invalid('htm does not match the request method');
    const urls = typeof request.url === 'string' ? [request.url] : request.url;
    // Two URLs that do not parse are not the same URL.
    const claimed = typeof (payload as { htu?: unknown }).htu === 'string' ? htu((payload as { htu: string }).htu) : undefined;
    if (claimed === undefined || !urls.some((url) => htu(url) === claimed)) throw invalid('htu does not match the request URL');
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid('iat is missing');
    if (request.accessToken !== undefined && ath !== sha256(request.accessToken)) throw invalid('ath does not match the access token');
    if (request.accessToken === undefined && ath !== undefined) throw invalid('ath names an access token the request does not carry');
    // §8: a missing, stale or foreign nonce is answered with the one to use.
    if (nonce !== undefined && (typeof nonce !== 'string' || !this.#nonces.isFresh(nonce)))
      throw new DpopError('ERR_DPOP_NONCE', 'the nonce is not current', this.nonce());
    if (nonce === undefined && request.requireNonce === true) throw new DpopError('ERR_DPOP_NONCE', 'a nonce is required', this.nonce());
    // Item 11: iat within the window, both sides.
    if (Math.abs(this.#now() / 1000 - iat) > this.#window) throw invalid('iat is too far from now');
    return { jti, iat };
  }

  /**
   * Spends a checked proof's `jti` in the one-time ledger (item 10, replay): each proof once,
   * everywhere, for as long as its `iat` is acceptable. Called once the request it came with is
   * otherwise sound, so that a refused request writes nothing. Throws a `DpopError` if it was spent.
   */
  async spend(proof: DpopProof): Promise<void> {
    if (!(await this.#ledger.consumeJti(`dpop:${sha256(`${proof.jkt}.${proof.jti}`)}`, (proof.iat + this.#window) * 1000, this.#now()))) {
      throw new DpopError('ERR_DPOP_INVALID', 'the DPoP proof was already used');
    }
  }

  /** `check`, then `spend`: a proof that grants something at once (a resource request, RFC 9449 §7). */
  async verify(header: string | null | undefined, request: DpopRequest): Promise<DpopProof> {
    const proof = this.check(header, request);
    await this.spend(proof);
    return proof;
  }
}
