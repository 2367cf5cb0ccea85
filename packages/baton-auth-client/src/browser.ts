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
 * The key's keeping is `browser-dpop-key.ts`; this file, the tokens shared between tabs and the refresh lease.
 */
import { loadKey } from './browser-dpop-key.ts';
import type { KeyParts, LockManager } from './browser-dpop-key.ts';
import { checkNumbers, configError } from './errors.ts';
import type { ClientWarning, StoredTokens, TokenStorage } from './types.ts';

export { DPOP_KEY_DB, DPOP_KEY_STORE } from './browser-dpop-key.ts';

/** Options of `browserStorage`. */
export interface BrowserStorageOptions {
  /** Channel and lock name; one per application. Default `baton`. */
  name?: string;
  /** Longest wait for another tab's refresh, in ms. Default 5 s. */
  leaseMs?: number;
}

type Message = { type: 'hello' } | { type: 'tokens'; tokens: StoredTokens } | { type: 'clear' };

/** Who holds the refresh lease, as its holder wrote it. */
interface Lease {
  holder: string;
  since: number;
}

/** `localStorage`, where the page may use it: every tab reads it synchronously. */
type Shared = { getItem(k: string): string | null; setItem(k: string, v: string): void } | undefined;

function localStorageOf(): Shared {
  try {
    return (globalThis as { localStorage?: Shared }).localStorage;
  } catch {
    return undefined; // a sandboxed frame, storage blocked
  }
}

/** Who holds the refresh lease, as its holder wrote it under `key`. */
function readLease(shared: Shared, key: string): Lease | undefined {
  try {
    return (JSON.parse(shared?.getItem(key) ?? 'null') as Lease | undefined) ?? undefined;
  } catch {
    return undefined;
  }
}

/** What one storage's locks and keys need: its name, the Web Locks, localStorage, this tab's name, and its warning listeners. */
interface Parts extends KeyParts {
  leaseMs: number;
  shared: Shared;
  /** This tab, as other tabs will name it in a warning. */
  self: string;
}

/**
 * Runs `fn` under the tabs' refresh lock, held as a lease: its holder writes who it is and since
 * when, and a tab that waited `leaseMs` steals it and warns, naming the holder. `settle` runs first,
 * under the lock (it waits for the tokens of a refresh another tab just made).
 */
async function leased<T>(p: Parts, settle: () => Promise<void>, fn: () => Promise<T>): Promise<T> {
  const leaseKey = `${p.name}:lease`;
  let granted = false;
  const run = async () => {
    granted = true;
    p.shared?.setItem(leaseKey, JSON.stringify({ holder: p.self, since: Date.now() } satisfies Lease));
    await settle();
    return fn();
  };
  if (p.locks === undefined) return run();
  try {
    return await p.locks.request(`${p.name}:refresh`, { signal: AbortSignal.timeout(p.leaseMs) }, run);
  } catch (err) {
    // Only a wait that timed out takes the lock over. A lock this tab held and another took from it rejects with an
    // AbortError too (the Web Locks API on a steal): that tab took over, and taking it back would run `fn` again and
    // fail theirs.
    if (granted || ((err as Error).name !== 'TimeoutError' && (err as Error).name !== 'AbortError')) throw err;
  }
  // The holder kept the lease too long (a frozen tab, a hung request): take it over, and say from whom.
  const lease = readLease(p.shared, leaseKey);
  p.warn({
    kind: 'lease_stolen',
    holder: lease?.holder ?? 'another tab',
    heldForMs: lease ? Date.now() - lease.since : p.leaseMs,
    message: `The refresh lock was held by ${lease?.holder ?? 'another tab'} for more than ${p.leaseMs} ms; this tab took it over.`,
  });
  return p.locks.request(`${p.name}:refresh`, { steal: true }, run);
}

/** Throws `ERR_CONFIG` unless `options` are `{ name?, leaseMs? }` as documented. */
function checkOptions(options: BrowserStorageOptions): void {
  if (typeof options !== 'object' || options === null) throw configError('browserStorage: `options` must be an object: `{ name, leaseMs }`.');
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === ''))
    throw configError('browserStorage: `name` must be a non-empty string (one per application).');
  checkNumbers('browserStorage', options, ['leaseMs'], 1);
}

/** This tab, as other tabs will name it in a warning. */
function tabName(): string {
  return `tab ${Math.random().toString(36).slice(2, 8)} (${(globalThis as { location?: { pathname?: string } }).location?.pathname ?? 'page'}, opened ${new Date().toISOString().slice(11, 19)})`;
}

/** Waits (250 ms at most) until the tokens are as new as the last refresh `marker` records: another tab's broadcast is a few ms away. */
async function awaitRefreshed(shared: Shared, marker: string, tokens: () => StoredTokens | null): Promise<void> {
  const last = Number(shared?.getItem(marker) ?? 0);
  const end = Date.now() + 250;
  while ((tokens()?.receivedAt ?? 0) < last && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
}

/**
 * This tab's tokens, kept the same as the other tabs' of the origin through the `BroadcastChannel` `<name>:tokens`: a
 * new tab asks for them (`hello`), a newer set replaces an older one, a `clear` clears; `subscribe` hears what came
 * from other tabs. `written` runs between keeping new tokens and telling the other tabs of them.
 */
function tabTokens(name: string, written: (tokens: StoredTokens) => void) {
  let tokens: StoredTokens | null = null;
  const listeners = new Set<(tokens: StoredTokens | null) => void>();
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
  return {
    get: () => tokens,
    set(t: StoredTokens) {
      tokens = t;
      written(t);
      channel.postMessage({ type: 'tokens', tokens: t } satisfies Message);
    },
    clear() {
      tokens = null;
      channel.postMessage({ type: 'clear' } satisfies Message);
    },
    subscribe(listener: (tokens: StoredTokens | null) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => channel.close(),
  };
}

/** Tokens shared by the tabs of this origin. */
export function browserStorage(options: BrowserStorageOptions = {}): TokenStorage & { close(): void } {
  checkOptions(options);
  const name = options.name ?? 'baton';
  const warnings = new Set<(warning: ClientWarning) => void>();
  const parts: Parts = {
    name,
    leaseMs: options.leaseMs ?? 5000,
    shared: localStorageOf(),
    warn: (w) => warnings.forEach((l) => l(w)),
    locks: (globalThis.navigator as { locks?: LockManager } | undefined)?.locks,
    self: tabName(),
  };
  // When the last refresh finished, in a place every tab reads synchronously (a time, not a
  // token): a tab that gets the lock right after another tab's refresh waits the few ms its
  // BroadcastChannel message takes, instead of refreshing again.
  const marker = `${name}:refreshed-at`;
  const tabs = tabTokens(name, (t) => parts.shared?.setItem(marker, String(t.receivedAt)));
  const settle = () => awaitRefreshed(parts.shared, marker, tabs.get);
  const keys = new Map<string, Promise<CryptoKeyPair>>();
  return {
    id: `browser:${name}`,
    get: async () => tabs.get(),
    set: async (t) => tabs.set(t),
    clear: async () => tabs.clear(),
    withLock: (fn) => leased(parts, settle, fn),
    dpopKey(scope) {
      let key = keys.get(scope);
      if (key === undefined) keys.set(scope, (key = loadKey(parts, scope)));
      return key;
    },
    onWarning(listener) {
      warnings.add(listener);
      return () => warnings.delete(listener);
    },
    subscribe: tabs.subscribe,
    close: tabs.close,
  };
}
