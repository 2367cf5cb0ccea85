/**
 * Refreshing (RFC 6749 §6): the refresh token's MAC is checked before the store is touched, then
 * the rotation is one atomic store operation (`rotation.ts`), and the pair of the session's
 * current generation is issued. A refusal of a session that ended says why (the MAC proved the
 * caller holds one of its tokens).
 */
import { createHash } from 'node:crypto';
import { refreshBinding, requestedKey, spendProof } from '../dpop/binding.ts';
import type { DpopProof } from '../dpop/proof.ts';
import { BatonError } from './errors.ts';
import { argument } from './engine.ts';
import type { Engine } from './engine.ts';
import { assertCanIssue, issuePair } from './issue.ts';
import { RefreshTokenCodec } from './refresh-token.ts';
import type { ParsedRefreshToken } from './refresh-token.ts';
import type { TokenPair } from './issue.ts';
import { audienceOf, parseResources } from './resource.ts';
import { outside, parseScope } from './scope.ts';
import { sessionEnd } from './session-end.ts';
import type { SessionSummary } from './store.ts';
import { errorType, INTERNAL, traced } from './tracing.ts';
import type { Span } from '@opentelemetry/api';

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
  /**
   * The resources (RFC 8707 §2.2) this access token is for, among those the session was granted;
   * another: `ERR_INVALID_TARGET`, with nothing rotated. Default all of the session's.
   */
  resource?: string | readonly string[];
  /** The presenter's address, recorded if the token turns out to be a reuse. */
  ip?: string;
  /**
   * The thumbprint of the DPoP key that signed the request's proof (`checkProof`). A session
   * bound to a key is refreshed only with a proof by that key (RFC 9449 §5): without one, or with
   * another key, `ERR_REFRESH_INVALID` and nothing changes — no rotation, no reuse counted. The
   * new access token is bound to it (`cnf.jkt`, `token_type: DPoP`).
   */
  jkt?: string;
  /**
   * The request's DPoP proof, checked but not spent (`checkProof` with `spend: false`), instead of
   * `jkt`: its `jti` is spent once the refresh is otherwise sound — after the MAC and the narrowing
   * checks, before the rotation — so a refused refresh writes nothing (RFC 9449 §11.1 replay).
   */
  proof?: DpopProof;
}

/** A token's fingerprint for events and logs: the start of its SHA-256, never the token. */
export function fingerprint(token: string): string {
  return createHash('sha256').update(token).digest('base64url').slice(0, 16);
}

/**
 * The refresh token's session and generation, if its MAC is right for the key `jkt` (a bound
 * token's MAC covers its key's thumbprint); otherwise `ERR_REFRESH_INVALID`, saying why. No store read.
 */
export function parseRefreshToken(e: Engine, refreshToken: string, jkt: string | undefined, now: number): ParsedRefreshToken {
  const parsed = e.refreshCodec.parse(refreshToken, now, jkt);
  if (parsed === undefined) {
    if (RefreshTokenCodec.sessionOf(refreshToken)?.bound === true) {
      // Its prefix says it is bound: telling the caller so reveals nothing.
      throw new BatonError(
        'ERR_REFRESH_INVALID',
        jkt === undefined
          ? 'the refresh token is bound to a DPoP key: send a DPoP proof by that key (RFC 9449 §5)'
          : 'the refresh token is bound to another DPoP key, or forged',
        { public: true },
      );
    }
    const revokedAt = e.refreshCodec.revokedKeyOf(refreshToken, now);
    throw new BatonError(
      'ERR_REFRESH_INVALID',
      'malformed or forged refresh token',
      revokedAt === undefined ? undefined : { sessionEnd: { reason: 'key_revoked', at: revokedAt } },
    );
  }
  return parsed;
}

/**
 * `baton.refresh.outcome` of a refresh's span (`tracing.ts`): the store's answer, or what refused
 * the request before the store was asked.
 */
