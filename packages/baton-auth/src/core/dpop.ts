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
 * keys accepted (`DPOP_RSA`); each proof's `jti` is spent once in the store's one-time ledger — by
 * `spend`, once the request is otherwise sound — so a replayed proof is refused on every instance.
 * A differential test holds it to `jose`.
 * Server nonces (§8) are derived from a secret and the time step (HKDF), so every instance that
 * shares the secret issues and accepts the same nonces without storing any.
 */
import { createHash, createPublicKey, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { BatonError } from './errors.ts';
import { decodeBase64url, splitCompact, topLevelNames, verifySignature } from './jws.ts';
import type { KeyAlg } from './keys.ts';
import type { OneTimeLedger } from './store.ts';

/**
 * The algorithms a DPoP proof may use: asymmetric only (§4.3 item 5). `Ed25519` is RFC 9864's
 * fully-specified name for what `EdDSA` signs with an Ed25519 key (oauth4webapi sends it).
 */
export const DPOP_ALGS = ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] as const;

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

const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');

/** A proof header that passed every check: its key, imported, and the key's thumbprint. */
interface ProofKey {
  alg: KeyAlg;
  key: KeyObject;
  jkt: string;
}

/** What each proof algorithm needs of its key (RFC 7518 §3.3–3.5, RFC 8037 §3.1). */
const KEY_OF: Record<(typeof DPOP_ALGS)[number], { alg: KeyAlg; type: string; kty: string }> = {
  ES256: { alg: 'ES256', type: 'ec', kty: 'EC' },
  EdDSA: { alg: 'EdDSA', type: 'ed25519', kty: 'OKP' },
  Ed25519: { alg: 'EdDSA', type: 'ed25519', kty: 'OKP' },
  RS256: { alg: 'RS256', type: 'rsa', kty: 'RSA' },
  PS256: { alg: 'PS256', type: 'rsa', kty: 'RSA' },
};

/**
 * The RSA keys a proof may carry: the exponent 65537 and a modulus of 2048 to 4096 bits. Anyone
 * may send a proof, and an RSA check costs what the key makes it cost: with a 3,070-bit exponent,
 * 50 to 250 honest checks (9 ms here, 24 ms in issue #21, against 0.1–0.16 ms). Honest clients (the
 * SDK, jose, WebCrypto, openid-client, oauth4webapi) make exactly these keys.
 */
export const DPOP_RSA = { exponent: 65537n, minBits: 2048, maxBits: 4096 } as const;

/** Members only a private or symmetric key has: a proof's jwk must have none (§4.3 item 7). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The members of a JWK its RFC 7638 thumbprint covers, per key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = { EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'], RSA: ['e', 'kty', 'n'] };

/** RFC 9449 §4.2: `typ` is `dpop+jwt` (RFC 7515 §4.1.9 lets `application/` be omitted, case-insensitively). */
function isDpopJwt(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase();
  return t === 'dpop+jwt' || t === 'application/dpop+jwt';
}

const RSA_BOUNDS = `e AQAB (65537) and a modulus of ${DPOP_RSA.minBits} to ${DPOP_RSA.maxBits} bits`;

/**
 * Why an RSA jwk is out of bounds, read from its members before anything is imported (so a huge
 * key costs no import either), or undefined. RFC 7518 §6.3.1.1: `n` in the fewest octets.
 */
function rsaOutOfBounds(jwk: Record<string, unknown>): string | undefined {
  if (jwk.e !== 'AQAB') return `the proof's RSA jwk must have ${RSA_BOUNDS}: its exponent is not 65537`;
  let n: Buffer;
  try {
    n = decodeBase64url(typeof jwk.n === 'string' ? jwk.n : '', 'n');
  } catch {
    return 'the proof\'s jwk is not a valid public key';
  }
  const bits = n.length === 0 || n[0] === 0 ? 0 : (n.length - 1) * 8 + (32 - Math.clz32(n[0] as number));
  if (bits < DPOP_RSA.minBits || bits > DPOP_RSA.maxBits) return `the proof's RSA jwk must have ${RSA_BOUNDS}: its modulus has ${bits} bits`;
  return undefined;
}

