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
import { Cluster, Redis } from 'ioredis';
import { BatonConfigError, BatonError } from '../core/errors.ts';
import { tagOfSession, userTag } from '../core/session-id.ts';
import { ENDED_SESSION_RETENTION_MS, ENDED_SESSIONS_PER_USER, SESSION_HISTORY_PAGE } from '../core/store.ts';
import type { SessionEndDetail, SessionHistoryPage } from '../core/store.ts';
import { RevocationFeed } from './feed.ts';
import { ANNOUNCE, CONSUME_JTI, CREATE_SESSION, HIT_COUNTER, LIST_SESSIONS, LOG_EVENTS, REVOKE_SESSION, REVOKE_USER, ROTATE, SESSION_HISTORY, SWEEP_LOG } from './redis-scripts.ts';
import type { OpaqueTokenRecord, RevocationEvent, RotateRequest, RotateResult, RotateStatus, SessionRecord, BatonStore, Revocation } from './types.ts';

type Client = Redis | Cluster;

/** How long `ping` waits for an answer, in ms. */
const PING_TIMEOUT_MS = 3000;
/** Added to twice the time a spent jti has left, for Redis's cleanup TTL (the expiry itself is decided on the engine's clock). */
const JTI_CLEANUP_MARGIN_MS = 60_000;

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

/** The scripts as commands: keys first (the revoking ones end with the log key on a standalone Redis), then arguments. */
interface Scripted {
  batonCreate(...keysAndArgs: (string | number)[]): Promise<string[]>;
  batonRotate(...keysAndArgs: (string | number)[]): Promise<[RotateStatus, number, ...(string | undefined)[]]>;
  batonRevoke(...keysAndArgs: (string | number)[]): Promise<number>;
  batonRevokeUser(...keysAndArgs: (string | number)[]): Promise<string[]>;
  batonAnnounce(log: string, ...args: (string | number)[]): Promise<number>;
  batonLogEvents(log: string, ...args: (string | number)[]): Promise<number>;
  batonSweepLog(log: string, now: number): Promise<number>;
  batonList(users: string, ...args: (string | number)[]): Promise<string[][]>;
  batonHistory(users: string, ended: string, ...args: (string | number)[]): Promise<string[][]>;
  batonHit(counter: string, ...args: (string | number)[]): Promise<[number, string]>;
  batonConsume(jti: string, ...args: (string | number)[]): Promise<number>;
}

const NUMBERS = ['createdAt', 'lastUsedAt', 'expiresAt', 'idleExpiresAt', 'generation', 'rotatedAt', 'prevRotatedAt', 'rateWindowStart', 'rateCount', 'graceCount', 'graceTotal'] as const;

/** A revocation's detail as the scripts take it: JSON, or '' for none. */
const detailJson = (detail: SessionEndDetail | null | undefined): string => (detail ? JSON.stringify(detail) : '');

function toHash(s: SessionRecord): string[] {
  const out: string[] = ['id', s.id, 'userId', s.userId, 'clientId', s.clientId, 'scope', s.scope, 'resource', s.resource, 'device', JSON.stringify(s.device)];
  if (s.jkt !== undefined) out.push('jkt', s.jkt); // only a bound session has the field
  for (const field of NUMBERS) out.push(field, String(s[field]));
  out.push('revokedAt', s.revokedAt === null ? '' : String(s.revokedAt), 'revokeReason', s.revokeReason ?? '', 'revokeDetail', detailJson(s.revokeDetail));
  return out;
}

function fromHash(flat: string[], offset = 0): SessionRecord {
  const h: Record<string, string> = {};
  for (let i = offset; i + 1 < flat.length; i += 2) h[flat[i] as string] = flat[i + 1] as string;
  const record = {
    id: h.id, userId: h.userId, clientId: h.clientId, scope: h.scope, resource: h.resource ?? '', device: JSON.parse(h.device ?? '{}'),
    revokedAt: h.revokedAt ? Number(h.revokedAt) : null, revokeReason: h.revokeReason || null,
    revokeDetail: h.revokeDetail ? (JSON.parse(h.revokeDetail) as SessionEndDetail) : null,
  } as SessionRecord;
  for (const field of NUMBERS) record[field] = Number(h[field] ?? 0); // graceCount and graceTotal are absent from sessions of older versions
  if (h.jkt) record.jkt = h.jkt; // absent (or '') from unbound sessions and those of older versions
  return record;
}

