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
}

/** The link of this process, a cluster worker. */
export function workerLink(logLevel: string): WorkerLink {
  const id = cluster.worker?.id ?? 0;
  const logger = pino({ level: logLevel, base: { pid: process.pid, hostname: hostname(), worker: id } });
  const send = (m: Message): void => void process.send?.(m);
  const listeners = new Set<(event: RevocationEvent) => void>();
  // Set while an event heard from the store or from another worker is delivered: that one is not published again.
  let delivering = false;
  const deliver = (listener: (event: RevocationEvent) => void, event: RevocationEvent): void => {
    delivering = true;
    try {
      listener(event);
    } finally {
      delivering = false;
    }
  };
  let seq = 0;
  const pending = new Map<number, () => void>();
  const scrapes = new Map<number, { resolve: (text: string) => void; timer: NodeJS.Timeout }>();
  let registry: Metrics['registry'] | undefined;
  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return;
    if (m.baton === 'revoke') {
      for (const listener of listeners) deliver(listener, m.event);
      send({ baton: 'revoke-ack', id: m.id });
    } else if (m.baton === 'revocation-ack') {
      pending.get(m.id)?.();
    } else if (m.baton === 'metrics-json') {
      (registry?.getMetricsAsJSON() ?? Promise.resolve([])).then(
        (metrics) => send({ baton: 'metrics-json-answer', id: m.id, metrics }),
        () => send({ baton: 'metrics-json-answer', id: m.id, metrics: [] }),
      );
    } else if (m.baton === 'metrics-text') {
      const scrape = scrapes.get(m.id);
      scrapes.delete(m.id);
      clearTimeout(scrape?.timer);
      scrape?.resolve(m.text);
    }
  });
  const publish = (event: RevocationEvent): void => {
    const n = ++seq;
    let done!: () => void;
    const settled = new Promise<void>((resolve) => (done = resolve));
    const timer = setTimeout(() => {
      logger.warn(
        { event: 'workers.relay_timeout', kind: event.kind },
        `a revocation was not confirmed by every worker within ${RELAY_TIMEOUT_MS} ms; the others hear of it from the store`,
      );
      finish();
    }, RELAY_TIMEOUT_MS);
    const finish = (): void => {
      clearTimeout(timer);
      pending.delete(n);
      inflight.delete(settled);
      done();
    };
    pending.set(n, finish);
    inflight.add(settled);
    send({ baton: 'revocation', id: n, event });
  };
  const inflight = new Set<Promise<void>>();
  return {
    id,
    relayStore(store) {
      return new Proxy(store, {
        get(target, key) {
          if (key === 'subscribe') {
            return async (listener: (event: RevocationEvent) => void) => {
              const heard = (event: RevocationEvent): void => deliver(listener, event);
              const stop = await target.subscribe(heard);
              listeners.add(listener);
              return () => {
                listeners.delete(listener);
                stop();
              };
            };
          }
          const value = Reflect.get(target, key, target) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
    attach(baton, metrics) {
      registry = metrics?.registry;
      return baton.onRevocation((event) => {
        if (!delivering) publish(event);
      });
    },
    async flush() {
      if (inflight.size > 0) await Promise.all(inflight);
    },
    metrics() {
      const n = ++seq;
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          scrapes.delete(n);
          reject(new BatonError('ERR_INTERNAL', 'the primary did not answer with the metrics', { public: true }));
        }, METRICS_TIMEOUT_MS * 2);
        scrapes.set(n, { resolve, timer });
        send({ baton: 'metrics', id: n });
      });
    },
  };
}