/**
 * The largest encoded header and payload of a proof, each checked before anything is decoded or
 * parsed: an RSA-4096 jwk makes a header of about 1,000 characters, a proof's claims a few hundred.
 * Within the 8,192 characters of the whole proof, a 2,700-level `[[…]]` or a 5.5 KB string in the
 * header cost 1.2–1.75 ms of JSON a request (issue #21 round 3).
 */
export const DPOP_MAX_HEADER = 2048;
export const DPOP_MAX_PAYLOAD = 4096;

/** The header members of a proof (RFC 9449 §4.2: typ, alg, jwk); any other is refused, nothing more is read. */
const HEADER_MEMBERS: ReadonlySet<string> = new Set(['typ', 'alg', 'jwk']);

/** A header's checks that depend on the header alone; the key is imported once per (alg, key) (`keyOf`). */
function headerOf(segment: string): { alg: (typeof DPOP_ALGS)[number]; jwk: Record<string, unknown>; cacheKey: string } | string {
  let json: string;
  let h: Record<string, unknown>;
  try {
    json = decodeBase64url(segment, 'header').toString('utf8');
    h = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return 'the proof header is not base64url JSON';
  }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) return 'the proof header is not a JSON object';
  const names = topLevelNames(json);
  if (new Set(names).size !== names.length) return 'the proof header has duplicate member names';
  const extra = names.find((n) => !HEADER_MEMBERS.has(n));
  if (extra !== undefined) return `the proof header may have typ, alg and jwk only (RFC 9449 §4.2), not ${JSON.stringify(extra.slice(0, 32))}`;
  if (!isDpopJwt(h.typ)) return 'the proof\'s typ is not dpop+jwt';
  const wanted = typeof h.alg === 'string' && Object.hasOwn(KEY_OF, h.alg) ? KEY_OF[h.alg as (typeof DPOP_ALGS)[number]] : undefined;
  if (wanted === undefined) return `the proof's alg must be one of ${DPOP_ALGS.join(', ')}`;
  const jwk = h.jwk as Record<string, unknown> | undefined;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'the proof header has no jwk';
  if (PRIVATE_MEMBERS.some((m) => m in jwk) || jwk.kty === 'oct') return 'the proof\'s jwk must be a public key';
  if (jwk.kty !== wanted.kty) return `the proof's jwk is not a key for ${h.alg as string}`;
  const members = THUMBPRINT_MEMBERS[wanted.kty] as readonly string[];
  if (members.some((m) => typeof jwk[m] !== 'string')) return 'the proof\'s jwk is not a valid public key';
  // The key is what its thumbprint's members say: the cache holds one entry per (alg, key), whatever else the header carries.
  return { alg: h.alg as (typeof DPOP_ALGS)[number], jwk, cacheKey: `${h.alg as string}.${members.map((m) => jwk[m] as string).join('.')}` };
}

