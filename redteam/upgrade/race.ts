/**
 * Attempt: the moment an instance turns DPoP on (cluster.ts `decide`). N (auto) found no instance
 * without DPoP and writes the cluster's `dpop` record; an old instance O (BATON_DPOP=off) registered
 * just before that write and read no record, so it starts; N's recheck sees O and deletes the
 * record. Meanwhile M (auto) reads the record in its heartbeat. Expected: M stays held back while O
 * lives. In one process, joinCluster calls on one memory store; hooks in front of the store arrange
 * the timing (never the order of one instance's operations).
 */
import { memoryStore } from 'baton-auth/stores/memory';
import type { BatonStore } from 'baton-auth';
import { joinCluster } from '../../packages/baton-auth-server/src/server/cluster.ts';

const store = memoryStore() as unknown as BatonStore;
const logger = { info: () => undefined, warn: () => undefined, error: (_o: object, m?: string) => console.info('error log:', m?.slice(0, 90)) };
const config = (dpop: 'auto' | 'off', heartbeatMs = 60_000) => ({ issuer: 'https://auth.test', issuerSet: true, dpop, heartbeatMs });

let release: () => void = () => undefined;
const held = new Promise<void>((r) => (release = r));
const recheck: { gate?: Promise<void> } = {};
let afterPut = false;
let putDone: () => void = () => undefined;
const put = new Promise<void>((r) => (putDone = r));
/** `store` with `hook` awaited in front of each call. */
const hooked = (hook: (prop: string | symbol, args: unknown[]) => Promise<void> | undefined) =>
  new Proxy(store, {
    get(target, prop, receiver) {
      const real = Reflect.get(target, prop, receiver) as unknown;
      if (typeof real !== 'function') return real;
      return async (...args: unknown[]) => {
        await hook(prop, args);
        const r = await (real as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (prop === 'putRecord' && args[0] === 'cluster') {
          afterPut = true;
          putDone();
        }
        return r;
      };
    },
  });
// M's heartbeat (50 ms) reads the cluster record only once N wrote it.
let mJoined = false;
const mStore = hooked((prop, args) => (mJoined && prop === 'getRecord' && args[0] === 'cluster' && !afterPut ? put : undefined));
// N's write waits until O has joined; its recheck (listRecords after the write) until M had heartbeats.
const nStore = hooked((prop, args) => (prop === 'putRecord' && args[0] === 'cluster' ? held : prop === 'listRecords' && afterPut ? recheck.gate : undefined));

// An old instance X, then M (auto): held back by X. X stops.
const x = await joinCluster(store, config('off'), logger);
const m = await joinCluster(mStore, config('auto', 50), logger);
console.info('M beside an off instance: DPoP', m.dpop());
mJoined = true;
await x.leave();
// N decides at start-up: no instance without DPoP now; held at its write.
const nJoin = joinCluster(nStore, config('auto'), logger);
await new Promise((r) => setTimeout(r, 100));
// O registers and reads no record: it starts.
const o = await joinCluster(store, config('off'), logger).then(
  (j) => j,
  (e: Error) => {
    console.info('O refused:', e.message.slice(0, 80));
    return undefined;
  },
);
console.info('O (off) started:', o !== undefined);
recheck.gate = new Promise((r) => setTimeout(r, 300)); // M gets heartbeats while the record is there
release();
const n = await nJoin;
await new Promise((r) => setTimeout(r, 200));
console.info(
  `after N's recheck: N DPoP ${n.dpop()}, M DPoP ${m.dpop()}, cluster record ${(await store.getRecord('cluster', 'dpop')) !== null ? 'present' : 'absent'}, O (off) alive: ${o !== undefined}`,
);
await Promise.all([n.leave(), m.leave(), o?.leave()]);
