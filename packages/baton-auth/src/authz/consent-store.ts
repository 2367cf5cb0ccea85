/**
 * Where a user's consents to third-party clients are remembered: per user and client, the scopes
 * the user allowed (a request for a scope outside them asks again). `memoryConsents()` keeps them in
 * this process; the standalone service keeps them in its store. Import from `baton-auth/http`.
 */
import { LRUCache } from 'lru-cache';
import { BatonConfigError } from '../core/errors.ts';
import { outside } from '../core/scope.ts';

/** A remembered consent. `at`: when it was given, ms since the epoch; `resource`: the APIs (RFC 8707) allowed, when any. */
export interface Consent {
  clientId: string;
  scope: string[];
  resource?: string[];
  at: number;
}

/** What a user allowed a client: scopes, and the APIs its tokens may be for. */
export type Granted = Omit<Consent, 'clientId'>;

/** Whether a remembered consent covers these scopes and these APIs (RFC 8707): a wider ask, in either, asks again. */
export const covers = (given: Granted, scope: readonly string[], resource: readonly string[]): boolean =>
  outside(scope, given.scope).length === 0 && outside(resource, given.resource ?? []).length === 0;

/** The consent store contract: `put` replaces the user's consent to that client. */
export interface ConsentStore {
  get(userId: string, clientId: string): Promise<Granted | null>;
  /** `resource`: the APIs allowed (RFC 8707); a store written before it existed may ignore it, and then asks again for each API. */
  put(userId: string, clientId: string, scope: string[], at: number, resource?: string[]): Promise<void>;
  /** The user's consents, newest first. */
  list(userId: string): Promise<Consent[]>;
  /** Whether there was one. */
  delete(userId: string, clientId: string): Promise<boolean>;
}

/** Options of `memoryConsents`. */
export interface MemoryConsentsOptions {
  /** Consents kept per user: past it, the oldest is forgotten (asked again). Default 100. */
  maxPerUser?: number;
  /** Users kept: past it, the least recently seen user's consents are forgotten. Default 10 000. */
  maxUsers?: number;
}

/**
 * Consents in this process's memory, bounded per user and in users: forgetting one only means the
 * user is asked again, never that access is granted.
 */
export function memoryConsents(options: MemoryConsentsOptions = {}): ConsentStore {
  const perUser = options.maxPerUser ?? 100;
  const maxUsers = options.maxUsers ?? 10_000;
  for (const [name, n] of [
    ['maxPerUser', perUser],
    ['maxUsers', maxUsers],
  ] as const)
    if (!Number.isInteger(n) || n < 1) throw new BatonConfigError(`memoryConsents: ${name} must be a whole number above 0, got ${n}.`);
  const users = new LRUCache<string, Map<string, Granted>>({ max: maxUsers });
  const copy = (g: Granted): Granted => ({ scope: [...g.scope], ...(g.resource === undefined ? {} : { resource: [...g.resource] }), at: g.at });
  return {
    async get(userId, clientId) {
      const found = users.get(userId)?.get(clientId);
      return found === undefined ? null : copy(found);
    },
    async put(userId, clientId, scope, at, resource) {
      const mine = users.get(userId) ?? new Map<string, Granted>();
      mine.delete(clientId);
      mine.set(clientId, copy({ scope, ...(resource === undefined ? {} : { resource }), at }));
      // A Map keeps insertion order: the first key is the oldest consent.
      while (mine.size > perUser) mine.delete(mine.keys().next().value as string);
      users.set(userId, mine);
    },
    async list(userId) {
      const mine = users.get(userId);
      return mine === undefined ? [] : [...mine].map(([clientId, v]) => ({ clientId, ...copy(v) })).reverse();
    },
    async delete(userId, clientId) {
      return users.get(userId)?.delete(clientId) ?? false;
    },
  };
}
