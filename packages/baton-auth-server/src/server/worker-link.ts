/** A worker's side of BATON_WORKERS (`workers.ts`): its revocations relayed to the others through the primary, and its metrics. */
import cluster from 'node:cluster';
import { hostname } from 'node:os';
import pino from 'pino';
import { BatonError } from 'baton-auth';
import type { Baton, BatonStore, RevocationEvent } from 'baton-auth';
import type { Metrics } from './ops.ts';
import { isMessage, METRICS_TIMEOUT_MS, RELAY_TIMEOUT_MS } from './worker-messages.ts';
import type { Message } from './worker-messages.ts';

/** A worker's side of the relay. */
export interface WorkerLink {
  /** cluster.worker.id: 1, 2, … (a replacement gets a new one). */
  id: number;
  /** The store whose subscribers also hear, at once, the revocations other workers make. */
  relayStore<S extends BatonStore>(store: S): S;
  /** Publishes this worker's own revocations and answers the primary's metrics requests; returns the function that stops it. */
  attach(baton: Baton, metrics: Metrics | undefined): () => void;
  /** Resolves once every other worker has applied the revocations made here so far. */
  flush(): Promise<void>;
  /** The metrics of every worker, aggregated by the primary. */
  metrics(): Promise<string>;
  /** Hands audit lines to the primary, which writes them (`audit-trail.ts`). */
  audit(lines: string[]): void;
}

type Listener = (event: RevocationEvent) => void;

/** A worker's side of the relay, over its IPC channel to the primary. */
class Link implements WorkerLink {
  /** cluster.worker.id: 1, 2, … (a replacement gets a new one). */
  readonly id = cluster.worker?.id ?? 0;
  readonly #logger: pino.Logger;
  readonly #listeners = new Set<Listener>();
  // Set while an event heard from the store or from another worker is delivered: that one is not published again.
  #delivering = false;
  #seq = 0;
  readonly #pending = new Map<number, () => void>();
  readonly #scrapes = new Map<number, { resolve: (text: string) => void; timer: NodeJS.Timeout }>();
  readonly #inflight = new Set<Promise<void>>();
  #registry: Metrics['registry'] | undefined;

  constructor(logLevel: string, destination: pino.DestinationStream | undefined) {
    this.#logger = pino({ level: logLevel, base: { pid: process.pid, hostname: hostname(), worker: this.id } }, destination as pino.DestinationStream);
    process.on('message', (m: unknown) => this.#receive(m));
  }

  relayStore<S extends BatonStore>(store: S): S {
    return new Proxy(store, {
      get: (target, key) => {
        if (key === 'subscribe') {
          return async (listener: Listener) => {
            const heard = (event: RevocationEvent): void => this.#deliver(listener, event);
            const stop = await target.subscribe(heard);
            this.#listeners.add(listener);
            return () => {
              this.#listeners.delete(listener);
              stop();
            };
          };
        }
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  attach(baton: Baton, metrics: Metrics | undefined): () => void {
    this.#registry = metrics?.registry;
    return baton.onRevocation((event) => {
      if (!this.#delivering) this.#publish(event);
    });
  }

  async flush(): Promise<void> {
    if (this.#inflight.size > 0) await Promise.all(this.#inflight);
  }

  metrics(): Promise<string> {
    const n = ++this.#seq;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#scrapes.delete(n);
        reject(new BatonError('ERR_INTERNAL', 'the primary did not answer with the metrics', { public: true }));
      }, METRICS_TIMEOUT_MS * 2);
      this.#scrapes.set(n, { resolve, timer });
      send({ baton: 'metrics', id: n });
    });
  }

  audit(lines: string[]): void {
    send({ baton: 'audit', lines });
  }

  #deliver(listener: Listener, event: RevocationEvent): void {
    this.#delivering = true;
    try {
      listener(event);
    } finally {
      this.#delivering = false;
    }
  }

  /** A message from the primary: another worker's revocation, the acknowledgement of one of ours, or metrics asked or answered. */
  #receive(m: unknown): void {
    if (!isMessage(m)) return;
    if (m.baton === 'revoke') {
      for (const listener of this.#listeners) this.#deliver(listener, m.event);
      send({ baton: 'revoke-ack', id: m.id });
    } else if (m.baton === 'revocation-ack') {
      this.#pending.get(m.id)?.();
    } else if (m.baton === 'metrics-json') {
      (this.#registry?.getMetricsAsJSON() ?? Promise.resolve([])).then(
        (metrics) => send({ baton: 'metrics-json-answer', id: m.id, metrics }),
        () => send({ baton: 'metrics-json-answer', id: m.id, metrics: [] }),
      );
    } else if (m.baton === 'metrics-text') {
      const scrape = this.#scrapes.get(m.id);
      this.#scrapes.delete(m.id);
      clearTimeout(scrape?.timer);
      scrape?.resolve(m.text);
    }
  }

  /** Sends this worker's revocation to the others through the primary; `flush` waits for it until every one applied it, or RELAY_TIMEOUT_MS. */
  #publish(event: RevocationEvent): void {
    const n = ++this.#seq;
    let done!: () => void;
    const settled = new Promise<void>((resolve) => (done = resolve));
    const timer = setTimeout(() => {
      this.#logger.warn(
        { event: 'workers.relay_timeout', kind: event.kind },
        `a revocation was not confirmed by every worker within ${RELAY_TIMEOUT_MS} ms; the others hear of it from the store`,
      );
      finish();
    }, RELAY_TIMEOUT_MS);
    const finish = (): void => {
      clearTimeout(timer);
      this.#pending.delete(n);
      this.#inflight.delete(settled);
      done();
    };
    this.#pending.set(n, finish);
    this.#inflight.add(settled);
    send({ baton: 'revocation', id: n, event });
  }
}

const send = (m: Message): void => void process.send?.(m);

/** The link of this process, a cluster worker. */
export function workerLink(logLevel: string, destination?: pino.DestinationStream): WorkerLink {
  return new Link(logLevel, destination);
}
