/**
 * The engine's shared state, which every verb (`issue.ts`, `verify.ts`, `refresh.ts`,
 * `revoke.ts`, `introspect.ts`, `sessions.ts`) works on; `Baton` (`baton.ts`) is the facade.
 * Internal: not exported from the package.
 */
import { ringNonceSecret } from '../dpop/nonce.ts';
import { DpopVerifier } from '../dpop/proof.ts';
import { JwtVerifier } from './access-token.ts';
import type { AccessTokenClaims, ClaimPolicy } from './access-token.ts';
import { BatonError } from './errors.ts';
import { auditEvent, auditOf, safeSink } from './audit.ts';
import type { AuditInput, AuditSink } from './audit.ts';
import type { BatonEvent } from './events.ts';
import { guardStore, unavailable } from './guarded-store.ts';
import { resolveOptions } from './options.ts';
import type { BatonOptions, ResolvedOptions } from './options.ts';
import { RefreshTokenCodec } from './refresh-token.ts';
import { ringKeys, storeFormats, storeRevocations } from './local-sources.ts';
import { VerificationPipeline } from './pipeline.ts';
import type { VerifyStats } from './pipeline.ts';
import { RevocationCache } from '../protocol/revocation-cache.ts';
import { VerifiedTokenCache } from '../protocol/token-cache.ts';
import type { RevocationEvent, TokenStore } from './store.ts';

export type { VerifyStats } from './pipeline.ts';

/** Throws `ERR_INVALID_ARGUMENT` with `message` unless `ok`. */
export function argument(ok: boolean, message: string): void {
  if (!ok) throw new BatonError('ERR_INVALID_ARGUMENT', message);
}