const OUTCOME: Record<string, string> = {
  rotated: 'rotated',
  replayed_in_grace: 'grace',
  reused: 'reused',
  expired: 'expired',
  revoked: 'revoked',
  rate_limited: 'rate_limited',
  ERR_REFRESH_INVALID: 'invalid',
  ERR_STORE_UNAVAILABLE: 'unavailable',
};
/** An outcome's name, never a property the object inherits (`constructor`, a driver's code). */
const outcomeOf = (key: string, otherwise: string): string => (Object.hasOwn(OUTCOME, key) ? (OUTCOME[key] as string) : otherwise);

/** See `Baton.refresh`: in a span of its own with its outcome; the store's calls are its children. */
export function refresh(e: Engine, refreshToken: string, options: RefreshOptions): Promise<TokenPair> {
  return traced('baton.refresh', INTERNAL, refreshIn, e, refreshToken, options);
}

async function refreshIn(span: Span, e: Engine, refreshToken: string, options: RefreshOptions): Promise<TokenPair> {
  let asked: Asked;
  try {
    asked = await rotation(e, refreshToken, options);
  } catch (err) {
    if (span.isRecording()) span.setAttribute('baton.refresh.outcome', outcomeOf(errorType(err), 'refused'));
    throw err;
  }
  const { result } = asked;
  if (span.isRecording()) {
    span.setAttributes({
      'baton.refresh.outcome': outcomeOf(result.status, 'invalid'),
      'baton.session.id': asked.parsed.sessionId,
      'baton.client.id': asked.clientId,
    });
    // The store revoked the session in the same operation (`rotation.ts`).
    if (result.status === 'reused') span.addEvent('baton.session.revoked', { 'baton.session.end_reason': 'reused' });
  }
  return answer(e, asked);
}

/** The checks that change nothing (the MAC, the client, the narrowing, the proof), then the one atomic rotation. */
async function rotation(e: Engine, refreshToken: string, options: RefreshOptions): Promise<Asked> {
  const now = e.now();
  const jkt = requestedKey(options);
  // A bound token's MAC covers its key's thumbprint: without a proof by that key it is refused
  // here, before the store is touched, so a copied token can neither rotate nor trip reuse detection.
  const parsed = parseRefreshToken(e, refreshToken, jkt, now);
  // The session's key (its tokens are `rtd_`) and the proof's, which binds the new access token.
  const binding = refreshBinding(parsed.bound, jkt);
  const clientId = options.clientId ?? 'default';
  argument(typeof clientId === 'string' && clientId.length > 0, 'clientId must be a non-empty string.');
  const narrowed = options.scope === undefined ? undefined : parseScope(options.scope);
  const resources = options.resource === undefined ? undefined : parseResources(options.resource);
  await e.ready();
  assertCanIssue(e);
  // A session's grant never changes, so a wider request is refused before anything rotates: a
  // failed refresh leaves the session as it was (RFC 6749 §6, RFC 8707 §2.2: nothing beyond the original grant).
  if (narrowed !== undefined || resources !== undefined) {
    const session = await e.store.getSession(parsed.sessionId);
    if (session !== null && narrowed !== undefined && outside(narrowed, parseScope(session.scope)).length > 0)
      throw new BatonError('ERR_INVALID_SCOPE', 'scope wider than the session');
    if (session !== null) audienceOf(session.resource, resources, e.o.audience);
  }
  await spendProof(e.dpop, options);
  const result = await e.store.rotate({
    sessionId: parsed.sessionId,
    generation: parsed.generation,
    clientId,
    now,
    graceMs: e.o.refreshGraceMs,
    idleTtlMs: e.o.refreshTokenTtlMs,
    revocationTtlMs: e.revocationTtlMs,
    ...(e.o.refreshRateLimit === undefined ? {} : { rateLimit: e.o.refreshRateLimit }),
    graceLimit: e.o.refreshGraceLimit,
    ...(options.ip === undefined ? {} : { ip: options.ip }),
  });
  return { result, refreshToken, parsed, now, narrowed, resources, binding, ip: options.ip, clientId };
}