/**
 * Builds an ioredis client from a URL, with failures surfacing quickly instead of queueing forever.
 * A standalone client queues commands only until it is first connected: after that, while its
 * connection is known to be down (it is reconnecting), a command fails at once (503 in the
 * service) rather than waiting for the next reconnection attempt and the command timeout, up to
 * 5 s a request in an outage (#22). A cluster client keeps its queue: it needs it while it learns
 * the slots again.
 */
function connect(url: string): Client {
  const common = { maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 5000 };
  if (url.startsWith('redis+cluster://')) {
    const nodes = url.slice('redis+cluster://'.length).split(',').map((hostPort) => {
      const [host, port] = hostPort.split(':');
      return { host: host ?? '127.0.0.1', port: Number(port ?? 6379) };
    });
    return new Cluster(nodes, { redisOptions: common, clusterRetryStrategy: (times: number) => Math.min(times * 100, 2000) });
  }
  const client = new Redis(url, common);
  client.once('ready', () => (client.options.enableOfflineQueue = false)); // read by ioredis at each command
  return client;
}

class RedisStore implements BatonStore {
  readonly #client: Client & Scripted;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #log: string;
  readonly #retainMs: number;
  /** On a cluster the log is written apart from the revoking scripts (another slot). */
  readonly #cluster: boolean;
  #subscriber: Client | undefined;
  readonly #feed = new RevocationFeed();
  #poll: NodeJS.Timeout | undefined;

  constructor(options: RedisStoreOptions) {
    if (options.client === undefined && options.url === undefined) throw new BatonConfigError('redisStore needs `url` or `client`.');
    const client = options.client ?? connect(options.url as string);
    this.#owned = options.client === undefined;
    // A connection error reaches the caller of each command (as ERR_STORE_UNAVAILABLE in Baton);
    // without a listener ioredis would also print it on every reconnection attempt.
    if (this.#owned) client.on('error', () => undefined);
    this.#prefix = options.keyPrefix ?? 'baton:';
    this.#channel = `${this.#prefix}revocations`;
    this.#log = `${this.#prefix}{revocations}:log`;
    this.#retainMs = options.retainMs ?? ENDED_SESSION_RETENTION_MS;
    this.#cluster = client instanceof Cluster;
    const log = this.#cluster ? 0 : 1; // the revoking scripts take the log key last, standalone only
    client.defineCommand('batonCreate', { numberOfKeys: 3 + log, lua: CREATE_SESSION });
    client.defineCommand('batonRotate', { numberOfKeys: 1 + log, lua: ROTATE });
    client.defineCommand('batonRevoke', { numberOfKeys: 1 + log, lua: REVOKE_SESSION });
    client.defineCommand('batonRevokeUser', { numberOfKeys: 2 + log, lua: REVOKE_USER });
    client.defineCommand('batonAnnounce', { numberOfKeys: 1, lua: ANNOUNCE });
    client.defineCommand('batonLogEvents', { numberOfKeys: 1, lua: LOG_EVENTS });
    client.defineCommand('batonSweepLog', { numberOfKeys: 1, lua: SWEEP_LOG });
    client.defineCommand('batonList', { numberOfKeys: 1, lua: LIST_SESSIONS });
    client.defineCommand('batonHistory', { numberOfKeys: 2, lua: SESSION_HISTORY });
    client.defineCommand('batonHit', { numberOfKeys: 1, lua: HIT_COUNTER });
    client.defineCommand('batonConsume', { numberOfKeys: 1, lua: CONSUME_JTI });
    this.#client = client as Client & Scripted;
  }

  #sessionPrefix(tag: string): string {
    return `${this.#prefix}{${tag}}:s:`;
  }

