/**
 * The engine's sources for the verification pipeline (`pipeline.ts`): its key ring, checked
 * synchronously on `node:crypto` (`JwtVerifier`); its revocations, the store's subscription into
 * the in-process cache (`Engine.ready()` loads those in force); and its other formats — JWEs
 * decrypted with jose (cached as JWTs are), opaque tokens looked up in the store.
 */
import { checkClaims, checkNotYetValid, decryptJwe, hashToken, isOpaqueToken } from './access-token.ts';
import type { ClaimPolicy, JwtVerifier } from './access-token.ts';
import { BatonError } from './errors.ts';
import type { KeyRing } from './keys.ts';
import type { KeySource, OtherFormats, RevocationSource } from './pipeline.ts';
import type { Claims } from './presentation.ts';
import type { RevocationCache } from '../protocol/revocation-cache.ts';
import { revocationEnd } from './session-end.ts';
import type { RevocationEvent, TokenStore } from './store.ts';

/** The key ring: a JWT's signature and claims (but `aud`) on `node:crypto`, without a promise. */
export function ringKeys(jwt: JwtVerifier, policy: ClaimPolicy): KeySource {
  return {
    verifySync: (token, now) => jwt.verify(token, policy, now),
    recheck(claims: Claims, now: number): void {
      // A clock that went back (a step the steady clock took, or an injected clock) answers as a
      // verification without the cache would: what was valid then may not be valid yet now.
      checkNotYetValid(claims, now, policy.leewaySec);
    },
  };
}

/** The store's revocations, held in memory (`Engine.revoked`): a revoked session says why it ended. */
export function storeRevocations(revoked: RevocationCache<RevocationEvent>): RevocationSource {
  return {
    check(claims: Claims, now: number): void {
      const ended = claims.sid === undefined ? undefined : revoked.sessionRevocation(claims.sid, now);
      // The signature (or the store's record) proved the caller holds a token of the session: it may know why it ended.
      if (ended !== undefined) throw new BatonError('ERR_SESSION_REVOKED', 'the session is revoked', { sessionEnd: revocationEnd(ended) });
      if (revoked.isTokenRevoked(claims.jti, now)) throw new BatonError('ERR_TOKEN_REVOKED', 'the jti is on the denylist');
    },
  };
}

/** Opaque tokens in the store, JWEs by the ring's encryption keys; anything else is what the JWT verifier says of it. */
export function storeFormats(store: TokenStore, ring: KeyRing, jwt: JwtVerifier, policy: ClaimPolicy): OtherFormats {
  return {
    async verify(token, _audience, now, cache): Promise<Claims> {
      if (isOpaqueToken(token)) {
        // Opaque tokens fail closed: no store, no answer.
        const record = (await store.findOpaqueToken?.(hashToken(token), now)) ?? null;
        if (record === null) throw new BatonError('ERR_TOKEN_INVALID', 'no such opaque token');
        return checkClaims(record.claims, policy, now);
      }
      if (token.split('.').length === 5) return cache.cached(token, now) ?? cache.remember(token, await decryptJwe(token, ring, policy, now));
      return jwt.verify(token, policy, now);
    },
  };
}
