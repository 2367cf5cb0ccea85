/**
 * The client's DPoP (RFC 9449) in one object: the key (the app's pair, or the one its storage
 * keeps for every tab or process over it), the nonces servers gave (per origin, §8 and §9), and the
 * proof clock — the server's time as the `Date` of its token responses told, so that a proof's `iat`
 * suits the server even on a device whose clock is off. The transports (`client.fetch`, the axios
 * interceptors, the WebSocket, the refresh grant, sign-in and revocation) ask it for headers and
 * tell it the nonces they hear; none of them holds a key, a nonce or a clock of its own.
 */
import { DPOP_ALG, DpopSigner, NonceBook } from './dpop.ts';
import { BatonClientError } from './errors.ts';
import type { TokenProofs } from './refresher.ts';
import type { ClientWarning, StoredTokens, TokenClientOptions, TokenStorage } from './types.ts';

/** A device clock further than this from the server's is worth a warning. */
const SKEW_WARNING_MS = 60_000;

/** What the keeper needs of its client. */
export interface DpopKeeperOptions {
  /** The `dpop` option. */
  option: TokenClientOptions['dpop'];
  storage: TokenStorage;
  /** Which of the storage's keys: `issuer\nclientId`. */
  scope: string;
  /** This device's wall clock, ms. */
  now: () => number;
  /** The algorithms the server's metadata lists (`dpop_signing_alg_values_supported`, §5.1), if any. */
  algorithms: () => Promise<readonly string[] | undefined>;
  /** Hears a `clock_skew` warning. */
  warn: (warning: ClientWarning) => void;
}

/** The key, the nonces and the proof clock of one client; see the file's comment. */
export class DpopKeeper {
  readonly #o: DpopKeeperOptions;
  readonly #nonces = new NonceBook();
  #signer: Promise<DpopSigner> | undefined;
  #offset = 0;

  constructor(options: DpopKeeperOptions) {
    this.#o = options;
  }

  /** The server's clock minus this device's, in ms, as the `Date` of the last token response said (to a second). */
  get clockOffset(): number {
    return this.#offset;
  }

  /** Sets the proof clock from an answer's `Date` (ms, NaN when absent) and when it arrived here, warning once when the device is far off. */
  noteServerDate(serverDate: number, receivedAt: number): void {
    if (Number.isNaN(serverDate)) return;
    const offset = serverDate - receivedAt;
    if (Math.abs(offset) > SKEW_WARNING_MS && Math.abs(this.#offset) <= SKEW_WARNING_MS) {
      const minutes = Math.round(Math.abs(offset) / 60_000);
      this.#o.warn({
        kind: 'clock_skew',
        offsetMs: offset,
        message: `This device's clock is ${minutes} min ${offset > 0 ? 'behind' : 'ahead of'} the server's; tokens are timed from the server's lifetimes, so sessions still refresh on time.`,
      });
    }
    this.#offset = offset;
  }

  /** Keeps `nonce` (a `DPoP-Nonce` header's value, §8, §9) for the next proof to `url`'s origin. */
  noteNonce(url: string, nonce: string | null | undefined): void {
    this.#nonces.set(url, nonce);
  }

  /** Keeps the `DPoP-Nonce` of a response from `url`, if it has one. */
  noteResponse(url: string, response: Response): void {
    this.#nonces.note(url, response);
  }

  /** The signer, made once: with the app's key pair or the storage's key; none with `dpop: false` or a storage that keeps no key. */
  #keyed(): Promise<DpopSigner> | undefined {
    const { option, storage } = this.#o;
    const keep = storage.dpopKey?.bind(storage);
    if (option === false || (typeof option !== 'object' && keep === undefined)) return undefined;
    this.#signer ??= (async () => {
      const pair = typeof option === 'object' ? option.keyPair : await (keep as NonNullable<typeof keep>)(this.#o.scope);
      return new DpopSigner(pair, () => this.#o.now() + this.#offset); // iat on the server's clock
    })().catch((err: unknown) => {
      this.#signer = undefined;
      throw err;
    });
    return this.#signer;
  }

  /**
   * The signer when requests sign with DPoP: for a `bound` session always (whatever the metadata
   * says now — an old document, a rolled-back configuration — its tokens never go out as Bearer;
   * without a key, `ERR_DPOP_KEY_MISSING`), else with the app's key pair, `dpop: true`, or metadata
   * listing ES256.
   */
  async signer(bound = false): Promise<DpopSigner | undefined> {
    const option = this.#o.option;
    const offered = bound || typeof option === 'object' || option === true || (option !== false && (await this.#o.algorithms())?.includes(DPOP_ALG) === true);
    const signer = offered ? await this.#keyed() : undefined;
    if (bound && signer === undefined)
      throw new BatonClientError(
        'ERR_DPOP_KEY_MISSING',
        'The session is bound to a DPoP key and this client has none (dpop: false, or a storage that keeps no key): give it the storage that holds the key, or dpop: { keyPair }.',
      );
    return signer;
  }

  /** The key's RFC 7638 thumbprint, or undefined when DPoP is off. */
  async thumbprint(): Promise<string | undefined> {
    return (await this.signer())?.thumbprint();
  }

  /** The headers that carry `tokens` on a `method` request to `url`: Bearer, or DPoP with a fresh proof (§7) for a bound token. */
  async authorization(method: string, url: string, tokens: StoredTokens): Promise<Record<string, string>> {
    if (tokens.tokenType !== 'DPoP') return { authorization: `Bearer ${tokens.accessToken}` };
    const signer = (await this.signer(true)) as DpopSigner;
    return {
      authorization: `DPoP ${tokens.accessToken}`,
      dpop: await signer.proof(method, url, { nonce: this.#nonces.get(url), accessToken: tokens.accessToken }),
    };
  }

  /** A bound token's proof for a WebSocket (§4.2: htm GET, htu the ws: URL, ath the token), or undefined for a Bearer token. */
  async socketProof(url: string, tokens: StoredTokens): Promise<string | undefined> {
    if (tokens.tokenType !== 'DPoP') return undefined;
    return (await this.signer(true))?.proof('GET', url, { accessToken: tokens.accessToken });
  }

  /**
   * The proofs of token requests (refresh, sign-in, revocation; §5), or undefined without DPoP.
   * `dated`: whether a `use_dpop_nonce` answer's `Date` sets the proof clock — not for an endpoint
   * off the authorization server's origin (a page's own sign-in backend), which does not date the
   * proofs the server checks.
   */
  async forTokenRequests(bound: boolean, dated = true): Promise<TokenProofs | undefined> {
    const signer = await this.signer(bound);
    if (signer === undefined) return undefined;
    return {
      proof: (url) => signer.proof('POST', url, { nonce: this.#nonces.get(url) }),
      noteResponse: (url, response) => this.#nonces.note(url, response),
      noteServerDate: dated ? (date, receivedAt) => this.noteServerDate(date, receivedAt) : () => undefined,
    };
  }
}
