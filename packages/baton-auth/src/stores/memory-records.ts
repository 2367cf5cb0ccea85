/**
 * The plain-map half of the memory store: one-time jtis, opaque access tokens, the records beside the sessions (the
 * service's users, clients, sealed keys), counters and PING. `MemoryStore` (`memory.ts`) adds sessions and revocations
 * on top, as `RedisRecords` and `PostgresRecords` do for their stores. Internal.
 */
import type { OpaqueTokenRecord } from './types.ts';

/** Values are copied in and out, so callers never share the store's objects (opaque-token claims may nest). */
export const copy = <T>(value: T): T => structuredClone(value);

export abstract class MemoryRecords {
  readonly #consumed = new Map<string, number>();
  readonly #opaque = new Map<string, OpaqueTokenRecord>();
  readonly #records = new Map<string, Map<string, string>>();
  readonly #counters = new Map<string, { count: number; resetAt: number }>();

  async consumeJti(jti: string, expiresAt: number, now: number): Promise<boolean> {
    const until = this.#consumed.get(jti);
    if (until !== undefined && until > now) return false;
    this.#consumed.set(jti, expiresAt);
    return true;
  }

  async saveOpaqueToken(hash: string, record: OpaqueTokenRecord): Promise<void> {
    this.#opaque.set(hash, copy(record));
  }

  async findOpaqueToken(hash: string, now: number): Promise<OpaqueTokenRecord | null> {
    const record = this.#opaque.get(hash);
    return record === undefined || record.expiresAt <= now ? null : copy(record);
  }

  async deleteOpaqueToken(hash: string): Promise<void> {
    this.#opaque.delete(hash);
  }

  async putRecord(kind: string, key: string, value: string, options?: { ifAbsent?: boolean }): Promise<boolean> {
    let records = this.#records.get(kind);
    if (records === undefined) this.#records.set(kind, (records = new Map()));
    if (options?.ifAbsent && records.has(key)) return false;
    records.set(key, value);
    return true;
  }

  async getRecord(kind: string, key: string): Promise<string | null> {
    return this.#records.get(kind)?.get(key) ?? null;
  }

  async deleteRecord(kind: string, key: string): Promise<boolean> {
    return this.#records.get(kind)?.delete(key) ?? false;
  }

  async listRecords(kind: string): Promise<{ key: string; value: string }[]> {
    return [...(this.#records.get(kind) ?? [])].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, value]) => ({ key, value }));
  }

  async hitCounter(key: string, points: number, windowMs: number, now: number, force = false): Promise<{ count: number; resetAt: number }> {
    const current = this.#counters.get(key);
    const next =
      force || current === undefined || current.resetAt <= now
        ? { count: points, resetAt: now + windowMs }
        : { count: current.count + points, resetAt: current.resetAt };
    this.#counters.set(key, next);
    return { ...next };
  }

  async getCounter(key: string, now: number): Promise<{ count: number; resetAt: number } | null> {
    const current = this.#counters.get(key);
    return current === undefined || current.resetAt <= now ? null : { ...current };
  }

  async deleteCounter(key: string): Promise<boolean> {
    return this.#counters.delete(key);
  }

  async counterKeys(prefix: string, now: number): Promise<string[]> {
    return [...this.#counters]
      .filter(([key, c]) => key.startsWith(prefix) && c.resetAt > now)
      .map(([key]) => key)
      .sort();
  }

  async ping(): Promise<void> {}

  /** Forgets the jtis, opaque tokens and counters past their time; answers how many. */
  protected sweepRecords(now: number): number {
    let removed = 0;
    for (const [key, until] of this.#consumed) if (until <= now && this.#consumed.delete(key)) removed++;
    for (const [hash, record] of this.#opaque) if (record.expiresAt <= now && this.#opaque.delete(hash)) removed++;
    for (const [key, counter] of this.#counters) if (counter.resetAt <= now && this.#counters.delete(key)) removed++;
    return removed;
  }
}
