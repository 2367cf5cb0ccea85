/**
 * The in-memory store: one process, nothing kept across restarts. Import from
 * `baton-auth/stores/memory`. Several Baton instances in one process may share one store (their
 * revocations reach each other through `subscribe`), which is what the tests of many instances use.
 *
 * Every operation runs to completion without awaiting in between, so each is atomic. Sessions and revocations are here;
 * the plain maps (one-time jtis, opaque tokens, records, counters) are `MemoryRecords`, in `memory-records.ts`.
 *
 * @example
 * ```ts
 * import { memoryStore } from 'baton-auth/stores/memory';
 * const store = memoryStore();
 * ```
 */
import { decideRotation, endOf, isActive } from '../core/rotation.ts';
import { ENDED_SESSION_RETENTION_MS, ENDED_SESSIONS_PER_USER, SESSION_HISTORY_PAGE } from '../core/store.ts';
import type { SessionHistoryPage } from '../core/store.ts';
import { copy, MemoryRecords } from './memory-records.ts';
import type { RevocationEvent, RotateRequest, RotateResult, SessionRecord, BatonStore, Revocation } from './types.ts';

/** Sessions are flat but for `device` and `revokeDetail`: spreads copy them at a fraction of structuredClone's cost. */
const copySession = <T extends Partial<SessionRecord>>(s: T): T => {
  const out = { ...s };
  if (s.device !== undefined) out.device = { ...s.device };
  if (s.revokeDetail) out.revokeDetail = copy(s.revokeDetail);
  return out;
};

class MemoryStore extends MemoryRecords implements BatonStore {
  readonly #sessions = new Map<string, SessionRecord>();
  /** Per user: the sessions not known to have ended (the active ones, and those that ended since the last login). */
  readonly #byUser = new Map<string, Set<string>>();
  /** Per user: the ended sessions kept, at most `ENDED_SESSIONS_PER_USER` after each login. */
  readonly #ended = new Map<string, Set<string>>();
  #revocations: RevocationEvent[] = [];
  readonly #listeners = new Set<(event: RevocationEvent) => void>();
  /** The log's cursor: from the time in µs, so that a new process never goes below an old one's cursors. */
  #seq = Date.now() * 1000;

  #publish(event: RevocationEvent): void {
    event.seq = ++this.#seq;
    this.#revocations.push(event);
    for (const listener of this.#listeners) listener({ ...event });
  }

