/**
 * The plain-table half of the PostgreSQL store: one-time jtis, opaque access tokens, the records beside the sessions
 * (the service's users, clients, sealed keys), counters, PING, and the schema migrated on first use. `PostgresStore`
 * (`postgres.ts`) adds sessions and revocations on top. Internal.
 */
import type { Sql } from 'postgres';
import { migrate } from './postgres-codec.ts';
import { likePrefix } from './sql.ts';
import type { OpaqueTokenRecord } from './types.ts';

export abstract class PostgresRecords {
  protected readonly sql: Sql;
  #migrated: Promise<void> | undefined;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  /** Applies pending migrations once per store (again after a failed attempt). */
  protected ready(): Promise<void> {
    this.#migrated ??= migrate(this.sql).then(
      () => undefined,
      (err: unknown) => {
        this.#migrated = undefined;
        throw err;
      },
    );
    return this.#migrated;
  }

  async consumeJti(jti: string, expiresAt: number, now: number): Promise<boolean> {
    await this.ready();
    const rows = await this.sql`
      INSERT INTO baton_consumed_jti (jti, expires_at) VALUES (${jti}, ${expiresAt})
      ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at WHERE baton_consumed_jti.expires_at <= ${now}
      RETURNING jti`;
    return rows.length === 1;
  }

  async saveOpaqueToken(hash: string, record: OpaqueTokenRecord): Promise<void> {
    await this.ready();
    await this.sql`
      INSERT INTO baton_opaque_tokens (hash, claims, expires_at) VALUES (${hash}, ${this.sql.json(record.claims as never)}, ${record.expiresAt})
      ON CONFLICT (hash) DO UPDATE SET claims = excluded.claims, expires_at = excluded.expires_at`;
  }

  async findOpaqueToken(hash: string, now: number): Promise<OpaqueTokenRecord | null> {
    await this.ready();
    const [row] = await this.sql`SELECT claims, expires_at FROM baton_opaque_tokens WHERE hash = ${hash} AND expires_at > ${now}`;
    return row === undefined ? null : { claims: row.claims as OpaqueTokenRecord['claims'], expiresAt: Number(row.expires_at) };
  }

  async deleteOpaqueToken(hash: string): Promise<void> {
    await this.ready();
    await this.sql`DELETE FROM baton_opaque_tokens WHERE hash = ${hash}`;
  }
  async putRecord(kind: string, key: string, value: string, options?: { ifAbsent?: boolean }): Promise<boolean> {
    await this.ready();
    const rows = options?.ifAbsent
      ? await this.sql`INSERT INTO baton_records (kind, key, value) VALUES (${kind}, ${key}, ${value}) ON CONFLICT DO NOTHING RETURNING key`
      : await this.sql`INSERT INTO baton_records (kind, key, value) VALUES (${kind}, ${key}, ${value})
                        ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value RETURNING key`;
    return rows.length === 1;
  }

  async getRecord(kind: string, key: string): Promise<string | null> {
    await this.ready();
    const [row] = await this.sql`SELECT value FROM baton_records WHERE kind = ${kind} AND key = ${key}`;
    return row === undefined ? null : (row.value as string);
  }

  async deleteRecord(kind: string, key: string): Promise<boolean> {
    await this.ready();
    return (await this.sql`DELETE FROM baton_records WHERE kind = ${kind} AND key = ${key}`).count === 1;
  }

  async listRecords(kind: string): Promise<{ key: string; value: string }[]> {
    await this.ready();
    return (await this.sql`SELECT key, value FROM baton_records WHERE kind = ${kind} ORDER BY key`).map((r) => ({
      key: r.key as string,
      value: r.value as string,
    }));
  }

  async hitCounter(key: string, points: number, windowMs: number, now: number, force = false): Promise<{ count: number; resetAt: number }> {
    await this.ready();
    const [row] = await this.sql`
      INSERT INTO baton_counters AS c (key, count, reset_at) VALUES (${key}, ${points}, ${now + windowMs})
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN ${force} OR c.reset_at <= ${now} THEN ${points} ELSE c.count + ${points} END,
        reset_at = CASE WHEN ${force} OR c.reset_at <= ${now} THEN ${now + windowMs} ELSE c.reset_at END
      RETURNING count, reset_at`;
    return { count: Number(row?.count), resetAt: Number(row?.reset_at) };
  }

  async getCounter(key: string, now: number): Promise<{ count: number; resetAt: number } | null> {
    await this.ready();
    const [row] = await this.sql`SELECT count, reset_at FROM baton_counters WHERE key = ${key} AND reset_at > ${now}`;
    return row === undefined ? null : { count: Number(row.count), resetAt: Number(row.reset_at) };
  }

  async deleteCounter(key: string): Promise<boolean> {
    await this.ready();
    return (await this.sql`DELETE FROM baton_counters WHERE key = ${key}`).count === 1;
  }

  async counterKeys(prefix: string, now: number): Promise<string[]> {
    await this.ready();
    const rows = await this.sql`SELECT key FROM baton_counters WHERE key LIKE ${likePrefix(prefix)} ESCAPE '\\' AND reset_at > ${now}`;
    return rows.map((r) => r.key as string).sort();
  }

  /** Migrates first, as every call does; a server that is not there fails within `connect_timeout` (5 s). */
  async ping(): Promise<void> {
    await this.ready();
    await this.sql`SELECT 1`;
  }
}
