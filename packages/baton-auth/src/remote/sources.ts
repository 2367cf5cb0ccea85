/**
 * The sources `remoteIssuer` feeds the verification pipeline (`core/pipeline.ts`) with: the
 * issuer's metadata found once (the readiness: discovery, then the feed's backlog), its keys (the
 * JWKS through jose, `jwks.ts`) and its opaque tokens (introspection, `introspection.ts`). The
 * revocation source is the feed's (`revocations.ts`).
 */
import type { KeySource, OtherFormats, Readiness } from '../core/pipeline.ts';
import type { Claims } from '../core/presentation.ts';
import { checkNotYetValid } from '../core/access-token.ts';
import { BatonError } from '../core/errors.ts';
import { basic, claimsOf, Introspection } from './introspection.ts';
import { RemoteKeys } from './jwks.ts';
import { discover } from './metadata.ts';
import type { Metadata } from './metadata.ts';
import type { RemoteIssuerOptions, Settings } from './options.ts';
import type { FeedRevocations } from './revocations.ts';

/** The issuer's metadata, found on the first verification that needs it (again after a failure), the feed followed once it is known. */
export class IssuerMetadata implements Readiness {
  #metadata: Promise<Metadata> | undefined;
  #found = false;

  readonly options: RemoteIssuerOptions;
  readonly s: Settings;
  readonly revocations: FeedRevocations;

  constructor(options: RemoteIssuerOptions, s: Settings, revocations: FeedRevocations) {
    this.options = options;
    this.s = s;
    this.revocations = revocations;
  }

  get isReady(): boolean {
    return this.#found;
  }

  ready(): Promise<Metadata> {
    const { options, s } = this;
    const credentials = options.introspection;
    this.#metadata ??= discover(options.issuer, s.fetcher).then(
      async (m) => {
        if (m.feed !== undefined && credentials !== undefined && options.revocations !== false)
          await this.revocations.follow(m.feed, s.fetcher, basic(credentials.clientId, credentials.clientSecret));
        this.#found = true;
        return m;
      },
      (err: unknown) => {
        this.#metadata = undefined; // try again on the next request
        throw err;
      },
    );
    return this.#metadata;
  }
}

/** The issuer's JWKS (jose's remote key set, made once the metadata names it), a key the feed revoked refused. */
export class JwksSource implements KeySource {
  readonly meta: IssuerMetadata;
  #keys: RemoteKeys | undefined;

  constructor(meta: IssuerMetadata) {
    this.meta = meta;
  }

  async verify(token: string): Promise<Claims> {
    const { options, s, revocations } = this.meta;
    const m = await this.meta.ready();
    this.#keys ??= new RemoteKeys(m.jwksUri, {
      issuer: options.issuer,
      algorithms: s.algorithms,
      leewaySec: s.leeway,
      allowJwtTyp: options.allowJwtTyp === true,
      fetch: options.fetch,
      now: s.now,
      cacheMaxAgeMs: options.jwks?.cacheMaxAgeMs ?? 600_000,
      cooldownMs: options.jwks?.cooldownMs ?? 30_000,
      isKeyRevoked: (kid) => revocations.isKeyRevoked(kid),
    });
    const claims = claimsOf((await this.#keys.verify(token)).payload);
    this.recheck(claims, s.now());
    return claims;
  }

  /**
   * `iat` ahead of the clock (jose checks it only with a maximum age) and, on a cache hit, `nbf`
   * too: refused as the engine's key ring refuses them (`ERR_TOKEN_NOT_YET_VALID`).
   */
  recheck(claims: Claims, now: number): void {
    checkNotYetValid(claims, now, this.meta.s.leeway);
  }

  /** A key was revoked: it leaves the set, for tokens that name no kid. */
  reload(): void {
    this.#keys?.reload();
  }
}

/** Opaque tokens by introspection (RFC 7662), when credentials are given and the issuer offers it. */
export class IntrospectionSource implements OtherFormats {
  readonly meta: IssuerMetadata;
  readonly introspection: Introspection | undefined;

  constructor(meta: IssuerMetadata) {
    this.meta = meta;
    const { options, s } = meta;
    const credentials = options.introspection;
    this.introspection =
      credentials &&
      new Introspection({
        issuer: options.issuer,
        clientId: credentials.clientId,
        clientSecret: credentials.clientSecret,
        cacheMs: credentials.cacheMs ?? 30_000,
        cacheMax: options.cacheMax ?? 10_000,
        fetch: s.fetcher,
        now: s.now,
      });
  }

  async verify(token: string): Promise<Claims> {
    const m = await this.meta.ready();
    if (this.introspection === undefined || m.introspection === undefined)
      throw new BatonError('ERR_TOKEN_INVALID', 'an opaque token, and no introspection configured');
    const claims = await this.introspection.claims(m.introspection, token);
    const { now, leeway } = this.meta.s;
    if (typeof claims.exp === 'number' && now() >= (claims.exp + leeway) * 1000) throw new BatonError('ERR_TOKEN_EXPIRED', 'exp is in the past');
    return claims;
  }
}
