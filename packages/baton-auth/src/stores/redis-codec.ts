/** How a session is kept in a Redis hash, and a revocation's detail as the Lua scripts take it. Internal to `redis.ts`. */
import type { SessionEndDetail } from '../core/store.ts';
import type { Revocation, RevocationEvent, RotateResult, RotateStatus, SessionRecord } from './types.ts';

const NUMBERS = [
  'createdAt',
  'lastUsedAt',
  'expiresAt',
  'idleExpiresAt',
  'generation',
  'rotatedAt',
  'prevRotatedAt',
  'rateWindowStart',
  'rateCount',
  'graceCount',
  'graceTotal',
] as const;

/** A revocation's detail as the scripts take it: JSON, or '' for none. */
export const detailJson = (detail: SessionEndDetail | null | undefined): string => (detail ? JSON.stringify(detail) : '');

export function toHash(s: SessionRecord): string[] {
  const out: string[] = ['id', s.id, 'userId', s.userId, 'clientId', s.clientId, 'scope', s.scope, 'resource', s.resource, 'device', JSON.stringify(s.device)];
  if (s.jkt !== undefined) out.push('jkt', s.jkt); // only a bound session has the field
  for (const field of NUMBERS) out.push(field, String(s[field]));
  out.push('revokedAt', s.revokedAt === null ? '' : String(s.revokedAt), 'revokeReason', s.revokeReason ?? '', 'revokeDetail', detailJson(s.revokeDetail));
  return out;
}

export function fromHash(flat: string[], offset = 0): SessionRecord {
  const h: Record<string, string> = {};
  for (let i = offset; i + 1 < flat.length; i += 2) h[flat[i] as string] = flat[i + 1] as string;
  const record = {
    id: h.id,
    userId: h.userId,
    clientId: h.clientId,
    scope: h.scope,
    resource: h.resource ?? '',
    device: JSON.parse(h.device ?? '{}'),
    revokedAt: h.revokedAt ? Number(h.revokedAt) : null,
    revokeReason: h.revokeReason || null,
    revokeDetail: h.revokeDetail ? (JSON.parse(h.revokeDetail) as SessionEndDetail) : null,
  } as SessionRecord;
  for (const field of NUMBERS) record[field] = Number(h[field] ?? 0); // graceCount and graceTotal are absent from sessions of older versions
  if (h.jkt) record.jkt = h.jkt; // absent (or '') from unbound sessions and those of older versions
  return record;
}

/** The events that announce the end of sessions (what the log is given on a cluster). */
export function sessionEvents(ids: string[], r: Revocation): RevocationEvent[] {
  return ids.map((id) => ({
    kind: 'session',
    id,
    at: r.now,
    expiresAt: r.now + r.revocationTtlMs,
    reason: r.reason,
    ...(r.detail ? { detail: r.detail } : {}),
  }));
}

/** The rotate script's reply as a `RotateResult`: the status, the wait when rate limited, the session's fields when it exists. */
export function rotateResult(sessionId: string, reply: [RotateStatus, number, ...(string | undefined)[]]): RotateResult {
  const [status, retryAfterMs, generation, expiresAt, idleExpiresAt, rotatedAt, revokedAt, userId, clientId, scope, revokeReason, revokeDetail, resource] =
    reply;
  const result: RotateResult = { status };
  if (generation !== undefined) {
    result.session = {
      id: sessionId,
      userId: userId as string,
      clientId: clientId as string,
      scope: scope as string,
      resource: (resource as string | undefined) ?? '',
      generation: Number(generation),
      expiresAt: Number(expiresAt),
      idleExpiresAt: Number(idleExpiresAt),
      rotatedAt: Number(rotatedAt),
      revokedAt: revokedAt ? Number(revokedAt) : null,
      revokeReason: revokeReason || null,
      revokeDetail: revokeDetail ? (JSON.parse(revokeDetail) as SessionEndDetail) : null,
    };
  }
  if (status === 'rate_limited') result.retryAfterMs = Number(retryAfterMs);
  return result;
}
