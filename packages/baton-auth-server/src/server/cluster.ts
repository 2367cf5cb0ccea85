/**
 * The instances that share a store, as each records itself there: its issuer and whether it
 * supports DPoP, renewed every heartbeat and lapsing after three missed ones. Two rules rest on it.
 *
 * - One issuer: a process whose issuer is the default (`http://HOST:PORT`, no `BATON_ISSUER`)
 *   refuses to start beside a live instance of another issuer; tokens of one would be refused by
 *   the other. An explicit `BATON_ISSUER` always wins, with a warning when it differs.
 * - DPoP (RFC 9449) only when every instance supports it: while an instance without it lives
 *   (`BATON_DPOP=off`, which is how a release before DPoP behaves), the others neither advertise
 *   it nor bind tokens, so no session is bound that an instance cannot refresh. Once every live
 *   instance supports it, the cluster turns it on for good (a record in the store); an instance
 *   without DPoP then refuses to start, as it would sign every bound session out.
 *
 * The registry is keyed by process: the workers of one instance are several processes with the
 * same issuer and settings, which agree.
 *
 * A registration's `expiresAt` is on its writer's clock, and machines' clocks disagree: one a few
 * seconds ahead would take a live instance for gone (and turn DPoP on beside it, for good). So a
 * registration is dropped only once it is past `expiresAt` and this process has also seen it
 * unchanged for three heartbeats (the longer of its writer's and its own) on its own steady clock.
 */
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import { BatonConfigError } from 'baton-auth';
import type { BatonStore } from 'baton-auth';
import type { ServerConfig } from './config.ts';

/** The kind of the instances' registrations: state of the processes running now, never part of a backup. */
export const INSTANCE = 'instance';
const CLUSTER = 'cluster';
const DPOP = 'dpop';

/** What an instance records of itself (a JSON value of kind `instance`). */
interface InstanceRecord {
  issuer: string;
  /** The issuer came from BATON_ISSUER (not the default `http://HOST:PORT`). */
  issuerSet: boolean;
  /** It can verify DPoP proofs and bound tokens, and would bind tokens if the cluster let it. */
  dpop: boolean;
  host: string;
  pid: number;
  /** The process-id namespace its pid means something in (Linux), if known. */
  pids?: string;
  /** When it first registered (ms): of two instances, the one that registered later yields. */
  since: number;
  /** Its registration lapses then (ms) unless renewed. */
  expiresAt: number;
  /** How often it renews its registration (ms). */
  heartbeatMs?: number;
}

interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** This instance's place among the instances of its store. */
export interface Membership {
  /** Whether the token endpoints take DPoP proofs and the metadata advertises them now. */
  dpop(): boolean;
  /** Deregisters (a stopping instance no longer holds DPoP back). */
  leave(): Promise<void>;
}

const parse = (value: string): InstanceRecord | undefined => {
  try {
    const r = JSON.parse(value) as InstanceRecord;
    return typeof r.issuer === 'string' && typeof r.expiresAt === 'number' ? r : undefined;
  } catch {
    return undefined;
  }
};

/** This process's pid namespace (`pid:[4026531836]`): containers sharing a host name each have their own. */
const PIDS = ((): string | undefined => {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
})();

