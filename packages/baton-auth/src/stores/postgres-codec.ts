/**
 * The rows of the PostgreSQL store as Baton's records, the pool it expects, and the migration of its schema. Internal
 * to `postgres.ts` (which exports `postgresClient`).
 */
import postgres from 'postgres';
import type { Sql } from 'postgres';
import { BatonConfigError } from '../core/errors.ts';
import type { SessionEndDetail } from '../core/store.ts';
import { MIGRATIONS } from './postgres-schema.ts';
import type { RevocationEvent, SessionRecord } from './types.ts';

export type Row = Record<string, unknown>;

export function toRecord(row: Row): SessionRecord {
  const n = (v: unknown): number => Number(v);
  return {
    id: row.id as string,
    userId: row.user_id as string,
    clientId: row.client_id as string,
    scope: row.scope as string,
    resource: (row.resource as string | null | undefined) ?? '',
    ...(typeof row.jkt === 'string' && row.jkt !== '' ? { jkt: row.jkt } : {}),
    device: (typeof row.device === 'string' ? JSON.parse(row.device) : row.device) as SessionRecord['device'],
    createdAt: n(row.created_at),
    lastUsedAt: n(row.last_used_at),
    expiresAt: n(row.expires_at),
    idleExpiresAt: n(row.idle_expires_at),
    generation: n(row.generation),
    rotatedAt: n(row.rotated_at),
    prevRotatedAt: n(row.prev_rotated_at),
    rateWindowStart: n(row.rate_window_start),
    rateCount: n(row.rate_count),
    graceCount: n(row.grace_count ?? 0),
    graceTotal: n(row.grace_total ?? 0),
    revokedAt: row.revoked_at === null || row.revoked_at === undefined ? null : n(row.revoked_at),
    revokeReason: (row.revoke_reason as string | null) ?? null,
    revokeDetail: (row.revoke_detail as SessionEndDetail | null | undefined) ?? null,
  };
}

export function toRow(s: SessionRecord): Row {
  return {
    id: s.id,
    user_id: s.userId,
    client_id: s.clientId,
    scope: s.scope,
    resource: s.resource,
    jkt: s.jkt ?? null,
    device: s.device,
    created_at: s.createdAt,
    last_used_at: s.lastUsedAt,
    expires_at: s.expiresAt,
    idle_expires_at: s.idleExpiresAt,
    generation: s.generation,
    rotated_at: s.rotatedAt,
    prev_rotated_at: s.prevRotatedAt,
    rate_window_start: s.rateWindowStart,
    rate_count: s.rateCount,
    grace_count: s.graceCount,
    grace_total: s.graceTotal,
    revoked_at: s.revokedAt,
    revoke_reason: s.revokeReason,
    revoke_detail: s.revokeDetail,
  };
}

export function toEvent(row: Row): RevocationEvent {
  const event: RevocationEvent = {
    kind: row.kind as RevocationEvent['kind'],
    id: row.id as string,
    at: Number(row.at),
    expiresAt: Number(row.expires_at),
    reason: row.reason as string,
  };
  if (row.commit_seq !== undefined && row.commit_seq !== null) event.seq = Number(row.commit_seq);
  if (row.detail !== null && row.detail !== undefined) event.detail = row.detail as SessionEndDetail;
  return event;
}

/** A postgres.js pool as the store expects it: bigint milliseconds parsed as numbers. */
export function postgresClient(url: string, max = 10): Sql {
  return postgres(url, {
    max,
    onnotice: () => undefined,
    // bigint columns hold milliseconds, well inside Number's exact range.
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
    connect_timeout: 5,
    // No array-type query at each connect: postgres.js runs it from a socket handler and drops its
    // promise, so a connection lost during it (an outage, a flaky network) was an unhandled
    // rejection, which ends a Node process. The one array the store reads comes back as JSON.
    fetch_types: false,
    // Reconnect fast once the server is back (the default backoff grows to seconds), so an
    // instance is not blind to revocations for longer than the outage itself.
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 1),
  }) as unknown as Sql;
}
/** Applies pending migrations, in one transaction under an advisory lock. */
export async function migrate(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext('baton:migrations'))`;
    await tx`CREATE TABLE IF NOT EXISTS baton_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    const [{ version }] = (await tx`SELECT coalesce(max(version), 0) AS version FROM baton_migrations`) as unknown as [{ version: number }];
    if (version > MIGRATIONS.length) {
      throw new BatonConfigError(`The PostgreSQL schema is at version ${version}, newer than this Baton knows (${MIGRATIONS.length}); upgrade Baton.`);
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      await tx.unsafe(MIGRATIONS[v] as string);
      await tx`INSERT INTO baton_migrations (version) VALUES (${v + 1})`;
    }
  });
}
