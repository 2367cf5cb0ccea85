/**
 * Browser storage for `createTokenClient`: tokens in memory (never localStorage), shared between
 * the tabs of one origin with a `BroadcastChannel`, and refreshes serialised across tabs with Web
 * Locks around read → refresh → write. The lock is a lease: its holder writes who it is and since
 * when; a tab that waited a whole lease steals it (`steal: true`) and warns, naming the holder, so
 * no tab ever deadlocks behind a frozen one (the server's grace window makes the rare duplicate
 * refresh harmless). Import from `baton-auth-client`.
 *
 * The DPoP key (RFC 9449) is an ECDSA P-256 `CryptoKeyPair` made with `extractable: false` and
 * kept in IndexedDB (database `baton-dpop`, store `keys`, one record per storage name, issuer and
 * client id): IndexedDB keeps a `CryptoKey` by structured clone, still non-extractable, so the
 * page can sign with it across reloads and no script can ever read it. It is created under a Web
 * Lock, so racing tabs make one key and every tab loads that one. A stored pair whose private key
 * is extractable (or may do more than sign) is not one the SDK made: a script planted it and may
 * hold its private key, so it is replaced by a new pair and a `dpop_key_replaced` warning says so
 * (a session bound to the planted key must sign in again). Where IndexedDB is unavailable
 * (some private windows), the key lives in this tab's memory and a `dpop_key_in_memory` warning
 * says so: the session is then bound to this tab, and a reload or another tab must sign in again.
 */
import { foreignKeyReason, generateDpopKeyPair } from './dpop.ts';
import { checkNumbers, configError } from './errors.ts';
import type { ClientWarning, StoredTokens, TokenStorage } from './types.ts';

/** Options of `browserStorage`. */
export interface BrowserStorageOptions {
  /** Channel and lock name; one per application. Default `baton`. */
  name?: string;
  /** Longest wait for another tab's refresh, in ms. Default 5 s. */
  leaseMs?: number;
}

type Message = { type: 'hello' } | { type: 'tokens'; tokens: StoredTokens } | { type: 'clear' };

interface LockManager {
  request<T>(name: string, options: { signal?: AbortSignal; steal?: boolean }, fn: () => Promise<T>): Promise<T>;
}

/** Who holds the refresh lease, as its holder wrote it. */
interface Lease {
  holder: string;
  since: number;
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
    if (found !== undefined) return foreignKeyReason(found) === undefined ? found as CryptoKeyPair : await replace(found);
    const pair = await generateDpopKeyPair();
    try {
      await done(store('readwrite').add(pair, id));
      return pair;
    } catch (err) {
      if ((err as Error).name !== 'ConstraintError') throw err;
      const theirs: unknown = await done(store('readonly').get(id)); // made meanwhile without a lock
      return foreignKeyReason(theirs) === undefined ? theirs as CryptoKeyPair : await replace(theirs);
    }
  } finally {
    db.close();
  }
}

