/**
 * The proof of a token request, checked by the engine (`Baton.checkProof`): every cheap check of
 * RFC 9449 §4.3, then what the request has to show — a refresh token whose MAC is right for the
 * proof's key, or what `beforeSignature` admits — and only then the signature, so that no one
 * reaches a signature check without something to show.
 */
import type { Engine } from '../core/engine.ts';
import { parseRefreshToken } from '../core/refresh.ts';
import type { DpopProof, DpopRequest } from './proof.ts';

/** What `Baton.checkProof` is given besides the proof. */
export interface ProofCheck extends Pick<DpopRequest, 'method' | 'url' | 'requireNonce'> {
  spend?: boolean;
  refreshToken?: string;
  beforeSignature?: (jkt: string) => void | Promise<void>;
}

/** See `Baton.checkProof`. */
export async function checkRequestProof(e: Engine, proof: string | null | undefined, request: ProofCheck): Promise<DpopProof> {
  const pending = e.dpop.inspect(proof, { method: request.method, url: request.url, requireNonce: request.requireNonce ?? e.o.dpop.requireNonce });
  if (request.refreshToken !== undefined) parseRefreshToken(e, request.refreshToken, pending.jkt, e.now());
  await request.beforeSignature?.(pending.jkt);
  const checked = pending.signed();
  if (request.spend !== false) await e.dpop.spend(checked);
  return checked;
}
