/**
 * The Redis store on `ioredis`, for Redis and Redis Cluster. Import from `baton-auth/stores/redis`.
 *
 * Every decision (create with eviction, rotate, revoke) is one Lua script: atomic in Redis
 * without locks in Node, one round trip. A user's sessions and their index share a hash tag, so
 * the scripts run unchanged on a cluster. Everything has a TTL. Refresh tokens are never stored
 * (the session holds its generation; see the README), opaque access tokens only as hashes.
 * Revocations are published on a channel (from inside the script, so the message cannot be lost
 * while the revocation commits) and logged in a sorted set that an instance re-reads when its
 * subscription reconnects. On a standalone Redis the same script writes the log. On Redis
 * Cluster the log (`{revocations}`) is in another slot than a user's `{tag}` keys, which one
 * script cannot both touch: there the store appends to the log in a second round trip right after
 * the script, and a crash in between loses that log entry (the message was published). `denyJti`
 * and `announce` touch only the log, so they are one script everywhere.
 *
 * Without persistence a Redis restart forgets everything kept here — sessions, the revocation
 * log, counters, and the records beside them (the service's users, clients and sealed keys).
 * Enable AOF (`appendonly yes`); `persistenceWarning` says when it is off.
 *
 * @example
 * ```ts
 * import { redisStore } from 'baton-auth/stores/redis';
 * const store = redisStore({ url: 'redis://127.0.0.1:6379' });
 * const clustered = redisStore({ url: 'redis+cluster://10.0.0.1:7000,10.0.0.2:7000' });
 * ```
 */
import { Cluster } from 'ioredis';
import { BatonConfigError } from '../core/errors.ts';
import { tagOfSession, userTag } from '../core/session-id.ts';
import { ENDED_SESSION_RETENTION_MS, ENDED_SESSIONS_PER_USER, SESSION_HISTORY_PAGE } from '../core/store.ts';
import type { SessionHistoryPage } from '../core/store.ts';
import { RevocationSubscribers } from './subscribers.ts';
import { detailJson, fromHash, rotateResult, sessionEvents, toHash } from './redis-codec.ts';
import { connect, defineScripts } from './redis-connection.ts';
import type { Client } from './redis-connection.ts';
import { RedisRecords } from './redis-records.ts';
import { duplicateSubscriber, listen } from './redis-subscriber.ts';
import type { RevocationEvent, RotateRequest, RotateResult, SessionRecord, BatonStore, Revocation } from './types.ts';

/** Options of `redisStore`. Give `url` or `client`. */
export interface RedisStoreOptions {
  /** `redis://`, `rediss://` or `redis+cluster://host:port,host:port`. */
  url?: string;
  /** A client you made; the store does not close it. */
  client?: Client;
  /** Prefix of every key and of the channel. Default `'baton:'`. */
  keyPrefix?: string;
  /**
   * How long a session is kept after it ended (revoked, or past its idle or absolute end), in ms:
   * the user's history, and what tells a late refresh why. Default a week (`ENDED_SESSION_RETENTION_MS`).
   */
  retainMs?: number;
}

class RedisStore extends RedisRecords implements BatonStore {
  /** `db.system.name` on the spans of its calls (OpenTelemetry's name for it). */
  readonly dbSystemName = 'redis';
  readonly #owned: boolean;
  readonly #channel: string;
  readonly #retainMs: number;
  /** On a cluster the log is written apart from the revoking scripts (another slot). */
  readonly #cluster: boolean;
  #subscriber: Client | undefined;
  readonly #subscribers = new RevocationSubscribers();
  #poll: NodeJS.Timeout | undefined;

  constructor(options: RedisStoreOptions) {
    if (options.client === undefined && options.url === undefined) throw new BatonConfigError('redisStore needs `url` or `client`.');
    const client = options.client ?? connect(options.url as string);
    const owned = options.client === undefined;
    // A connection error reaches the caller of each command (as ERR_STORE_UNAVAILABLE in Baton);
    // without a listener ioredis would also print it on every reconnection attempt.
    if (owned) client.on('error', () => undefined);
    super(defineScripts(client), options.keyPrefix ?? 'baton:');
    this.#owned = owned;
    this.#channel = `${this.prefix}revocations`;
    this.#retainMs = options.retainMs ?? ENDED_SESSION_RETENTION_MS;
    this.#cluster = client instanceof Cluster;
  }