  #sessionKey(id: string): string {
    return this.#sessionPrefix(tagOfSession(id)) + id;
  }

  #usersKey(userId: string): string {
    return `${this.#prefix}{${userTag(userId)}}:u:${userId}`;
  }

  /** The user's ended sessions, set apart from the index (`u:`) at each login and capped there. */
  #endedKey(userId: string): string {
    return `${this.#prefix}{${userTag(userId)}}:e:${userId}`;
  }

  #ttl(session: SessionRecord, now: number): number {
    return Math.min(session.expiresAt, session.idleExpiresAt) - now + this.#retainMs;
  }

  /** The keys of a revoking script: with the log key on a standalone Redis. */
  #keys(...keys: string[]): string[] {
    return this.#cluster ? keys : [...keys, this.#log];
  }

  /**
   * On a cluster only (standalone, the script logged them): appends revocations to the log that
   * reconnecting instances re-read, in a second round trip (the channel already carried them).
   */
  async #logRevocations(events: RevocationEvent[]): Promise<void> {
    if (!this.#cluster || events.length === 0) return;
    await this.#client.batonLogEvents(this.#log, ...events.flatMap((e) => [e.kind, e.id, e.at, e.expiresAt, e.reason, detailJson(e.detail)]));
  }

  #sessionEvents(ids: string[], r: Revocation): RevocationEvent[] {
    return ids.map((id) => ({ kind: 'session', id, at: r.now, expiresAt: r.now + r.revocationTtlMs, reason: r.reason, ...(r.detail ? { detail: r.detail } : {}) }));
  }

  async createSession(session: SessionRecord, options: Omit<Revocation, 'reason'> & { maxSessionsPerUser: number }): Promise<{ evicted: string[] }> {
    const eviction = { ...options, reason: 'evicted', detail: { by: session.id, byDevice: session.device } };
    const evicted = await this.#client.batonCreate(
      ...this.#keys(this.#sessionKey(session.id), this.#usersKey(session.userId), this.#endedKey(session.userId)),
      session.id, session.createdAt, this.#ttl(session, options.now), options.maxSessionsPerUser, options.now,
      options.now + options.revocationTtlMs, this.#channel, Math.max(this.#retainMs, options.revocationTtlMs),
      this.#sessionPrefix(tagOfSession(session.id)), session.expiresAt - options.now + this.#retainMs, detailJson(eviction.detail),
      ENDED_SESSIONS_PER_USER, ...toHash(session),
    );
    await this.#logRevocations(this.#sessionEvents(evicted, eviction));
    return { evicted };
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const flat = await this.#client.call('HGETALL', this.#sessionKey(id)) as string[];
    return flat.length === 0 ? null : fromHash(flat);
  }

  async sessionHistory(userId: string, _now: number, page: SessionHistoryPage = {}): Promise<SessionRecord[]> {
    const limit = Math.max(1, Math.min(page.limit ?? SESSION_HISTORY_PAGE, SESSION_HISTORY_PAGE));
    const rows = await this.#client.batonHistory(
      this.#usersKey(userId), this.#endedKey(userId), this.#sessionPrefix(userTag(userId)), limit, page.before?.createdAt ?? '', page.before?.id ?? '',
    );
    return rows.map((flat) => fromHash(flat));
  }

  async listSessions(userId: string, now: number): Promise<SessionRecord[]> {
    const rows = await this.#client.batonList(this.#usersKey(userId), now, this.#sessionPrefix(userTag(userId)));
    return rows.map((flat) => fromHash(flat));
  }

  async rotate(r: RotateRequest): Promise<RotateResult> {
    // A caller naming no client (plain JavaScript) is refused like another client's (RFC 6749 §6).
    if (typeof r.clientId !== 'string') return { status: 'unknown' };
    const [status, retryAfterMs, generation, expiresAt, idleExpiresAt, rotatedAt, revokedAt, userId, clientId, scope, revokeReason, revokeDetail, resource] = await this.#client.batonRotate(
      ...this.#keys(this.#sessionKey(r.sessionId)),
      r.generation, r.clientId, r.now, r.graceMs, r.now + r.idleTtlMs, r.rateLimit?.max ?? 0, r.rateLimit?.windowMs ?? 0,
      r.now + r.revocationTtlMs, this.#channel, Math.max(this.#retainMs, r.revocationTtlMs), this.#retainMs,
      r.graceLimit ?? -1, r.ip ?? '', `${this.#prefix}{${tagOfSession(r.sessionId)}}:`,
    );
    const result: RotateResult = { status };
    if (generation !== undefined) {
      result.session = {
        id: r.sessionId, userId: userId as string, clientId: clientId as string, scope: scope as string, resource: (resource as string | undefined) ?? '',
        generation: Number(generation), expiresAt: Number(expiresAt), idleExpiresAt: Number(idleExpiresAt),
        rotatedAt: Number(rotatedAt), revokedAt: revokedAt ? Number(revokedAt) : null,
        revokeReason: revokeReason || null, revokeDetail: revokeDetail ? (JSON.parse(revokeDetail) as SessionEndDetail) : null,
      };
    }
    if (status === 'rate_limited') result.retryAfterMs = Number(retryAfterMs);
    if (status === 'reused') {
      await this.#logRevocations(this.#sessionEvents([r.sessionId], { now: r.now, revocationTtlMs: r.revocationTtlMs, reason: 'reused', ...(result.session?.revokeDetail ? { detail: result.session.revokeDetail } : {}) }));
    }
    return result;
  }

  async revokeSession(id: string, options: Revocation): Promise<boolean> {
    const done = await this.#client.batonRevoke(
      ...this.#keys(this.#sessionKey(id)), options.now, options.reason, options.now + options.revocationTtlMs, this.#channel, Math.max(this.#retainMs, options.revocationTtlMs),
      detailJson(options.detail),
    );
    if (done === 1) await this.#logRevocations(this.#sessionEvents([id], options));
    return done === 1;
  }

  async revokeUserSessions(userId: string, options: Revocation & { except?: string }): Promise<string[]> {
    const ids = await this.#client.batonRevokeUser(
      ...this.#keys(this.#usersKey(userId), this.#endedKey(userId)), options.except ?? '', options.now, options.reason, options.now + options.revocationTtlMs,
      this.#channel, Math.max(this.#retainMs, options.revocationTtlMs), this.#sessionPrefix(userTag(userId)), detailJson(options.detail),
    );
    await this.#logRevocations(this.#sessionEvents(ids, options));
    return ids;
  }

  async consumeJti(jti: string, expiresAt: number, now: number): Promise<boolean> {
    // The expiry is kept and compared with the engine's `now` in the script; Redis's TTL only cleans
    // up, generously: twice the time left and a minute (its clock and the engine's may disagree).
    const ttl = 2 * Math.max(0, expiresAt - now) + JTI_CLEANUP_MARGIN_MS;
    return (await this.#client.batonConsume(`${this.#prefix}c:${jti}`, expiresAt, now, ttl)) === 1;
  }

  async denyJti(jti: string, expiresAt: number, now: number): Promise<void> {
    await this.announce({ kind: 'token', id: jti, at: now, expiresAt, reason: 'revoked' });
  }

  async announce(e: RevocationEvent): Promise<void> {
    await this.#client.batonAnnounce(this.#log, this.#channel, e.kind, e.id, e.at, e.expiresAt, e.reason, detailJson(e.detail));
  }

  async saveOpaqueToken(hash: string, record: OpaqueTokenRecord, now: number): Promise<void> {
    await this.#client.set(`${this.#prefix}o:${hash}`, JSON.stringify(record), 'PX', Math.max(1, record.expiresAt - now));
  }

  async findOpaqueToken(hash: string, now: number): Promise<OpaqueTokenRecord | null> {
    const raw = await this.#client.get(`${this.#prefix}o:${hash}`);
    if (raw === null) return null;
    const record = JSON.parse(raw) as OpaqueTokenRecord;
    return record.expiresAt > now ? record : null;
  }

  async deleteOpaqueToken(hash: string): Promise<void> {
    await this.#client.del(`${this.#prefix}o:${hash}`);
  }

  async revocationsSince(since: number): Promise<RevocationEvent[]> {
    const rows = await this.#client.zrangebyscore(this.#log, since, '+inf');
    return rows.map((row) => JSON.parse(row) as RevocationEvent).sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  }

  async revocationHead(): Promise<number> {
    return Number((await this.#client.get(`${this.#log}:seq`)) ?? 0);
  }

  async revocationsAfter(after: number, limit: number, now: number): Promise<RevocationEvent[]> {
    const out: RevocationEvent[] = [];
    for (let from = after; ;) {
      const rows = await this.#client.zrangebyscore(`${this.#log}:order`, `(${from}`, '+inf', 'LIMIT', 0, limit);
      for (const row of rows) {
        const event = JSON.parse(row) as RevocationEvent;
        from = event.seq as number;
        if (event.expiresAt > now && out.length < limit) out.push(event);
      }
      if (out.length > 0 || rows.length < limit) return out; // a page all expired: read on
    }
  }

  /**
   * Reads the log after the cursor, and delivers what this instance has not had: every event,
   * expired or not (`now` 0), as this process's clock may be ahead (a step) and the cursor moves
   * past what is skipped; the receiving cache decides how long each matters, on its own clocks.
   */
  async #reread(): Promise<void> {
    for (;;) {
      const events = await this.revocationsAfter(this.#feed.lastSeq, 1000, 0);
      for (const event of events) this.#feed.deliver(event);
      if (events.length < 1000) return;
    }
  }

  subscribed(): boolean {
    return this.#subscriber === undefined || this.#subscriber.status === 'ready';
  }

  async subscribe(listener: (event: RevocationEvent) => void): Promise<() => void> {
    if (this.#subscriber === undefined) {
      // The subscriber queues its SUBSCRIBE until it is connected (it is made just now).
      const sub = this.#client instanceof Cluster ? this.#client.duplicate() : (this.#client as Redis).duplicate({ enableOfflineQueue: true });
      this.#subscriber = sub;
      sub.on('error', () => {
        // Reconnection is ioredis's; on 'ready' below the missed revocations are re-read.
      });
      sub.on('message', (channel: string, message: string) => {
        if (channel !== this.#channel) return;
        try {
          this.#feed.deliver(JSON.parse(message) as RevocationEvent);
        } catch {
          // Not a Baton message: ignore.
        }
      });
      // After the subscriber is back, the log is read until a read succeeds: the other connection
      // may still be reconnecting (it queues nothing then), and what was published before the
      // subscription came back is only in the log. `epoch` keeps a read begun before from counting.
      let behind = false;
      let epoch = 0;
      const reread = (): void => {
        const mark = epoch;
        this.#reread().then(() => {
          if (mark === epoch) behind = false;
        }, () => undefined);
      };
      // The cursor to re-read after: the log's, now (what was logged before is loaded by `ready`).
      const seq = await this.#client.get(`${this.#log}:seq`);
      this.#feed.lastSeq = Math.max(this.#feed.lastSeq, Number(seq ?? 0));
      let first = true;
      sub.on('ready', () => {
        if (first) return void (first = false);
        epoch++;
        behind = true;
        reread(); // resubscribed after a loss: what may have been published meanwhile
      });
      await sub.subscribe(this.#channel);
      first = false;
      // While the subscriber reconnects (its backoff can outlast the server's restart), the other
      // connection may already work: read the log from it rather than wait.
      this.#poll = setInterval(() => {
        if (sub.status !== 'ready' || behind) reread();
      }, 250);
      this.#poll.unref();
    }
    return this.#feed.add(listener);
  }

  #recordsKey(kind: string): string {
    return `${this.#prefix}{records}:${kind}`;
  }

  async putRecord(kind: string, key: string, value: string, options?: { ifAbsent?: boolean }): Promise<boolean> {
    if (options?.ifAbsent) return (await this.#client.hsetnx(this.#recordsKey(kind), key, value)) === 1;
    await this.#client.hset(this.#recordsKey(kind), key, value);
    return true;
  }

  async getRecord(kind: string, key: string): Promise<string | null> {
    return this.#client.hget(this.#recordsKey(kind), key);
  }

  async deleteRecord(kind: string, key: string): Promise<boolean> {
    return (await this.#client.hdel(this.#recordsKey(kind), key)) === 1;
  }

  async listRecords(kind: string): Promise<{ key: string; value: string }[]> {
    const all = await this.#client.hgetall(this.#recordsKey(kind));
    return Object.keys(all).sort().map((key) => ({ key, value: all[key] as string }));
  }

  async hitCounter(key: string, points: number, windowMs: number, now: number, force = false): Promise<{ count: number; resetAt: number }> {
    const [count, resetAt] = await this.#client.batonHit(`${this.#prefix}n:${key}`, points, windowMs, now, force ? 1 : 0);
    return { count: Number(count), resetAt: Number(resetAt) };
  }

  async getCounter(key: string, now: number): Promise<{ count: number; resetAt: number } | null> {
    const [count, resetAt] = await this.#client.hmget(`${this.#prefix}n:${key}`, 'count', 'resetAt');
    return count === null || Number(resetAt) <= now ? null : { count: Number(count), resetAt: Number(resetAt) };
  }

  async deleteCounter(key: string): Promise<boolean> {
    return (await this.#client.del(`${this.#prefix}n:${key}`)) === 1;
  }

  /**
   * SCANs every master (of a cluster, or the one server) for the prefix, glob characters escaped,
   * then keeps the counters not reset at `now` (a key outlives its window by clock skew at most).
   */
  async counterKeys(prefix: string, now: number): Promise<string[]> {
    const stored = `${this.#prefix}n:`;
    const pattern = `${(stored + prefix).replace(/[\\*?[\]]/g, '\\$&')}*`;
    const nodes = this.#client instanceof Cluster ? this.#client.nodes('master') : [this.#client];
    const found = new Set<string>();
    await Promise.all(nodes.map(async (node) => {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        for (const key of keys) found.add(key);
        cursor = next;
      } while (cursor !== '0');
    }));
    const keys = [...found];
    const resets = await Promise.all(keys.map((key) => this.#client.hget(key, 'resetAt')));
    return keys.filter((_, i) => Number(resets[i]) > now).map((key) => key.slice(stored.length)).sort();
  }

  /**
   * `PING`, bounded by `PING_TIMEOUT_MS`: a cluster client whose nodes are all unreachable queues
   * commands until they come back rather than failing them.
   */
  /**
   * A sentence when Redis can lose what is kept in it: it keeps nothing across a restart
   * (`appendonly no` and no `save` points), or it evicts any key under memory pressure
   * (`maxmemory-policy allkeys-*`, or `volatile-*`, which evicts exactly the records with a TTL:
   * sessions, the revocation log, the one-time ledger). Everything is at stake, not only sessions: the records beside
   * them (the service's users, clients and sealed keys), the revocation log, the counters. Undefined
   * when neither, or when `CONFIG GET` is not allowed (managed Redis).
   */
  async persistenceWarning(): Promise<string | undefined> {
    try {
      const node = 'nodes' in this.#client ? (this.#client as Cluster).nodes('master')[0] : (this.#client as Redis);
      const [, aof] = (await node?.config('GET', 'appendonly')) as [string, string];
      const [, save] = (await node?.config('GET', 'save')) as [string, string];
      const [, policy] = (await node?.config('GET', 'maxmemory-policy')) as [string, string];
      const said: string[] = [];
      if (aof !== 'yes' && (save ?? '').trim() === '') {
        said.push('Redis runs without persistence (appendonly no, no save points): a restart loses everything kept there — users, clients, the sealed keys, sessions, revocations and login limits — and the service then answers 503 until the data is restored from a backup or the store is set up afresh (`baton store init`: every user and client added again). Set `appendonly yes` (and keep an RDB save point) in redis.conf.');
      }
      if ((policy ?? '').startsWith('allkeys-')) {
        said.push(`Redis evicts any key under memory pressure (maxmemory-policy ${policy}): users, clients, keys and sessions can vanish. Set \`maxmemory-policy noeviction\` in redis.conf.`);
      } else if ((policy ?? '').startsWith('volatile-')) {
        // Every security record here has a TTL, so these are the ones evicted, and the install record (none) stays: nothing notices.
        said.push(`Redis evicts keys that expire under memory pressure (maxmemory-policy ${policy}): sessions, the revocation log and one-time records can vanish unnoticed, so a revoked token or a replayed proof may be accepted again. Set \`maxmemory-policy noeviction\` in redis.conf.`);
      }
      return said.length === 0 ? undefined : said.join(' ');
    } catch {
      return undefined;
    }
  }

  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BatonError('ERR_STORE_UNAVAILABLE', `Redis did not answer PING within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
    });
    const answer = this.#client.ping();
    // After a timeout the PING may still fail (when the store closes): that must not go unhandled.
    answer.catch(() => undefined);
    try {
      await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async sweep(now: number): Promise<number> {
    // Every other key carries a TTL: sessions (their end + retainMs, or the revocation's
    // lifetime), user indexes, counters (their window), spent and denied jtis, opaque tokens. The
    // revocation log expires with its newest entry and is trimmed at each write and here.
    return Number(await this.#client.batonSweepLog(this.#log, now));
  }

  async close(): Promise<void> {
    this.#feed.clear();
    clearInterval(this.#poll);
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
    if (this.#owned) this.#client.disconnect();
  }
}

/** Creates a Redis (or Redis Cluster) store. */
export function redisStore(options: RedisStoreOptions): BatonStore {
  return new RedisStore(options);
}
