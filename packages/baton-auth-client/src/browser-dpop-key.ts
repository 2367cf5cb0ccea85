/**
 * The DPoP key of `browserStorage` (RFC 9449): an ECDSA P-256 `CryptoKeyPair` made with `extractable: false` and kept in
 * IndexedDB (database `baton-dpop`, store `keys`, one record per storage name, issuer and client id), made under a Web
 * Lock so that racing tabs make one key; a planted pair is replaced, and where IndexedDB is unavailable the key lives in
 * the tab's memory (see `browser.ts` for the whole story). Internal: import `browserStorage` from `baton-auth-client`.
 */
import { foreignKeyReason, generateDpopKeyPair } from './dpop.ts';
import type { ClientWarning } from './types.ts';

/** The Web Locks API, as much of it as the storage uses. */
export interface LockManager {
  request<T>(name: string, options: { signal?: AbortSignal; steal?: boolean }, fn: () => Promise<T>): Promise<T>;
}

/** What loading a storage's key needs: its name, the Web Locks (where there are), and its warning listeners. */
export interface KeyParts {
  name: string;
  locks: LockManager | undefined;
  warn: (warning: ClientWarning) => void;
}

/** The IndexedDB database and object store of DPoP keys. */
export const DPOP_KEY_DB = 'baton-dpop';
export const DPOP_KEY_STORE = 'keys';

/** A request's result as a promise. */
function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

/** Opens the key database, creating its store on first use. */
function openKeyDb(): Promise<IDBDatabase> {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (idb === undefined) return Promise.reject(new Error('IndexedDB is not available'));
  const request = idb.open(DPOP_KEY_DB, 1);
  request.onupgradeneeded = () => {
    if (!request.result.objectStoreNames.contains(DPOP_KEY_STORE)) request.result.createObjectStore(DPOP_KEY_STORE);
  };
  return done(request);
}

/**
 * The key pair stored under `id`, or a new non-extractable one stored there — `add`, so a key
 * another tab stored meanwhile is never replaced. A stored record that is not a pair this SDK makes
 * (non-extractable, signing only: `foreignKeyReason`) was planted by a script on the origin that may
 * hold its private key: it is overwritten with a new pair, and `replaced` says why. The caller holds
 * the key's Web Lock where there is one.
 */
async function storedKey(id: string, replaced: (reason: string) => void): Promise<CryptoKeyPair> {
  const db = await openKeyDb();
  const store = (mode: IDBTransactionMode) => db.transaction(DPOP_KEY_STORE, mode).objectStore(DPOP_KEY_STORE);
  const replace = async (found: unknown): Promise<CryptoKeyPair> => {
    const pair = await generateDpopKeyPair();
    await done(store('readwrite').put(pair, id));
    replaced(foreignKeyReason(found) as string);
    return pair;
  };
  try {
    const found: unknown = await done(store('readonly').get(id));
    if (found !== undefined) return foreignKeyReason(found) === undefined ? (found as CryptoKeyPair) : await replace(found);
    const pair = await generateDpopKeyPair();
    try {
      await done(store('readwrite').add(pair, id));
      return pair;
    } catch (err) {
      if ((err as Error).name !== 'ConstraintError') throw err;
      const theirs: unknown = await done(store('readonly').get(id)); // made meanwhile without a lock
      return foreignKeyReason(theirs) === undefined ? (theirs as CryptoKeyPair) : await replace(theirs);
    }
  } finally {
    db.close();
  }
}

/**
 * The DPoP key of `scope` (see the file's comment): from IndexedDB under a Web Lock of its own —
 * not the refresh lock, which a refresh holds while it asks for the key — or, where IndexedDB is
 * unavailable, a new key in this tab's memory, with a warning.
 */
export async function loadKey(p: KeyParts, scope: string): Promise<CryptoKeyPair> {
  const id = `${p.name}\n${scope}`;
  const replaced = (reason: string) =>
    p.warn({
      kind: 'dpop_key_replaced',
      reason,
      message: `The DPoP key stored for this page was not one the SDK makes (${reason}): a script may hold it, so it was replaced by a new non-extractable key. A session bound to the old key must sign in again.`,
    });
  try {
    return await (p.locks === undefined ? storedKey(id, replaced) : p.locks.request(`${p.name}:dpop-key`, {}, () => storedKey(id, replaced)));
  } catch (err) {
    const reason = (err as Error).message;
    p.warn({
      kind: 'dpop_key_in_memory',
      reason,
      message: `The DPoP key cannot be kept in IndexedDB (${reason}); it lives in this tab's memory, so a reload or another tab must sign in again.`,
    });
    return generateDpopKeyPair();
  }
}
