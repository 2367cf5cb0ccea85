/**
 * Consents to third-party clients (`ConsentStore`), kept in the service's store: a user's consents
 * are one kind of record, so a user's listing reads only theirs, in every store (memory: a map per
 * kind; SQLite and PostgreSQL: the (kind, key) primary key; Redis: one hash per kind).
 */
import type { BatonStore } from 'baton-auth';
import type { ConsentStore, Granted } from 'baton-auth/http';

/** A user's consents are one kind of record each (`consents:<user id>`), so listing a user's reads only theirs in every store. */
export const consentKind = (userId: string): string => `consents:${userId}`;

/** Consents kept per user: past it, the oldest is forgotten (the user is asked again, never granted more). */
const MAX_PER_USER = 100;

/** The `ConsentStore` of the service, on its store's records. */
export function storeConsents(store: BatonStore): ConsentStore {
  const read = (value: string): Granted => {
    const v = JSON.parse(value) as Granted;
    return { scope: v.scope, ...(Array.isArray(v.resource) ? { resource: v.resource } : {}), at: v.at };
  };
  const list = async (userId: string) =>
    (await store.listRecords(consentKind(userId))).map((r) => ({ clientId: r.key, ...read(r.value) })).sort((a, b) => b.at - a.at);
  return {
    async get(userId, clientId) {
      const raw = await store.getRecord(consentKind(userId), clientId);
      return raw === null ? null : read(raw);
    },
    async put(userId, clientId, scope, at, resource) {
      await store.putRecord(consentKind(userId), clientId, JSON.stringify({ scope, ...(resource === undefined ? {} : { resource }), at }));
      const mine = await list(userId);
      for (const old of mine.slice(MAX_PER_USER)) await store.deleteRecord(consentKind(userId), old.clientId);
    },
    list,
    delete: (userId, clientId) => store.deleteRecord(consentKind(userId), clientId),
  };
}

/** Forgets every consent of a user (the user is removed). */
export async function forgetConsents(store: BatonStore, userId: string): Promise<void> {
  for (const r of await store.listRecords(consentKind(userId))) await store.deleteRecord(consentKind(userId), r.key);
}
