/**
 * `browserStorage` outside a browser: Node has the platform's `BroadcastChannel` and Web Locks (`navigator.locks`), and
 * no IndexedDB or localStorage, so several storages of one name in this process behave as the tabs of one origin whose
 * keys cannot be kept. Chromium's own run of the same storage is test/e2e/browser.test.ts.
 */
import { afterEach, expect, it } from 'vitest';
import { browserStorage } from 'baton-auth-client';
import type { ClientWarning, StoredTokens } from 'baton-auth-client';

const opened: { close(): void }[] = [];
afterEach(() => {
  for (const tab of opened.splice(0)) tab.close();
});

let names = 0;
/** Opens `count` tabs of one new application name. */
function tabs(count: number, leaseMs?: number): ReturnType<typeof browserStorage>[] {
  const name = `tabs-test-${process.pid}-${++names}`;
  return Array.from({ length: count }, () => {
    const tab = browserStorage(leaseMs === undefined ? { name } : { name, leaseMs });
    opened.push(tab);
    return tab;
  });
}

const tokens = (accessToken: string, receivedAt: number): StoredTokens => ({ accessToken, receivedAt, expiresAt: receivedAt + 60_000 });

/** What `tab` hears from another tab, once it hears `accessToken` (null: a clear). A tab may hear a set twice: the set, and the answer to its hello. */
const heard = (tab: ReturnType<typeof browserStorage>, accessToken: string | null) =>
  new Promise<StoredTokens | null>((resolve) => {
    const stop = tab.subscribe?.((t) => {
      if ((t?.accessToken ?? null) !== accessToken) return;
      stop?.();
      resolve(t);
    });
  });

it('tokens set in one tab reach the others, an older set never replaces a newer one, and a clear clears every tab', async () => {
  const [a, b] = tabs(2) as [ReturnType<typeof browserStorage>, ReturnType<typeof browserStorage>];
  const first = heard(b, 'new');
  await a.set(tokens('new', 2_000));
  expect(await first).toEqual(tokens('new', 2_000));
  expect(await b.get()).toEqual(tokens('new', 2_000));

  // B's older tokens (a refresh that lost the race) do not replace A's newer ones; A's next set does reach B.
  await b.set(tokens('old', 1_000));
  const next = heard(b, 'newer');
  await a.set(tokens('newer', 3_000));
  expect(await next).toEqual(tokens('newer', 3_000));
  expect(await a.get()).toEqual(tokens('newer', 3_000));

  const cleared = heard(b, null);
  await a.clear();
  expect(await cleared).toBeNull();
  expect([await a.get(), await b.get()]).toEqual([null, null]);
});

it('a tab opened later asks the others and gets their tokens', async () => {
  const [a] = tabs(1) as [ReturnType<typeof browserStorage>];
  await a.set(tokens('shared', 5_000));
  const name = `tabs-test-${process.pid}-${names}`;
  const late = browserStorage({ name });
  opened.push(late);
  expect(await heard(late, 'shared')).toEqual(tokens('shared', 5_000));
  expect(await late.get()).toEqual(tokens('shared', 5_000));
});

it('without IndexedDB the DPoP key lives in the tab, non-extractable, one per scope, and a warning says so', async () => {
  const [tab] = tabs(1) as [ReturnType<typeof browserStorage>];
  const warnings: ClientWarning[] = [];
  tab.onWarning?.((w) => void warnings.push(w));
  const key = await tab.dpopKey?.('https://issuer.example\nweb');
  expect(key?.privateKey.extractable).toBe(false);
  expect(key?.privateKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
  expect(await tab.dpopKey?.('https://issuer.example\nweb')).toBe(key);
  expect(await tab.dpopKey?.('https://other.example\nweb')).not.toBe(key);
  expect(warnings.map((w) => w.kind)).toEqual(['dpop_key_in_memory', 'dpop_key_in_memory']);
});

it("the tabs' refreshes take turns under the lock, and a lease held past leaseMs is taken over with a warning", async () => {
  const [a, b] = tabs(2, 200) as [ReturnType<typeof browserStorage>, ReturnType<typeof browserStorage>];
  const log: string[] = [];
  const turn = (who: string, ms: number) => async () => {
    log.push(`${who} in`);
    await new Promise((r) => setTimeout(r, ms));
    log.push(`${who} out`);
    return who;
  };
  expect(await Promise.all([a.withLock?.(turn('a', 50)), b.withLock?.(turn('b', 0))])).toEqual(['a', 'b']);
  expect(log).toEqual(['a in', 'a out', 'b in', 'b out']);

  const warnings: ClientWarning[] = [];
  b.onWarning?.((w) => void warnings.push(w));
  log.length = 0;
  // The frozen tab is told it lost the lock (the platform's AbortError) and does not take it back: before, it stole the
  // lock back, ran its refresh a second time and failed the tab that had taken over with that AbortError.
  const frozen = a.withLock?.(turn('frozen', 600)).catch((err: unknown) => (err as Error).name);
  await new Promise((r) => setTimeout(r, 20));
  expect(await b.withLock?.(turn('b', 0))).toBe('b');
  expect(log).toEqual(['frozen in', 'b in', 'b out']);
  expect(warnings).toMatchObject([{ kind: 'lease_stolen', holder: 'another tab' }]);
  expect(await frozen).toBe('AbortError');
  await new Promise((r) => setTimeout(r, 650));
  expect(log).toEqual(['frozen in', 'b in', 'b out', 'frozen out']);
});
