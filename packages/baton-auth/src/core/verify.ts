/**
 * Verifying access tokens, the engine's verbs over its verification pipeline (`pipeline.ts`, fed by
 * `local-sources.ts`): JWTs in-process (the verified-token cache, then the `node:crypto` fast
 * path), JWEs with jose, opaque tokens in the store; revocations from the in-process view; the
 * replay guard through the store's one-time ledger.
 */
import type { Engine } from './engine.ts';
import type { Audience } from './pipeline.ts';
import type { Claims, VerifyOptions } from './presentation.ts';

export { ANY_AUDIENCE } from './pipeline.ts';
export { bearerOnly, checkPresentation, isThreeSegments } from './presentation.ts';
export type { DpopPresentation, VerifyOptions } from './presentation.ts';

/** A token as a request presents it (the `Bearer` scheme, or `dpop`): see `Baton.verify`. */
export function verifyPresented(e: Engine, token: string, options?: VerifyOptions): Promise<Claims> {
  return e.pipeline.verify(token, options);
}

/** The token itself, any format, for `audience` (default the engine's): no scheme, no proof, no replay guard. */
export function verify(e: Engine, token: string, options?: VerifyOptions, audience: Audience = options?.audience ?? e.o.audience): Promise<Claims> {
  return e.pipeline.decide(token, audience);
}

/** See `Baton.verifySync`: a proof to check is asynchronous. */
export function verifySync(e: Engine, token: string, options?: VerifyOptions): Claims | undefined {
  return e.pipeline.verifySync(token, options);
}

/** A JWT, synchronously: see `Baton.verifyLocal`. */
export function verifyLocal(e: Engine, token: string, audience: Audience = e.o.audience): Claims {
  return e.pipeline.decideLocal(token, audience);
}
