/**
 * Where a user's consents to third-party clients are remembered: per user and client, the scopes
 * the user allowed (a request for a scope outside them asks again). `memoryConsents()` keeps them in
 * this process; the standalone service keeps them in its store. Import from `baton-auth/http`.
 */
import { LRUCache } from 'lru-cache';
import { BatonConfigError } from '../core/errors.ts';

/** A remembered consent. `at`: when it was given, ms since the epoch. */
export interface Consent {
  clientId: string;
  scope: string[];
  at: number;
}

/** The consent store contract: `put` replaces the user's consent to that client. */
export interface ConsentStore {
  get(userId: string, clientId: string): Promise<{ scope: string[]; at: number } | null>;
  put(userId: string, clientId: string, scope: string[], at: number): Promise<void>;
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
  const users = new LRUCache<string, Map<string, { scope: string[]; at: number }>>({ max: maxUsers });
  return {
    async get(userId, clientId) {
      const found = users.get(userId)?.get(clientId);
      return found === undefined ? null : { scope: [...found.scope], at: found.at };
    },
    async put(userId, clientId, scope, at) {
      const mine = users.get(userId) ?? new Map<string, { scope: string[]; at: number }>();
      mine.delete(clientId);
      mine.set(clientId, { scope: [...scope], at });
      // A Map keeps insertion order: the first key is the oldest consent.
      while (mine.size > perUser) mine.delete(mine.keys().next().value as string);
      users.set(userId, mine);
    },
    async list(userId) {
      const mine = users.get(userId);
      return mine === undefined ? [] : [...mine].map(([clientId, v]) => ({ clientId, scope: [...v.scope], at: v.at })).reverse();
    },
    async delete(userId, clientId) {
      return users.get(userId)?.delete(clientId) ?? false;
    },
  };
}
