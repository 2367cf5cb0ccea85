/**
 * A resource server for any issuer: `requireAuth(remoteIssuer({ issuer, audience }), { audience })`
 * in front of an API whose tokens come from Keycloak, Auth0, Hydra, oidc-provider or another Baton
 * service. Import from `baton-auth/remote`.
 *
 * - Discovery: RFC 8414 metadata (§3.1 path insertion), then OpenID Connect Discovery; the
 *   metadata's `issuer` must be the configured one (§3.3), `jwks_uri` https (or loopback).
 * - JWT access tokens by RFC 9068: `typ` `at+jwt` (`application/at+jwt`; `allowJwtTyp` for
 *   issuers whose tokens say `JWT`), asymmetric algorithms only, `iss`, `aud`, `exp`, `iat`,
 *   `sub`, `client_id`. Keys from the issuer's JWKS through jose's `createRemoteJWKSet`: cached,
 *   an unknown `kid` refetches at most once per cooldown.
 * - A verified-token cache, as the engine's: a token seen before is decided without a promise.
 * - Opaque tokens by introspection (RFC 7662) with the resource server's client credentials, each
 *   answer cached briefly (never past the token's `exp`).
 * - A Baton issuer's revocation feed, followed with the same credentials: revoked sessions and
 *   tokens are refused within milliseconds, also from the cache.
 *
 * @example
 * ```ts
 * import { remoteIssuer } from 'baton-auth/remote';
 * const verifier = remoteIssuer({ issuer: 'https://auth.example.com', audience: 'https://api.example.com' });
 * app.get('/orders', requireAuth(verifier, { audience: 'https://api.example.com', scope: 'orders:read' }), handler);
 * ```
 */
import { randomBytes } from 'node:crypto';
import { VerificationPipeline } from '../core/pipeline.ts';
import type { Claims } from '../core/presentation.ts';
import type { TokenVerifier } from '../http/guard.ts';
import { VerifiedTokenCache } from '../protocol/token-cache.ts';
import { DpopVerifier } from '../dpop/proof.ts';
import { settings } from './options.ts';
import type { RemoteIssuerOptions } from './options.ts';
import { memoryLedger } from './proof-ledger.ts';
import { FeedRevocations } from './revocations.ts';
import { IntrospectionSource, IssuerMetadata, JwksSource } from './sources.ts';

export type { RemoteIssuerOptions } from './options.ts';

/** The longest token looked at: longer ones are refused before any parsing. */
const MAX_TOKEN_LENGTH = 16_384;

/**
 * A verifier of another issuer's access tokens, for `requireAuth` in any adapter: the engine's
 * verification pipeline (`core/pipeline.ts`) — the verified-token cache, then the token's source,
 * then the audience and the revocations, then the presentation (Bearer, or DPoP: nonces are not
 * asked for here — one this verifier did not make is answered with one it did, RFC 9449 §9) — fed
 * by a key source (the issuer's JWKS; introspection for opaque tokens, `sources.ts`) and a
 * revocation source (its feed, `revocations.ts`). No replay guard: `oneTime` needs the issuer's store.
 */
export function remoteIssuer(options: RemoteIssuerOptions): TokenVerifier & { close(): void } {
  const s = settings(options);
  const cache = new VerifiedTokenCache<Claims>(options.cacheMax ?? 10_000);
  const revocations = new FeedRevocations({
    maxRevocations: s.maxRevocations,
    maxFeedOutageMs: options.maxFeedOutageMs,
    onNearCap: options.onNearCap,
    onRevocation: options.onRevocation,
    onFeedState: options.onFeedState,
    now: s.now,
    monotonic: s.mono,
    onKeyRevoked: () => {
      cache.clear(); // tokens of that key leave the cache
      keys.reload(); // and the key leaves the set, for tokens that name no kid
    },
  });
  const metadata = new IssuerMetadata(options, s, revocations);
  const keys = new JwksSource(metadata);
  const formats = new IntrospectionSource(metadata);
  const pipeline = new VerificationPipeline({
    keys,
    revocations,
    formats,
    readiness: metadata,
    now: s.now,
    audience: options.audience,
    leewaySec: s.leeway,
    maxTokenLength: MAX_TOKEN_LENGTH,
    cache,
    stats: { ok: 0, cacheHits: 0, byError: {} },
    dpop: new DpopVerifier({
      nonceSecret: randomBytes(32),
      ledger: options.dpop?.ledger ?? memoryLedger(),
      now: s.now,
      iatWindowSec: options.dpop?.proofLifetimeSec ?? 300,
    }),
    replayRefusal: "oneTime needs the issuer's store: a remote issuer cannot guard replays",
  });
  return {
    verifiesDpop: true,
    verify: (token, o) => pipeline.verify(token, o),
    verifySync: (token, o) => pipeline.verifySync(token, o),
    close: () => {
      revocations.close();
      cache.clear();
      formats.introspection?.clear();
    },
  };
}