  #sessionPrefix(tag: string): string {
    return `${this.prefix}{${tag}}:s:`;
  }

  #sessionKey(id: string): string {
    return this.#sessionPrefix(tagOfSession(id)) + id;
  }

  #usersKey(userId: string): string {
    return `${this.prefix}{${userTag(userId)}}:u:${userId}`;
  }

  /** The user's ended sessions, set apart from the index (`u:`) at each login and capped there. */
  #endedKey(userId: string): string {
    return `${this.prefix}{${userTag(userId)}}:e:${userId}`;
  }

  #ttl(session: SessionRecord, now: number): number {
    return Math.min(session.expiresAt, session.idleExpiresAt) - now + this.#retainMs;
  }

  /** The keys of a revoking script: with the log key on a standalone Redis. */
  #keys(...keys: string[]): string[] {
    return this.#cluster ? keys : [...keys, this.log];
  }

  /**
   * On a cluster only (standalone, the script logged them): appends revocations to the log that
   * reconnecting instances re-read, in a second round trip (the channel already carried them).
   */
  async #logRevocations(events: RevocationEvent[]): Promise<void> {
    if (!this.#cluster || events.length === 0) return;
    await this.client.batonLogEvents(this.log, ...events.flatMap((e) => [e.kind, e.id, e.at, e.expiresAt, e.reason, detailJson(e.detail)]));
  }

  async createSession(session: SessionRecord, options: Omit<Revocation, 'reason'> & { maxSessionsPerUser: number }): Promise<{ evicted: string[] }> {
    const eviction = { ...options, reason: 'evicted', detail: { by: session.id, byDevice: session.device } };
    const evicted = await this.client.batonCreate(
      ...this.#keys(this.#sessionKey(session.id), this.#usersKey(session.userId), this.#endedKey(session.userId)),
      session.id,
      session.createdAt,
      this.#ttl(session, options.now),
      options.maxSessionsPerUser,
      options.now,
      options.now + options.revocationTtlMs,
      this.#channel,
      Math.max(this.#retainMs, options.revocationTtlMs),
      this.#sessionPrefix(tagOfSession(session.id)),
      session.expiresAt - options.now + this.#retainMs,
      detailJson(eviction.detail),
      ENDED_SESSIONS_PER_USER,
      ...toHash(session),
    );
    await this.#logRevocations(sessionEvents(evicted, eviction));
    return { evicted };
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const flat = (await this.client.call('HGETALL', this.#sessionKey(id))) as string[];
    return flat.length === 0 ? null : fromHash(flat);
  }

  async sessionHistory(userId: string, _now: number, page: SessionHistoryPage = {}): Promise<SessionRecord[]> {
    const limit = Math.max(1, Math.min(page.limit ?? SESSION_HISTORY_PAGE, SESSION_HISTORY_PAGE));
    const rows = await this.client.batonHistory(
      this.#usersKey(userId),
      this.#endedKey(userId),
      this.#sessionPrefix(userTag(userId)),
      limit,
      page.before?.createdAt ?? '',
      page.before?.id ?? '',
    );
    return rows.map((flat) => fromHash(flat));
  }

  async listSessions(userId: string, now: number): Promise<SessionRecord[]> {
    const rows = await this.client.batonList(this.#usersKey(userId), now, this.#sessionPrefix(userTag(userId)));
    return rows.map((flat) => fromHash(flat));
  }

  async rotate(r: RotateRequest): Promise<RotateResult> {
    // A caller naming no client (plain JavaScript) is refused like another client's (RFC 6749 §6).
    if (typeof r.clientId !== 'string') return { status: 'unknown' };
    const reply = await this.client.batonRotate(
      ...this.#keys(this.#sessionKey(r.sessionId)),
      r.generation,
      r.clientId,
      r.now,
      r.graceMs,
      r.now + r.idleTtlMs,
      r.rateLimit?.max ?? 0,
      r.rateLimit?.windowMs ?? 0,
      r.now + r.revocationTtlMs,
      this.#channel,
      Math.max(this.#retainMs, r.revocationTtlMs),
      this.#retainMs,
      r.graceLimit ?? -1,
      r.ip ?? '',
      `${this.prefix}{${tagOfSession(r.sessionId)}}:`,
    );
    const result = rotateResult(r.sessionId, reply);
    if (result.status === 'reused') {
      await this.#logRevocations(
        sessionEvents([r.sessionId], {
          now: r.now,
          revocationTtlMs: r.revocationTtlMs,
          reason: 'reused',
          ...(result.session?.revokeDetail ? { detail: result.session.revokeDetail } : {}),
        }),
      );
    }
    return result;
  }

  async revokeSession(id: string, options: Revocation): Promise<boolean> {
    const done = await this.client.batonRevoke(
      ...this.#keys(this.#sessionKey(id)),
      options.now,
      options.reason,
      options.now + options.revocationTtlMs,
      this.#channel,
      Math.max(this.#retainMs, options.revocationTtlMs),
      detailJson(options.detail),
    );
    if (done === 1) await this.#logRevocations(sessionEvents([id], options));
    return done === 1;
  }

  async revokeUserSessions(userId: string, options: Revocation & { except?: string }): Promise<string[]> {
    const ids = await this.client.batonRevokeUser(
      ...this.#keys(this.#usersKey(userId), this.#endedKey(userId)),
      options.except ?? '',
      options.now,
      options.reason,
      options.now + options.revocationTtlMs,
      this.#channel,
      Math.max(this.#retainMs, options.revocationTtlMs),
      this.#sessionPrefix(userTag(userId)),
      detailJson(options.detail),
    );
    await this.#logRevocations(sessionEvents(ids, options));
    return ids;
  }

  async denyJti(jti: string, expiresAt: number, now: number): Promise<void> {
    await this.announce({ kind: 'token', id: jti, at: now, expiresAt, reason: 'revoked' });
  }

  async announce(e: RevocationEvent): Promise<void> {
    await this.client.batonAnnounce(this.log, this.#channel, e.kind, e.id, e.at, e.expiresAt, e.reason, detailJson(e.detail));
  }

  /**
   * Reads the log after the cursor, and delivers what this instance has not had: every event,
   * expired or not (`now` 0), as this process's clock may be ahead (a step) and the cursor moves
   * past what is skipped; the receiving cache decides how long each matters, on its own clocks.
   */
  async #reread(): Promise<void> {
    for (;;) {
      const events = await this.revocationsAfter(this.#subscribers.lastSeq, 1000, 0);
      for (const event of events) this.#subscribers.deliver(event);
      if (events.length < 1000) return;
    }
  }

  subscribed(): boolean {
    return this.#subscriber === undefined || this.#subscriber.status === 'ready';
  }

  async subscribe(listener: (event: RevocationEvent) => void): Promise<() => void> {
    if (this.#subscriber === undefined) {
      const sub = duplicateSubscriber(this.client);
      this.#subscriber = sub;
      this.#poll = await listen(sub, {
        client: this.client,
        channel: this.#channel,
        log: this.log,
        subscribers: this.#subscribers,
        reread: () => this.#reread(),
      });
    }
    return this.#subscribers.add(listener);
  }

  async sweep(now: number): Promise<number> {
    // Every other key carries a TTL: sessions (their end + retainMs, or the revocation's
    // lifetime), user indexes, counters (their window), spent and denied jtis, opaque tokens. The
    // revocation log expires with its newest entry and is trimmed at each write and here.
    return Number(await this.client.batonSweepLog(this.log, now));
  }

  async close(): Promise<void> {
    this.#subscribers.clear();
    clearInterval(this.#poll);
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
    if (this.#owned) this.client.disconnect();
  }
}

/** Creates a Redis (or Redis Cluster) store. */
export function redisStore(options: RedisStoreOptions): BatonStore {
  return new RedisStore(options);
}