export class Engine {
  readonly o: ResolvedOptions;
  /** The store, its failures mapped to `ERR_STORE_UNAVAILABLE`. */
  readonly store: TokenStore;
  readonly policy: ClaimPolicy;
  readonly jwt: JwtVerifier;
  readonly refreshCodec: RefreshTokenCodec;
  /** DPoP proofs (RFC 9449): jtis spent in the store's ledger, nonces derived from the active refresh key. */
  readonly dpop: DpopVerifier;
  /** Revocations in force, kept on the engine's clock and the monotonic one (a step of either forgets none). */
  readonly revoked = new RevocationCache<RevocationEvent>();
  readonly cache: VerifiedTokenCache<Readonly<AccessTokenClaims>> | undefined;
  readonly listeners = new Set<(event: BatonEvent) => void>();
  readonly revocationListeners = new Set<(event: RevocationEvent) => void>();
  readonly stats: VerifyStats = { ok: 0, cacheHits: 0, byError: {} };
  /** Every verification: `verify.ts`'s verbs run it. */
  readonly pipeline: VerificationPipeline;
  isReady = false;
  #starting: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(options: BatonOptions) {
    this.o = resolveOptions(options);
    this.store = guardStore(this.o.store);
    // `aud` is checked per call (`verify`'s `audience`): one verified-token cache serves every API.
    this.policy = { issuer: this.o.issuer, leewaySec: this.o.leewaySec, maxLifetimeSec: Math.ceil(this.o.accessTokenTtlMs / 1000) + this.o.leewaySec };
    this.jwt = new JwtVerifier(this.o.ring);
    this.refreshCodec = new RefreshTokenCodec(this.o.ring);
    this.dpop = new DpopVerifier({
      nonceSecret: ringNonceSecret(this.o.ring),
      ledger: this.store,
      now: () => this.now(),
      iatWindowSec: this.o.dpop.proofLifetimeSec,
      nonceStepSec: this.o.dpop.nonceLifetimeSec,
    });
    this.cache = this.o.verifyCacheMax > 0 ? new VerifiedTokenCache(this.o.verifyCacheMax) : undefined;
    // A key that leaves the ring takes its verified tokens with it.
    this.o.ring.onRemove(() => this.cache?.clear());
    if (this.o.onEvent) this.listeners.add(this.o.onEvent);
    this.#audit = this.o.audit === undefined ? undefined : safeSink(this.o.audit);
    this.pipeline = this.#pipeline();
  }

  /** The verification pipeline on the engine's own sources: the key ring, the store's revocations, JWE and opaque tokens. */
  #pipeline(): VerificationPipeline {
    const { o, store, policy, jwt } = this;
    return new VerificationPipeline({
      keys: ringKeys(jwt, policy),
      revocations: storeRevocations(this.revoked),
      formats: storeFormats(store, o.ring, jwt, policy),
      readiness: this,
      now: () => this.now(),
      audience: o.audience,
      leewaySec: o.leewaySec,
      maxTokenLength: o.maxTokenLength,
      cache: this.cache,
      stats: this.stats,
      dpop: this.dpop,
      consume: (claims) => store.consumeJti(claims.jti, (claims.exp + o.leewaySec) * 1000, this.now()),
    });
  }

  now(): number {
    return this.o.now();
  }

  /** How long verifiers must remember a revocation: no token issued before it outlives this. */
  get revocationTtlMs(): number {
    return this.o.accessTokenTtlMs + this.o.leewaySec * 1000 + 60_000;
  }

  /** Subscribes to the store's revocations and loads the ones in force, once. */
  ready(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    this.#starting ??= (async () => {
      try {
        this.#unsubscribe = await this.store.subscribe((event) => this.applyRevocation(event));
        for (const event of await this.store.revocationsSince(this.now())) this.#apply(event);
        this.isReady = true;
      } catch (cause) {
        this.#starting = undefined;
        throw unavailable(cause);
      }
    })();
    return this.#starting;
  }

  #apply(event: RevocationEvent): void {
    if (event.kind === 'key')
      this.o.ring.drop(event.id, event.at); // the key ring drops the key itself
    else this.revoked.apply(event, this.now()); // unbounded: the store is this engine's own
  }

  /** Revocations told to the listeners lately: one made here comes back through the store's subscription. */
  readonly #told = new Set<string>();

  /** A revocation learnt from the store or made here: into the in-process view, then, once, to the listeners. */
  applyRevocation(event: RevocationEvent): void {
    this.#apply(event);
    this.revoked.prune(this.now());
    const key = `${event.kind}\n${event.id}\n${event.at}`;
    if (this.#told.has(key)) return;
    this.#told.add(key);
    if (this.#told.size > 4096) this.#told.delete(this.#told.values().next().value as string); // the oldest
    for (const listener of this.revocationListeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not stop the others.
      }
    }
  }

  /** A session this instance revoked: verified at once here, before the store's message comes back. */
  revokedLocally(sessionId: string, now: number, reason: string): void {
    this.applyRevocation({ kind: 'session', id: sessionId, at: now, expiresAt: now + this.revocationTtlMs, reason });
  }

  emit(event: BatonEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure must not fail a token operation.
      }
    }
    if (this.#audit !== undefined) this.#audit(auditEvent(auditOf(event), this.now()));
  }

  /** Records an event of the audit trail in the `audit` option's sink (none: nothing is built). */
  audit(input: AuditInput): void {
    if (this.#audit !== undefined) this.#audit(auditEvent(input, this.now()));
  }

  readonly #audit: AuditSink | undefined;
  readonly #firstTimes = new Set<string>();

  /** True the first time `key` is asked here (of the last 4096 keys): an event told once per instance. */
  firstTime(key: string): boolean {
    if (this.#firstTimes.has(key)) return false;
    this.#firstTimes.add(key);
    if (this.#firstTimes.size > 4096) this.#firstTimes.delete(this.#firstTimes.values().next().value as string);
    return true;
  }

  /** Stops listening to the store's revocations. */
  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.isReady = false;
    this.#starting = undefined;
  }
}