/** Tokens shared by the tabs of this origin. */
export function browserStorage(options: BrowserStorageOptions = {}): TokenStorage & { close(): void } {
  if (typeof options !== 'object' || options === null) throw configError('browserStorage: `options` must be an object: `{ name, leaseMs }`.');
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) throw configError('browserStorage: `name` must be a non-empty string (one per application).');
  checkNumbers('browserStorage', options, ['leaseMs'], 1);
  const name = options.name ?? 'baton';
  const leaseMs = options.leaseMs ?? 5000;
  let tokens: StoredTokens | null = null;
  const listeners = new Set<(tokens: StoredTokens | null) => void>();
  const warnings = new Set<(warning: ClientWarning) => void>();
  // This tab, as other tabs will name it in a warning.
  const self = `tab ${Math.random().toString(36).slice(2, 8)} (${(globalThis as { location?: { pathname?: string } }).location?.pathname ?? 'page'}, opened ${new Date().toISOString().slice(11, 19)})`;
  const channel = new BroadcastChannel(`${name}:tokens`);
  const notify = () => listeners.forEach((l) => l(tokens));
  channel.onmessage = (event: MessageEvent<Message>) => {
    const m = event.data;
    if (m.type === 'hello' && tokens !== null) channel.postMessage({ type: 'tokens', tokens } satisfies Message);
    else if (m.type === 'tokens' && (tokens === null || m.tokens.receivedAt >= tokens.receivedAt)) {
      tokens = m.tokens;
      notify();
    } else if (m.type === 'clear' && tokens !== null) {
      tokens = null;
      notify();
    }
  };
  channel.postMessage({ type: 'hello' } satisfies Message); // a new tab asks the others for the tokens
  const locks = (globalThis.navigator as { locks?: LockManager } | undefined)?.locks;
  // When the last refresh finished, in a place every tab reads synchronously (a time, not a
  // token): a tab that gets the lock right after another tab's refresh waits the few ms its
  // BroadcastChannel message takes, instead of refreshing again.
  const marker = `${name}:refreshed-at`;
  const shared = (() => {
    try {
      return (globalThis as { localStorage?: { getItem(k: string): string | null; setItem(k: string, v: string): void } }).localStorage;
    } catch {
      return undefined;
    }
  })();
  const leaseKey = `${name}:lease`;
  const readLease = (): Lease | undefined => {
    try {
      return JSON.parse(shared?.getItem(leaseKey) ?? 'null') as Lease | undefined ?? undefined;
    } catch {
      return undefined;
    }
  };
  const keys = new Map<string, Promise<CryptoKeyPair>>();
  const loadKey = async (scope: string): Promise<CryptoKeyPair> => {
    const id = `${name}\n${scope}`;
    try {
      // A lock of its own, not the refresh lock: a refresh asks for the key while holding that one.
      const replaced = (reason: string) => {
        const warning: ClientWarning = {
          kind: 'dpop_key_replaced', reason,
          message: `The DPoP key stored for this page was not one the SDK makes (${reason}): a script may hold it, so it was replaced by a new non-extractable key. A session bound to the old key must sign in again.`,
        };
        warnings.forEach((w) => w(warning));
      };
      return await (locks === undefined ? storedKey(id, replaced) : locks.request(`${name}:dpop-key`, {}, () => storedKey(id, replaced)));
    } catch (err) {
      const reason = (err as Error).message;
      const warning: ClientWarning = {
        kind: 'dpop_key_in_memory', reason,
        message: `The DPoP key cannot be kept in IndexedDB (${reason}); it lives in this tab's memory, so a reload or another tab must sign in again.`,
      };
      warnings.forEach((w) => w(warning));
      return generateDpopKeyPair();
    }
  };
  const settle = async (): Promise<void> => {
    const last = Number(shared?.getItem(marker) ?? 0);
    const end = Date.now() + 250;
    while ((tokens?.receivedAt ?? 0) < last && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  };
  return {
    id: `browser:${name}`,
    get: async () => tokens,
    async set(t) {
      tokens = t;
      shared?.setItem(marker, String(t.receivedAt));
      channel.postMessage({ type: 'tokens', tokens: t } satisfies Message);
    },
    async clear() {
      tokens = null;
      channel.postMessage({ type: 'clear' } satisfies Message);
    },
    async withLock(fn) {
      const run = async () => {
        shared?.setItem(leaseKey, JSON.stringify({ holder: self, since: Date.now() } satisfies Lease));
        await settle();
        return fn();
      };
      if (locks === undefined) return run();
      try {
        return await locks.request(`${name}:refresh`, { signal: AbortSignal.timeout(leaseMs) }, run);
      } catch (err) {
        if ((err as Error).name !== 'TimeoutError' && (err as Error).name !== 'AbortError') throw err;
      }
      // The holder kept the lease too long (a frozen tab, a hung request): take it over, and say from whom.
      const lease = readLease();
      const warning: ClientWarning = {
        kind: 'lease_stolen', holder: lease?.holder ?? 'another tab', heldForMs: lease ? Date.now() - lease.since : leaseMs,
        message: `The refresh lock was held by ${lease?.holder ?? 'another tab'} for more than ${leaseMs} ms; this tab took it over.`,
      };
      warnings.forEach((w) => w(warning));
      return locks.request(`${name}:refresh`, { steal: true }, run);
    },
    dpopKey(scope) {
      let key = keys.get(scope);
      if (key === undefined) keys.set(scope, (key = loadKey(scope)));
      return key;
    },
    onWarning(listener) {
      warnings.add(listener);
      return () => warnings.delete(listener);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => channel.close(),
  };
}
