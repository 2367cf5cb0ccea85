/**
 * The plain key-value half of the Redis store: one-time jtis, opaque access tokens (as hashes), the records beside the
 * sessions (the service's users, clients, sealed keys), counters, and the connection's health. `RedisStore`
 * (`redis.ts`) adds sessions and revocations on top. Internal.
 */
import { persistenceWarning, ping, scanKeys } from './redis-connection.ts';
import type { Client, Scripted } from './redis-connection.ts';
import type { OpaqueTokenRecord, RevocationEvent } from './types.ts';

/** Added to twice the time a spent jti has left, for Redis's cleanup TTL (the expiry itself is decided on the engine's clock). */
const JTI_CLEANUP_MARGIN_MS = 60_000;

export abstract class RedisRecords {
  protected readonly client: Client & Scripted;
  /** Prefix of every key and of the channel. */
  protected readonly prefix: string;
  /** The revocation log's key: a sorted set by time, with `:order` (by sequence number) and `:seq` (the head) beside it. */
  protected readonly log: string;

  constructor(client: Client & Scripted, prefix: string) {
    this.client = client;
    this.prefix = prefix;
    this.log = `${prefix}{revocations}:log`;
  }

  async revocationsSince(since: number): Promise<RevocationEvent[]> {
    const rows = await this.client.zrangebyscore(this.log, since, '+inf');
    return rows.map((row) => JSON.parse(row) as RevocationEvent).sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  }

  async revocationHead(): Promise<number> {
    return Number((await this.client.get(`${this.log}:seq`)) ?? 0);
  }

  async revocationsAfter(after: number, limit: number, now: number): Promise<RevocationEvent[]> {
    const out: RevocationEvent[] = [];
    for (let from = after; ;) {
      const rows = await this.client.zrangebyscore(`${this.log}:order`, `(${from}`, '+inf', 'LIMIT', 0, limit);
      for (const row of rows) {
        const event = JSON.parse(row) as RevocationEvent;
        from = event.seq as number;
        if (event.expiresAt > now && out.length < limit) out.push(event);
      }
      if (out.length > 0 || rows.length < limit) return out; // a page all expired: read on
    }
  }

  async consumeJti(jti: string, expiresAt: number, now: number): Promise<boolean> {
    // The expiry is kept and compared with the engine's `now` in the script; Redis's TTL only cleans
    // up, generously: twice the time left and a minute (its clock and the engine's may disagree).
    const ttl = 2 * Math.max(0, expiresAt - now) + JTI_CLEANUP_MARGIN_MS;
    return (await this.client.batonConsume(`${this.prefix}c:${jti}`, expiresAt, now, ttl)) === 1;
  }

  async saveOpaqueToken(hash: string, record: OpaqueTokenRecord, now: number): Promise<void> {
    await this.client.set(`${this.prefix}o:${hash}`, JSON.stringify(record), 'PX', Math.max(1, record.expiresAt - now));
  }

  async findOpaqueToken(hash: string, now: number): Promise<OpaqueTokenRecord | null> {
    const raw = await this.client.get(`${this.prefix}o:${hash}`);
    if (raw === null) return null;
    const record = JSON.parse(raw) as OpaqueTokenRecord;
    return record.expiresAt > now ? record : null;
  }

  async deleteOpaqueToken(hash: string): Promise<void> {
    await this.client.del(`${this.prefix}o:${hash}`);
  }

  private recordsKey(kind: string): string {
    return `${this.prefix}{records}:${kind}`;
  }

  async putRecord(kind: string, key: string, value: string, options?: { ifAbsent?: boolean }): Promise<boolean> {
    if (options?.ifAbsent) return (await this.client.hsetnx(this.recordsKey(kind), key, value)) === 1;
    await this.client.hset(this.recordsKey(kind), key, value);
    return true;
  }

  async getRecord(kind: string, key: string): Promise<string | null> {
    return this.client.hget(this.recordsKey(kind), key);
  }

  async deleteRecord(kind: string, key: string): Promise<boolean> {
    return (await this.client.hdel(this.recordsKey(kind), key)) === 1;
  }

  async listRecords(kind: string): Promise<{ key: string; value: string }[]> {
    const all = await this.client.hgetall(this.recordsKey(kind));
    return Object.keys(all)
      .sort()
      .map((key) => ({ key, value: all[key] as string }));
  }

  async hitCounter(key: string, points: number, windowMs: number, now: number, force = false): Promise<{ count: number; resetAt: number }> {
    const [count, resetAt] = await this.client.batonHit(`${this.prefix}n:${key}`, points, windowMs, now, force ? 1 : 0);
    return { count: Number(count), resetAt: Number(resetAt) };
  }

  async getCounter(key: string, now: number): Promise<{ count: number; resetAt: number } | null> {
    const [count, resetAt] = await this.client.hmget(`${this.prefix}n:${key}`, 'count', 'resetAt');
    return count === null || Number(resetAt) <= now ? null : { count: Number(count), resetAt: Number(resetAt) };
  }

  async deleteCounter(key: string): Promise<boolean> {
    return (await this.client.del(`${this.prefix}n:${key}`)) === 1;
  }

  /**
   * SCANs every master (of a cluster, or the one server) for the prefix, glob characters escaped,
   * then keeps the counters not reset at `now` (a key outlives its window by clock skew at most).
   */
  async counterKeys(prefix: string, now: number): Promise<string[]> {
    const stored = `${this.prefix}n:`;
    const pattern = `${(stored + prefix).replace(/[\\*?[\]]/g, '\\$&')}*`;
    const keys = await scanKeys(this.client, pattern);
    const resets = await Promise.all(keys.map((key) => this.client.hget(key, 'resetAt')));
    return keys
      .filter((_, i) => Number(resets[i]) > now)
      .map((key) => key.slice(stored.length))
      .sort();
  }

  persistenceWarning(): Promise<string | undefined> {
    return persistenceWarning(this.client);
  }

  /** `PING`, bounded in time (see `ping` in `redis-connection.ts`). */
  ping(): Promise<void> {
    return ping(this.client);
  }
}
