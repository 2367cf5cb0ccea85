/**
 * The primary's relay between the workers of BATON_WORKERS (`workers.ts`): a worker's revocation
 * handed to every other serving worker, answered once each applied it (or RELAY_TIMEOUT_MS), and
 * `GET /metrics` answered with the sum over the workers (prom-client's `AggregatorRegistry.aggregate`).
 */
import type { Worker } from 'node:cluster';
import type pino from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { isMessage, METRICS_TIMEOUT_MS, RELAY_TIMEOUT_MS } from './worker-messages.ts';
import type { Message, MetricJson } from './worker-messages.ts';

export class Relay {
  #seq = 0;
  readonly #acks = new Map<number, { waiting: Set<Worker>; done: () => void }>();
  readonly #answers = new Map<number, { waiting: Set<Worker>; metrics: MetricJson[][]; done: () => void }>();
  /** The workers that serve now. */
  readonly #serving: () => Worker[];
  readonly #logger: pino.Logger;

  constructor(serving: () => Worker[], logger: pino.Logger) {
    this.#serving = serving;
    this.#logger = logger;
  }

  /** A worker gone: nothing waits for its answer any more. */
  forget(worker: Worker): void {
    for (const a of this.#acks.values()) if (a.waiting.delete(worker) && a.waiting.size === 0) a.done();
    for (const a of this.#answers.values()) if (a.waiting.delete(worker) && a.waiting.size === 0) a.done();
  }

  /** A message from a worker. */
  receive(from: Worker, m: unknown): void {
    if (!isMessage(m)) return;
    if (m.baton === 'revocation') {
      this.#revocation(from, m);
    } else if (m.baton === 'revoke-ack') {
      const a = this.#acks.get(m.id);
      if (a?.waiting.delete(from) && a.waiting.size === 0) a.done();
    } else if (m.baton === 'metrics') {
      this.#metrics(from, m);
    } else if (m.baton === 'metrics-json-answer') {
      const a = this.#answers.get(m.id);
      if (a?.waiting.delete(from)) {
        a.metrics.push(m.metrics);
        if (a.waiting.size === 0) a.done();
      }
    }
  }

  #revocation(from: Worker, m: Extract<Message, { baton: 'revocation' }>): void {
    const id = ++this.#seq;
    const waiting = new Set(this.#serving().filter((w) => w !== from));
    const done = (): void => {
      clearTimeout(timer);
      this.#acks.delete(id);
      if (from.isConnected()) from.send({ baton: 'revocation-ack', id: m.id } satisfies Message);
    };
    const timer = setTimeout(done, RELAY_TIMEOUT_MS);
    this.#acks.set(id, { waiting, done });
    if (waiting.size === 0) return done();
    for (const w of waiting) w.send({ baton: 'revoke', id, event: m.event } satisfies Message);
  }

  #metrics(from: Worker, m: Extract<Message, { baton: 'metrics' }>): void {
    const id = ++this.#seq;
    const waiting = new Set(this.#serving());
    const entry = { waiting, metrics: [] as MetricJson[][], done: () => undefined as void };
    entry.done = () => {
      clearTimeout(timer);
      this.#answers.delete(id);
      const reply = (text: string): void => void (from.isConnected() && from.send({ baton: 'metrics-text', id: m.id, text } satisfies Message));
      Promise.resolve()
        .then(() => AggregatorRegistry.aggregate(entry.metrics).metrics())
        .then(reply, (err: unknown) => {
          this.#logger.warn({ event: 'workers.metrics_failed' }, (err as Error).message);
          reply('');
        });
    };
    const timer = setTimeout(() => entry.done(), METRICS_TIMEOUT_MS);
    this.#answers.set(id, entry);
    for (const w of waiting) w.send({ baton: 'metrics-json', id } satisfies Message);
  }
}