/** Imports a proof's key (§4.3 items 5–7), within bounds; a string says why not. */
function keyOf(alg: (typeof DPOP_ALGS)[number], jwk: Record<string, unknown>): ProofKey | string {
  const wanted = KEY_OF[alg];
  const outOfBounds = wanted.kty === 'RSA' ? rsaOutOfBounds(jwk) : undefined;
  if (outOfBounds !== undefined) return outOfBounds;
  const members = THUMBPRINT_MEMBERS[wanted.kty] as readonly string[];
  let key: KeyObject;
  try {
    // Only the members the thumbprint covers: the key imported is the one its cache entry names.
    key = createPublicKey({ key: Object.fromEntries(members.map((m) => [m, jwk[m]])) as JsonWebKey, format: 'jwk' });
  } catch {
    return 'the proof\'s jwk is not a valid public key';
  }
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType !== wanted.type || (wanted.type === 'ec' && details?.namedCurve !== 'prime256v1')) {
    return `the proof's jwk is not a key for ${alg}`;
  }
  // The bounds again on the key as imported: they are what the signature check will cost.
  const bits = details?.modulusLength ?? 0;
  if (wanted.type === 'rsa' && (details?.publicExponent !== DPOP_RSA.exponent || bits < DPOP_RSA.minBits || bits > DPOP_RSA.maxBits)) {
    return `the proof's RSA jwk must have ${RSA_BOUNDS}`;
  }
  // RFC 7638 §3: the required members of the key as imported, in order, without whitespace.
  const exported = key.export({ format: 'jwk' }) as Record<string, string>;
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(exported[m])}`).join(',')}}`;
  return { alg: wanted.alg, key, jkt: createHash('sha256').update(canonical).digest('base64url') };
}

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
  readonly #secret: () => Uint8Array;
  readonly #ledger: Pick<OneTimeLedger, 'consumeJti'>;
  readonly #now: () => number;
  readonly #window: number;
  readonly #step: number;
  /** Proof keys seen lately, per (alg, key) — a client's proofs share one: bounded, so forged keys cannot grow it. */
  readonly #headers = new Map<string, ProofKey | string>();

  constructor(options: DpopOptions) {
    const secret = options.nonceSecret;
    this.#secret = typeof secret === 'function' ? secret : () => secret;
    this.#ledger = options.ledger;
    this.#now = options.now;
    this.#window = options.iatWindowSec ?? 300;
    this.#step = options.nonceStepSec ?? 300;
  }

  /** The nonces made lately, per secret and step: each is derived once, not at every token request. */
  #nonces: { secret: Uint8Array; byStep: Map<number, string> } | undefined;

  #nonceAt(step: number): string {
    const secret = this.#secret();
    if (this.#nonces?.secret !== secret) this.#nonces = { secret, byStep: new Map() };
    let nonce = this.#nonces.byStep.get(step);
    if (nonce === undefined) {
      const salt = Buffer.alloc(8);
      salt.writeBigUInt64BE(BigInt(step));
      nonce = Buffer.from(hkdfSync('sha256', secret, salt, 'baton dpop nonce', 24)).toString('base64url');
      if (this.#nonces.byStep.size >= 4) this.#nonces.byStep.clear(); // the current step and the one before are what is asked for
      this.#nonces.byStep.set(step, nonce);
    }
    return nonce;
  }

  /** The nonce a client should use now (`DPoP-Nonce`). */
  nonce(): string {
    return this.#nonceAt(Math.floor(this.#now() / 1000 / this.#step));
  }

  /** True for the current nonce or the one before it, compared in constant time. */
  #isFresh(nonce: string): boolean {
    const step = Math.floor(this.#now() / 1000 / this.#step);
    const given = Buffer.from(nonce);
    let ok = false;
    for (const s of [step, step - 1]) {
      const expected = Buffer.from(this.#nonceAt(s));
      if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
    }
    return ok;
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
    const invalid = (detail: string) => new DpopError('ERR_DPOP_INVALID', detail);
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
    // Items 4–7: typ dpop+jwt, an asymmetric alg, a public jwk for it, within bounds.
    const h = headerOf(headerSegment);
    if (typeof h === 'string') throw invalid(h);
    let proofKey = this.#headers.get(h.cacheKey);
    if (proofKey === undefined) {
      proofKey = keyOf(h.alg, h.jwk);
      if (this.#headers.size >= 1024) this.#headers.clear();
      this.#headers.set(h.cacheKey, proofKey);
    }
    if (typeof proofKey === 'string') throw invalid(proofKey);
    // The claims are read before the signature is checked, and trusted only once it was.
    let payload: unknown;
    let signature: Buffer;
    try {
      payload = JSON.parse(decodeBase64url(payloadSegment, 'payload').toString('utf8'));
      signature = decodeBase64url(signatureSegment, 'signature');
    } catch {
      throw invalid('the DPoP proof is not a valid dpop+jwt signed by the key in its header');
    }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalid('the DPoP proof\'s payload is not a JSON object');
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
    if (nonce !== undefined && (typeof nonce !== 'string' || !this.#isFresh(nonce))) throw new DpopError('ERR_DPOP_NONCE', 'the nonce is not current', this.nonce());
    if (nonce === undefined && request.requireNonce === true) throw new DpopError('ERR_DPOP_NONCE', 'a nonce is required', this.nonce());
    // Item 11: iat within the window, both sides.
    if (Math.abs(this.#now() / 1000 - iat) > this.#window) throw invalid('iat is too far from now');
    const key = proofKey;
    const proof = { jkt: key.jkt, jti, iat };
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
