/**
 * A user's passkeys in a store (`baton-auth/passkeys`): each passkey's own record (its key, written
 * once when it is registered and deleted once) and the part that changes (name, counter, last use).
 */
import type { AuthenticatorTransport } from '@simplewebauthn/server';
import { BatonError } from '../core/errors.ts';
import type { RecordStore } from '../stores/types.ts';
import type { PasskeyInfo } from './types.ts';

/** A passkey as the store keeps it (JSON in a record of kind `passkeys:<user id>`, keyed by its credential id). */
export interface Stored {
  id: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports: AuthenticatorTransport[];
  name: string;
  createdAt: number;
  lastUsedAt?: number;
  backedUp: boolean;
}

/** A user's passkeys are one kind of record, so a user's list reads only theirs in every store. */
export const passkeyKind = (userId: string): string => `passkeys:${userId}`;

/**
 * What changes in a passkey after it is kept (its name, counter, last use, backup flag): records of
 * their own kind, keyed by the credential id. A passkey's own record (its key) is written once, when
 * it is registered, and deleted once: a sign-in or a rename that read it just before it was deleted
 * writes only here, so it cannot bring a deleted passkey back (a record here without its passkey is
 * ignored, and replaced by a registration of the same id).
 */
export const passkeyUseKind = (userId: string): string => `passkey-use:${userId}`;

/** The mutable part of a passkey (`passkeyUseKind`). */
export type Use = Pick<Stored, 'name' | 'counter' | 'lastUsedAt' | 'backedUp'>;
export const useOf = (s: Stored): Use => ({
  name: s.name,
  counter: s.counter,
  ...(s.lastUsedAt === undefined ? {} : { lastUsedAt: s.lastUsedAt }),
  backedUp: s.backedUp,
});
export const withUse = (s: Stored, use: string | null | undefined): Stored => (use == null ? s : { ...s, ...(JSON.parse(use) as Use) });
/** The transports a browser reports (WebAuthn L3 §5.8.4): any other string is dropped, not kept. */
export const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

/** A credential id as base64url: at most 1023 bytes (WebAuthn L3 §5.1, "Credential ID"). */
export const CREDENTIAL_ID = /^[A-Za-z0-9_-]{16,1364}$/;
/** A user id as Baton's stores take one. */
export const USER_ID = /^[\x21-\x7e]{1,128}$/;
export const NAME = /^[^\p{Cc}]{1,64}$/u;

export const info = (s: Stored): PasskeyInfo => ({
  id: s.id,
  name: s.name,
  createdAt: s.createdAt,
  lastUsedAt: s.lastUsedAt,
  backedUp: s.backedUp,
  transports: s.transports,
});

export const NAME_RULE = 'A passkey’s name is 1 to 64 characters, no control characters.';

/**
 * A user's passkeys in a store, without the engine (what `baton users passkeys` uses): list,
 * rename, remove. Writes no audit event; the caller records its own.
 */
export const passkeyRecords = {
  /** The user's passkeys, oldest first. */
  async list(store: RecordStore, userId: string): Promise<PasskeyInfo[]> {
    return (await storedOf(store, userId)).map(info);
  },
  /** Renames one; `ERR_NOT_FOUND` when the user has no such passkey. */
  async rename(store: RecordStore, userId: string, id: string, name: string): Promise<PasskeyInfo> {
    if (typeof name !== 'string' || !NAME.test(name)) throw new BatonError('ERR_INVALID_ARGUMENT', NAME_RULE);
    const stored = typeof id === 'string' && CREDENTIAL_ID.test(id) ? await storedOne(store, userId, id) : null;
    if (stored === null) throw new BatonError('ERR_NOT_FOUND', 'There is no such passkey.', { public: true });
    const updated: Stored = { ...stored, name };
    // Only the mutable part: a rename racing a deletion leaves the passkey deleted.
    await store.putRecord(passkeyUseKind(userId), id, JSON.stringify(useOf(updated)));
    return info(updated);
  },
  /** Deletes one; false when the user had no such passkey. */
  async remove(store: RecordStore, userId: string, id: string): Promise<boolean> {
    if (typeof id !== 'string' || !CREDENTIAL_ID.test(id)) return false;
    const gone = await store.deleteRecord(passkeyKind(userId), id);
    await store.deleteRecord(passkeyUseKind(userId), id);
    return gone;
  },
};

/** One passkey of the user, its mutable part applied, or null. */
export async function storedOne(store: RecordStore, userId: string, id: string): Promise<Stored | null> {
  const [raw, use] = await Promise.all([store.getRecord(passkeyKind(userId), id), store.getRecord(passkeyUseKind(userId), id)]);
  return raw === null ? null : withUse(JSON.parse(raw) as Stored, use);
}

export async function storedOf(store: RecordStore, userId: string): Promise<Stored[]> {
  const [keys, uses] = await Promise.all([store.listRecords(passkeyKind(userId)), store.listRecords(passkeyUseKind(userId))]);
  const use = new Map(uses.map((r) => [r.key, r.value]));
  return keys.map((r) => withUse(JSON.parse(r.value) as Stored, use.get(r.key))).sort((a, b) => a.createdAt - b.createdAt);
}