/** A process of this machine that is gone (its record could not be deregistered: a crash, kill -9). */
function deadHere(r: InstanceRecord): boolean {
  if (PIDS === undefined || r.pids !== PIDS || r.host !== hostname() || r.pid === process.pid) return false;
  try {
    process.kill(r.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

const who = (r: InstanceRecord): string => `process ${r.pid} on ${r.host}`;

type ClusterConfig = Pick<ServerConfig, 'issuer' | 'issuerSet' | 'dpop' | 'heartbeatMs'>;

/** This process's registration in the store, and its view of the others'. */
class Registration {
  readonly key = `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
  readonly self: InstanceRecord;
  /** Each other registration as last read, and when it was first read so (this process's steady clock). */
  readonly #seen = new Map<string, { value: string; at: number }>();
  readonly #store: BatonStore;
  readonly #heartbeatMs: number;

  constructor(store: BatonStore, config: ClusterConfig) {
    this.#store = store;
    this.#heartbeatMs = config.heartbeatMs;
    this.self = {
      issuer: config.issuer,
      issuerSet: config.issuerSet,
      dpop: config.dpop !== 'off',
      host: hostname(),
      pid: process.pid,
      ...(PIDS === undefined ? {} : { pids: PIDS }),
      since: Date.now(),
      expiresAt: 0,
      heartbeatMs: config.heartbeatMs,
    };
  }

  async register(): Promise<void> {
    this.self.expiresAt = Date.now() + 3 * this.#heartbeatMs;
    await this.#store.putRecord(INSTANCE, this.key, JSON.stringify(this.self));
  }

  /**
   * The other instances that may be alive. Deleted: records that cannot be read, those of dead
   * processes of this machine, and those past their `expiresAt` that this process also saw
   * unchanged for three heartbeats (a writer's clock behind this one's says nothing of its life).
   */
  async others(): Promise<InstanceRecord[]> {
    const live: InstanceRecord[] = [];
    const now = performance.now();
    const listed = new Set<string>();
    for (const { key: k, value } of await this.#store.listRecords(INSTANCE)) {
      if (k === this.key) continue;
      listed.add(k);
      const r = parse(value);
      let last = this.#seen.get(k);
      if (last?.value !== value) this.#seen.set(k, (last = { value, at: now }));
      const unchanged = now - last.at >= 3 * Math.max(this.#heartbeatMs, r?.heartbeatMs ?? 0);
      if (r === undefined || deadHere(r) || (r.expiresAt <= Date.now() && unchanged)) {
        await this.#store.deleteRecord(INSTANCE, k);
        this.#seen.delete(k);
      } else live.push(r);
    }
    for (const k of this.#seen.keys()) if (!listed.has(k)) this.#seen.delete(k);
    return live;
  }

  async leave(): Promise<void> {
    await this.#store.deleteRecord(INSTANCE, this.key).catch(() => false);
  }
}

/** Refuses this instance's start beside a live one of another issuer when its own is the default, or without DPoP once the cluster has it on. */
async function admit(store: BatonStore, me: Registration, config: ClusterConfig, logger: Logger): Promise<void> {
  const { self } = me;
  const earlier = (r: InstanceRecord): boolean => r.since < self.since || (r.since === self.since && r.pid < self.pid);
  // Of another issuer and not past its own end: a crashed instance's record refuses no start.
  const strangers = (await me.others()).filter((r) => r.issuer !== config.issuer && r.expiresAt > Date.now());
  const first = strangers.find(earlier);
  if (first !== undefined && !config.issuerSet) {
    throw new BatonConfigError(
      `Another instance on this store (${who(first)}) has issuer ${first.issuer}, and this one would default to ${config.issuer}: each would refuse the other's tokens. Set BATON_ISSUER to the public URL all instances share.`,
    );
  }
  for (const r of strangers) {
    logger.warn(
      { event: 'config.warning' },
      `Another instance on this store (${who(r)}) has issuer ${r.issuer}${r.issuerSet ? '' : ' (its default)'}, not ${config.issuer}: each refuses the other's tokens. Give every instance the same BATON_ISSUER.`,
    );
  }
  if (!self.dpop && (await store.getRecord(CLUSTER, DPOP)) !== null) {
    throw new BatonConfigError(
      'DPoP is on for the instances of this store (every one supported it), so some sessions are bound to keys: an instance with BATON_DPOP=off would sign those out at their next refresh. Start it with BATON_DPOP=auto (the default).',
    );
  }
}

/** Whether DPoP is on: once it is recorded, or once every live instance supports it (then recorded). */
class DpopSwitch {
  on = false;
  #holdout: string | undefined;
  readonly #store: BatonStore;
  readonly #me: Registration;
  readonly #logger: Logger;

  constructor(store: BatonStore, me: Registration, logger: Logger) {
    this.#store = store;
    this.#me = me;
    this.#logger = logger;
  }

  async decide(): Promise<void> {
    if (this.on) return;
    const store = this.#store;
    if (!this.#me.self.dpop) {
      // Its registration lapsed meanwhile (the store out of its reach for three heartbeats), and the others turned DPoP on.
      if ((await store.getRecord(CLUSTER, DPOP)) !== null)
        this.#logger.error(
          { event: 'dpop.on_elsewhere' },
          'DPoP was turned on by the other instances of this store while this one could not renew its registration: this instance (BATON_DPOP=off) refuses the bound sessions they open. Restart it with BATON_DPOP=auto.',
        );
      return;
    }
    const recorded = (await store.getRecord(CLUSTER, DPOP)) !== null;
    // The registrations are read after the record, even one another instance wrote: an instance
    // without DPoP that registered just before that write read no record and started, and the
    // writer is about to withdraw it (below). Such an instance holds DPoP back here too.
    const without = (await this.#me.others()).find((r) => !r.dpop);
    if (without !== undefined) {
      if (this.#holdout !== who(without))
        this.#logger.info(
          { event: 'dpop.held_back' },
          `DPoP is held back: ${who(without)} on this store does not support it (BATON_DPOP=off, or an older release)`,
        );
      this.#holdout = who(without);
      return;
    }
    if (!recorded) {
      await store.putRecord(CLUSTER, DPOP, JSON.stringify({ since: new Date().toISOString(), by: this.#me.key }), { ifAbsent: true });
      // An instance without DPoP that registered meanwhile read no record: it wins, and DPoP waits.
      // (It checks the record after registering, this one the registrations after writing it.)
      if ((await this.#me.others()).some((r) => !r.dpop)) {
        await store.deleteRecord(CLUSTER, DPOP);
        return;
      }
    }
    this.on = true;
    this.#logger.info({ event: 'dpop.on' }, 'DPoP is on: every instance on this store supports it');
  }
}

/**
 * Registers this instance on `store`, checks its issuer against the live ones and decides whether
 * DPoP is on; renews every `config.heartbeatMs`. Throws a BatonConfigError (after deregistering)
 * when this instance must not start.
 */
export async function joinCluster(store: BatonStore, config: ClusterConfig, logger: Logger): Promise<Membership> {
  const me = new Registration(store, config);
  // Registered first, then the others read: of two instances starting together, the later one sees the earlier.
  await me.register();
  try {
    await admit(store, me, config, logger);
  } catch (err) {
    await me.leave();
    throw err;
  }
  const dpop = new DpopSwitch(store, me, logger);
  await dpop.decide();
  const beat = setInterval(() => {
    // Held back, `decide` reads the others; otherwise they are read only to drop the lapsed (crashed elsewhere).
    me.register()
      .then(() => (dpop.on || !me.self.dpop ? me.others().then(() => undefined) : undefined))
      .then(() => dpop.decide())
      .catch((err: unknown) =>
        logger.warn({ event: 'cluster.heartbeat_failed' }, `this instance could not renew its registration in the store: ${(err as Error).message}`),
      );
  }, config.heartbeatMs);
  beat.unref();
  return {
    dpop: () => dpop.on,
    async leave() {
      clearInterval(beat);
      await me.leave();
    },
  };
}

/** `baton_dpop_enabled` on `registry`: 0 while DPoP is held back, 1 once on (workers aggregated by their minimum). */
export function dpopGauge(member: Membership, registry: Registry): void {
  new Gauge({
    name: 'baton_dpop_enabled',
    help: 'DPoP (RFC 9449) at the token endpoints: 1 on, 0 held back until every instance on the store supports it',
    registers: [registry],
    aggregator: 'min',
    collect() {
      this.set(member.dpop() ? 1 : 0);
    },
  });
}
