/**
 * `remoteIssuer`'s source for opaque tokens: introspection (RFC 7662) with the resource server's
 * client credentials, each answer cached briefly (never past the token's `exp`). Answers are kept
 * by the token's SHA-256 (a flood of 16 KB tokens costs 32 bytes a key); refusals apart and few,
 * so that junk cannot push the good answers out.
 */
import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import type { AccessTokenClaims } from '../core/claims.ts';
import { isJktConfirmation } from '../core/access-token.ts';
import { BatonError } from '../core/errors.ts';

/** `client_secret_basic` (RFC 6749 §2.3.1): id and secret form-encoded, then Basic. */
export function basic(clientId: string, secret: string): string {
  const form = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${btoa(`${form(clientId)}:${form(secret)}`)}`;
}

/**
 * The claims a resource server reads, from a verified payload or an introspection answer. A `cnf`
 * that is not a DPoP key's thumbprint (RFC 9449 §6.1) is refused, as the engine refuses it: the
 * presentation reads `cnf.jkt`, and a token bound otherwise (null, mTLS) is no bearer token either.
 */
export function claimsOf(p: JWTPayload & Record<string, unknown>): Readonly<AccessTokenClaims> {
  if (p.cnf !== undefined && !isJktConfirmation(p.cnf)) throw new BatonError('ERR_TOKEN_INVALID', 'cnf is not a DPoP key confirmation');
  return Object.freeze({ ...p } as unknown as AccessTokenClaims);
}

type Answer = JWTPayload & { active?: boolean; token_type?: unknown; token_use?: unknown } & Record<string, unknown>;

export interface IntrospectionOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  cacheMs: number;
  cacheMax: number;
  fetch: typeof fetch;
  now: () => number;
}

export class Introspection {
  readonly #o: IntrospectionOptions;
  readonly #active: LRUCache<string, { claims: Readonly<AccessTokenClaims>; until: number }>;
  readonly #refused = new LRUCache<string, { until: number }>({ max: 1000 });

  constructor(o: IntrospectionOptions) {
    this.#o = o;
    this.#active = new LRUCache({ max: o.cacheMax });
  }

  async #ask(endpoint: string, token: string): Promise<Answer> {
    const o = this.#o;
    const res = await o
      .fetch(endpoint, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: basic(o.clientId, o.clientSecret) },
        body: new URLSearchParams({ token }),
      })
      .catch((err: unknown) => {
        throw new BatonError('ERR_STORE_UNAVAILABLE', 'the introspection endpoint could not be reached', { cause: err });
      });
    if (!res.ok)
      throw new BatonError(res.status >= 500 || res.status === 429 ? 'ERR_STORE_UNAVAILABLE' : 'ERR_TOKEN_INVALID', `introspection answered ${res.status}`);
    return (await res.json()) as Answer;
  }

  /** The claims of an active access token of this issuer, from the cache or the endpoint; `ERR_TOKEN_INVALID` when it is not one. */
  async claims(endpoint: string, token: string): Promise<Readonly<AccessTokenClaims>> {
    const { now, issuer, cacheMs } = this.#o;
    const digest = createHash('sha256').update(token).digest('base64url');
    const refusedUntil = this.#refused.get(digest)?.until;
    if (refusedUntil !== undefined && now() < refusedUntil) throw new BatonError('ERR_TOKEN_INVALID', 'the token is not active');
    const cached = this.#active.get(digest);
    if (cached !== undefined && now() < cached.until) return cached.claims;
    const answer = await this.#ask(endpoint, token);
    // An access token of this issuer only: a refresh token is active too, and must never pass as a bearer token.
    const kind = String(answer.token_type ?? answer.token_use ?? 'access_token').toLowerCase();
    const active = answer.active === true && answer.iss === issuer && ['access_token', 'bearer', 'dpop'].includes(kind);
    const claims = active ? claimsOf(answer) : null;
    const ttl = Math.min(cacheMs, active && typeof answer.exp === 'number' ? answer.exp * 1000 - now() : Infinity);
    if (ttl > 0) {
      if (claims === null) this.#refused.set(digest, { until: now() + ttl });
      else this.#active.set(digest, { claims, until: now() + ttl });
    }
    if (claims === null) throw new BatonError('ERR_TOKEN_INVALID', 'the token is not active');
    return claims;
  }

  clear(): void {
    this.#active.clear();
    this.#refused.clear();
  }
}
