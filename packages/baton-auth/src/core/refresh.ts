/**
 * Refreshing (RFC 6749 §6): the refresh token's MAC is checked before the store is touched, then
 * the rotation is one atomic store operation (`rotation.ts`), and the pair of the session's
 * current generation is issued.
 */
import { BatonError } from './errors.ts';
import { argument } from './engine.ts';
import type { Engine } from './engine.ts';
import { issuePair } from './issue.ts';
import type { TokenPair } from './issue.ts';
import { outside, parseScope } from './scope.ts';
import type { SessionSummary } from './store.ts';

/** Options of `refresh`. */
export interface RefreshOptions {
  /**
   * The client presenting the token (authenticated by the caller when it is confidential). A
   * session of any other client is refused with nothing changed (RFC 6749 §6, §10.4). Default
   * `'default'`, the client `login` assumes.
   */
  clientId?: string;
  /** A narrower scope for this access token (RFC 6749 §6); the session keeps its grant. More than the session's: `ERR_INVALID_SCOPE`. */
  scope?: string;
}

/** See `Baton.refresh`. */
export async function refresh(e: Engine, refreshToken: string, options: RefreshOptions): Promise<TokenPair> {
  const now = e.now();
  const parsed = e.refreshCodec.parse(refreshToken, now);
  if (parsed === undefined) throw new BatonError('ERR_REFRESH_INVALID', 'malformed or forged refresh token');
  const clientId = options.clientId ?? 'default';
  argument(typeof clientId === 'string' && clientId.length > 0, 'clientId must be a non-empty string.');
  const narrowed = options.scope === undefined ? undefined : parseScope(options.scope);
  await e.ready();
  // A session's scope never changes, so a wider request is refused before anything rotates:
  // a failed refresh leaves the session as it was (RFC 6749 §6: no scope beyond the original grant).
  if (narrowed !== undefined) {
    const session = await e.store.getSession(parsed.sessionId);
    if (session !== null && outside(narrowed, parseScope(session.scope)).length > 0) throw new BatonError('ERR_INVALID_SCOPE', 'scope wider than the session');
  }
  const result = await e.store.rotate({
    sessionId: parsed.sessionId,
    generation: parsed.generation,
    clientId,
    now,
    graceMs: e.o.graceMs,
    idleTtlMs: e.o.refreshTtlMs,
    revocationTtlMs: e.revocationTtlMs,
    ...(e.o.rateLimit === undefined ? {} : { rateLimit: e.o.rateLimit }),
    graceLimit: e.o.graceLimit,
  });
  const session = result.session;
  switch (result.status) {
    case 'rotated':
    case 'replayed_in_grace': {
      const s = session as SessionSummary;
      e.emit({ type: 'refresh.rotated', at: now, sessionId: s.id, userId: s.userId, generation: s.generation, inGrace: result.status !== 'rotated' });
      return issuePair(e, s, narrowed === undefined ? s.scope : narrowed.join(' '), now);
    }
    case 'reused':
      e.revokedLocally(parsed.sessionId, now, 'reused');
      e.emit({ type: 'refresh.reused', at: now, sessionId: parsed.sessionId, userId: session?.userId ?? '', presentedGeneration: parsed.generation });
      e.emit({ type: 'session.revoked', at: now, sessionId: parsed.sessionId, reason: 'reused' });
      throw new BatonError('ERR_REFRESH_REUSED', `generation ${parsed.generation} was retired; the session is revoked`);
    case 'expired':
      throw new BatonError('ERR_SESSION_EXPIRED', 'the session reached its idle or absolute lifetime');
    case 'rate_limited':
      throw new BatonError('ERR_RATE_LIMITED', 'refresh rate limit of the session', { retryAfterMs: result.retryAfterMs ?? 1000 });
    case 'revoked':
      throw new BatonError('ERR_REFRESH_INVALID', 'the session is revoked');
    default:
      throw new BatonError('ERR_REFRESH_INVALID', 'no such session for this client, or a generation ahead of it');
  }
}