type Rotated = Awaited<ReturnType<Engine['store']['rotate']>>;

/** What `refresh` was asked, and the store's answer, for `answer`. */
interface Asked {
  result: Rotated;
  refreshToken: string;
  parsed: ParsedRefreshToken;
  now: number;
  narrowed: string[] | undefined;
  resources: ReturnType<typeof parseResources> | undefined;
  binding: ReturnType<typeof refreshBinding>;
  ip: string | undefined;
  clientId: string;
}

/** The store's answer to a rotation, as new tokens (rotated, or a retry within the grace window) or the error it means. */
async function answer(e: Engine, asked: Asked): Promise<TokenPair> {
  const { result, refreshToken, parsed, now, narrowed, resources, binding } = asked;
  const session = result.session as SessionSummary;
  const lineage = { at: now, sessionId: parsed.sessionId, userId: session?.userId ?? '', fingerprint: fingerprint(refreshToken) };
  switch (result.status) {
    case 'rotated':
      e.emit({ type: 'refresh.rotated', ...lineage, generation: session.generation });
      return issuePair(e, session, narrowed === undefined ? session.scope : narrowed.join(' '), now, resources, binding);
    case 'replayed_in_grace':
      e.emit({ type: 'refresh.grace', ...lineage, generation: session.generation, presentedGeneration: parsed.generation });
      return issuePair(e, session, narrowed === undefined ? session.scope : narrowed.join(' '), now, resources, binding);
    case 'reused': {
      const ended = sessionEnd(session, now);
      e.applyRevocation({
        kind: 'session',
        id: parsed.sessionId,
        at: now,
        expiresAt: now + e.revocationTtlMs,
        reason: 'reused',
        ...(session.revokeDetail ? { detail: session.revokeDetail } : {}),
      });
      e.emit({ type: 'refresh.reused', ...lineage, presentedGeneration: parsed.generation, ...(asked.ip === undefined ? {} : { ip: asked.ip }) });
      e.emit({ type: 'session.revoked', at: now, sessionId: parsed.sessionId, reason: 'reused', userId: lineage.userId });
      throw new BatonError(
        'ERR_REFRESH_REUSED',
        `generation ${parsed.generation} was retired; the session is revoked`,
        ended === undefined ? undefined : { sessionEnd: ended },
      );
    }
    case 'expired':
    case 'revoked': {
      const ended = sessionEnd(session, now);
      // Nothing marks a session's idle or absolute end when it comes: it is told when a token of it is next presented, once per instance.
      if (
        result.status === 'expired' &&
        (ended?.reason === 'idle_timeout' || ended?.reason === 'absolute_timeout') &&
        e.firstTime(`expired\n${parsed.sessionId}`)
      )
        e.emit({ type: 'session.expired', at: ended.at, sessionId: parsed.sessionId, userId: session.userId, reason: ended.reason });
      // One code for a session that ended (signed out, revoked, kicked, timed out); its `sessionEnd` says how.
      throw new BatonError('ERR_SESSION_ENDED', `the session is ${result.status}`, ended === undefined ? undefined : { sessionEnd: ended });
    }
    case 'rate_limited':
      throw new BatonError(
        'ERR_RATE_LIMITED',
        session !== undefined && parsed.generation < session.generation
          ? `generation ${parsed.generation} is retired: no grace answer now (its grace limit is spent, or this clock is behind its retirement by more than the grace window: a clock step back, or another instance's clock ahead)`
          : 'refresh rate limit of the session',
        { retryAfterMs: result.retryAfterMs ?? 1000 },
      );
    default:
      throw new BatonError('ERR_REFRESH_INVALID', 'no such session for this client, or a generation ahead of it');
  }
}