  #revoke(session: SessionRecord, r: Revocation): void {
    session.revokedAt = r.now;
    session.revokeReason = r.reason;
    session.revokeDetail = r.detail === undefined ? null : copy(r.detail);
    this.#published(session, r.revocationTtlMs);
  }

  /** Publishes the revocation of `session`, as it is recorded. */
  #published(session: SessionRecord, revocationTtlMs: number): void {
    const at = session.revokedAt as number;
    const event: RevocationEvent = { kind: 'session', id: session.id, at, expiresAt: at + revocationTtlMs, reason: session.revokeReason as string };
    if (session.revokeDetail !== null) event.detail = copy(session.revokeDetail);
    this.#publish(event);
  }

  /** The user's index in `map`, made when missing. */
  static #index(map: Map<string, Set<string>>, userId: string): Set<string> {
    let ids = map.get(userId);
    if (ids === undefined) map.set(userId, (ids = new Set()));
    return ids;
  }

  async createSession(session: SessionRecord, options: Omit<Revocation, 'reason'> & { maxSessionsPerUser: number }): Promise<{ evicted: string[] }> {
    this.#sessions.set(session.id, copySession(session));
    const ids = MemoryStore.#index(this.#byUser, session.userId);
    const ended = MemoryStore.#index(this.#ended, session.userId);
    ids.add(session.id);
    // What ended since the last login is set apart, so that logins and the device list walk active sessions only.
    const active: SessionRecord[] = [];
    for (const id of ids) {
      const s = this.#sessions.get(id) as SessionRecord;
      if (isActive(s, options.now)) active.push(s);
      else if (ids.delete(id)) ended.add(id);
    }
    const evicted: string[] = [];
    if (options.maxSessionsPerUser > 0) {
      active.sort((a, b) => a.createdAt - b.createdAt || (a.id === session.id ? 1 : b.id === session.id ? -1 : 0));
      for (const old of active.slice(0, Math.max(0, active.length - options.maxSessionsPerUser))) {
        this.#revoke(old, { ...options, reason: 'evicted', detail: { by: session.id, byDevice: { ...session.device } } });
        ids.delete(old.id);
        ended.add(old.id);
        evicted.push(old.id);
      }
    }
    // The most recently ended are kept; older ones go (ENDED_SESSIONS_PER_USER).
    if (ended.size > ENDED_SESSIONS_PER_USER) {
      const byEnd = [...ended].map((id) => this.#sessions.get(id) as SessionRecord).sort((a, b) => endOf(b) - endOf(a) || (a.id < b.id ? 1 : -1));
      for (const old of byEnd.slice(ENDED_SESSIONS_PER_USER)) {
        ended.delete(old.id);
        this.#sessions.delete(old.id);
      }
    }
    return { evicted };
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const session = this.#sessions.get(id);
    return session === undefined ? null : copySession(session);
  }

  async sessionHistory(userId: string, _now: number, page: SessionHistoryPage = {}): Promise<SessionRecord[]> {
    const limit = Math.max(1, Math.min(page.limit ?? SESSION_HISTORY_PAGE, SESSION_HISTORY_PAGE));
    const before = page.before;
    return [...(this.#byUser.get(userId) ?? []), ...(this.#ended.get(userId) ?? [])]
      .map((id) => this.#sessions.get(id) as SessionRecord)
      .filter((s) => before === undefined || s.createdAt < before.createdAt || (s.createdAt === before.createdAt && s.id < before.id))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1))
      .slice(0, limit)
      .map(copySession);
  }

  async listSessions(userId: string, now: number): Promise<SessionRecord[]> {
    const ids = this.#byUser.get(userId) ?? new Set<string>();
    return [...ids]
      .map((id) => this.#sessions.get(id) as SessionRecord)
      .filter((s) => isActive(s, now))
      .sort((a, b) => a.createdAt - b.createdAt)
      .map(copySession);
  }

  async rotate(request: RotateRequest): Promise<RotateResult> {
    const decision = decideRotation(this.#sessions.get(request.sessionId) ?? null, request);
    if (decision.write !== undefined) this.#sessions.set(request.sessionId, copySession(decision.write));
    if (decision.status === 'rotated') {
      // A login on a clock ahead may have set it apart as ended; rotated, it is active again: back in the index.
      const userId = (decision.write as SessionRecord).userId;
      if (this.#ended.get(userId)?.delete(request.sessionId)) MemoryStore.#index(this.#byUser, userId).add(request.sessionId);
    }
    if (decision.status === 'reused') this.#published(decision.write as SessionRecord, request.revocationTtlMs);
    const result: RotateResult = { status: decision.status };
    if (decision.session !== undefined) result.session = copySession(decision.session);
    if (decision.retryAfterMs !== undefined) result.retryAfterMs = decision.retryAfterMs;
    return result;
  }

  async revokeSession(id: string, options: Revocation): Promise<boolean> {
    const session = this.#sessions.get(id);
    if (session === undefined || session.revokedAt !== null) return false;
    this.#revoke(session, options);
    return true;
  }

  async revokeUserSessions(userId: string, options: Revocation & { except?: string }): Promise<string[]> {
    const revoked: string[] = [];
    // Sessions past their idle or absolute end are revoked too (their last access tokens may live on): both indexes, each bounded.
    for (const id of [...(this.#byUser.get(userId) ?? []), ...(this.#ended.get(userId) ?? [])]) {
      const session = this.#sessions.get(id) as SessionRecord;
      if (id === options.except || session.revokedAt !== null) continue;
      this.#revoke(session, options);
      revoked.push(id);
    }
    return revoked;
  }

  async denyJti(jti: string, expiresAt: number, now: number): Promise<void> {
    this.#publish({ kind: 'token', id: jti, at: now, expiresAt, reason: 'revoked' });
  }

  async announce(event: RevocationEvent): Promise<void> {
    this.#publish({ ...event });
  }

  async revocationsSince(since: number): Promise<RevocationEvent[]> {
    return this.#revocations.filter((e) => e.expiresAt >= since).map((e) => ({ ...e }));
  }

  async revocationHead(): Promise<number> {
    return this.#seq;
  }

  async revocationsAfter(after: number, limit: number, now: number): Promise<RevocationEvent[]> {
    const out: RevocationEvent[] = [];
    // The log is in seq order: find the first after the cursor by bisection, then read on.
    let lo = 0;
    let hi = this.#revocations.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (((this.#revocations[mid] as RevocationEvent).seq as number) <= after) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.#revocations.length && out.length < limit; i++) {
      const e = this.#revocations[i] as RevocationEvent;
      if (e.expiresAt > now) out.push({ ...e });
    }
    return out;
  }

  async subscribe(listener: (event: RevocationEvent) => void): Promise<() => void> {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async sweep(now: number): Promise<number> {
    let removed = 0;
    for (const [id, session] of this.#sessions) {
      if (now >= endOf(session) + ENDED_SESSION_RETENTION_MS) {
        this.#sessions.delete(id);
        for (const map of [this.#byUser, this.#ended]) {
          const ids = map.get(session.userId);
          ids?.delete(id);
          if (ids?.size === 0) map.delete(session.userId); // no index left behind for users gone
        }
        removed++;
      }
    }
    removed += this.sweepRecords(now);
    const before = this.#revocations.length;
    this.#revocations = this.#revocations.filter((e) => e.expiresAt > now);
    return removed + before - this.#revocations.length;
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}

/** Creates an in-memory store. */
export function memoryStore(): BatonStore {
  return new MemoryStore();
}
