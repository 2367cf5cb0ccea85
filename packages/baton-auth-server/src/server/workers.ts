/**
 * `BATON_WORKERS=N`: one primary process forks N workers (node:cluster) that share the port; each
 * worker is a whole service on the shared store. The primary serves no request: it starts the
 * workers, replaces one that dies (with a back-off, so a crash loop does not spin), drains them
 * all on SIGTERM/SIGINT, restarts them one at a time on SIGHUP, and relays between them:
 *
 * - revocations: a worker that revokes (a logout, a reuse, RFC 7009) tells the primary, which
 *   hands the event to every other worker and answers once each has applied it; the worker
 *   answers its request only then. So an access token is refused by every worker from the
 *   response on, not a store poll later (SQLite polls every 100 ms; Redis and PostgreSQL
 *   publish asynchronously).
 * - metrics: `GET /metrics` on any worker answers the sum over the workers (prom-client's
 *   `AggregatorRegistry.aggregate`).
 */
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import pino from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { BatonError } from 'baton-auth';
import type { ServerConfig } from './config.ts';
import { checkIntegrity } from './files.ts';
import { isMessage, METRICS_TIMEOUT_MS, RELAY_TIMEOUT_MS } from './worker-messages.ts';
import type { Message, MetricJson } from './worker-messages.ts';

export { workerLink } from './worker-link.ts';
export type { WorkerLink } from './worker-link.ts';

/** A worker that ran this long before dying is not part of a crash loop: the back-off starts over. */
const STABLE_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;

/** A free port of `host`, for PORT=0: the workers must all bind the same one, and the issuer must name it. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** What the primary says once every worker serves. */
export interface Cluster {
  url: string;
  issuer: string;
  /** No user in the store (the first worker looked). */
  noUsers: boolean;
  /** Drains every worker (stop accepting, finish in-flight requests, close the store); resolves once all have exited. */
  stop(): Promise<void>;
  /** Replaces the workers one at a time, each once its replacement serves (SIGHUP). */
  restart(): Promise<void>;
}

/**
 * Forks `config.workers` workers of this command (`baton serve`) and keeps them running; resolves
 * once all serve, rejects if one fails to start (its sentence is on standard error).
 */
export async function startCluster(config: ServerConfig): Promise<Cluster> {
  // The database checked once, here: a worker does not (each would read every page again, at every restart).
  await checkIntegrity(config);
  const logger = pino({ level: config.logLevel, base: { pid: process.pid, hostname: hostname(), worker: 'primary' } });
  // Round-robin (Node's default except on Windows): the primary accepts and hands connections out in turn.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const port = config.port === 0 ? await freePort(config.host) : config.port;
  let stopping = false;
  let first: Extract<Message, { baton: 'ready' }> | undefined;
  const ready = new Map<Worker, Promise<void>>();
  const born = new Map<Worker, number>();
  const retiring = new Set<Worker>();
  // Workers that serve: a starting one reads the revocations in force from the store once ready.
  const serving = new Set<Worker>();
  let crashes = 0;
  const respawns = new Set<NodeJS.Timeout>();

  const live = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
  const fork = (): Worker => {
    const worker = cluster.fork({ PORT: String(port) });
    // A send to a worker that died a moment ago (still `isConnected()` until its exit is read)
    // fails with EPIPE as an 'error' event: unheard, it would end the primary and every worker.
    // The exit that follows forgets it and replaces it.
    worker.on('error', (err: Error) =>
      logger.warn(
        { event: 'worker.send_failed', worker: worker.id, err: (err as NodeJS.ErrnoException).code ?? err.name },
        `a message to worker ${worker.id} was lost (${(err as NodeJS.ErrnoException).code ?? err.name}): it is exiting`,
      ),
    );
    born.set(worker, Date.now());
    ready.set(
      worker,
      new Promise<void>((resolve, reject) => {
        const onMessage = (m: unknown): void => {
          if (!isMessage(m) || m.baton !== 'ready') return;
          first ??= m;
          serving.add(worker);
          worker.off('exit', onExit);
          resolve();
        };
        const onExit = (code: number | null, signal: string | null): void =>
          reject(new BatonError('ERR_INTERNAL', `worker ${worker.id} stopped before it served (${signal ?? `exit code ${code}`})`, { public: true }));
        worker.on('message', onMessage);
        worker.once('exit', onExit);
      }),
    );
    ready.get(worker)?.catch(() => undefined);
    return worker;
  };

  // Relays: revocations to every other worker, metrics from all of them.
  let relaySeq = 0;
  const acks = new Map<number, { waiting: Set<Worker>; done: () => void }>();
  const answers = new Map<number, { waiting: Set<Worker>; metrics: MetricJson[][]; done: () => void }>();
  const forget = (worker: Worker): void => {
    for (const a of acks.values()) if (a.waiting.delete(worker) && a.waiting.size === 0) a.done();
    for (const a of answers.values()) if (a.waiting.delete(worker) && a.waiting.size === 0) a.done();
  };
  cluster.on('message', (from: Worker, m: unknown) => {
    if (!isMessage(m)) return;
    if (m.baton === 'revocation') {
      const id = ++relaySeq;
      const waiting = new Set(live().filter((w) => w !== from && serving.has(w)));
      const done = (): void => {
        clearTimeout(timer);
        acks.delete(id);
        if (from.isConnected()) from.send({ baton: 'revocation-ack', id: m.id } satisfies Message);
      };
      const timer = setTimeout(done, RELAY_TIMEOUT_MS);
      acks.set(id, { waiting, done });
      if (waiting.size === 0) return done();
      for (const w of waiting) w.send({ baton: 'revoke', id, event: m.event } satisfies Message);
    } else if (m.baton === 'revoke-ack') {
      const a = acks.get(m.id);
      if (a?.waiting.delete(from) && a.waiting.size === 0) a.done();
    } else if (m.baton === 'metrics') {
      const id = ++relaySeq;
      const waiting = new Set(live().filter((w) => serving.has(w)));
      const entry = { waiting, metrics: [] as MetricJson[][], done: () => undefined as void };
      entry.done = () => {
        clearTimeout(timer);
        answers.delete(id);
        const reply = (text: string): void => void (from.isConnected() && from.send({ baton: 'metrics-text', id: m.id, text } satisfies Message));
        Promise.resolve()
          .then(() => AggregatorRegistry.aggregate(entry.metrics).metrics())
          .then(reply, (err: unknown) => {
            logger.warn({ event: 'workers.metrics_failed' }, (err as Error).message);
            reply('');
          });
      };
      const timer = setTimeout(() => entry.done(), METRICS_TIMEOUT_MS);
      answers.set(id, entry);
      for (const w of waiting) w.send({ baton: 'metrics-json', id } satisfies Message);
    } else if (m.baton === 'metrics-json-answer') {
      const a = answers.get(m.id);
      if (a?.waiting.delete(from)) {
        a.metrics.push(m.metrics);
        if (a.waiting.size === 0) a.done();
      }
    }
  });

  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    forget(worker);
    const lived = Date.now() - (born.get(worker) ?? 0);
    born.delete(worker);
    ready.delete(worker);
    serving.delete(worker);
    if (stopping || retiring.has(worker) || first === undefined) return;
    // A worker that died soon after it started is part of a crash loop: wait longer each time.
    crashes = lived >= STABLE_MS ? 0 : crashes + 1;
    const delay = crashes === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 250 * 2 ** (crashes - 1));
    logger.error(
      { event: 'worker.exit', exited: worker.id, code, signal, restartInMs: delay },
      `worker ${worker.id} exited (${signal ?? `exit code ${code}`}); a new one starts in ${delay} ms`,
    );
    const timer = setTimeout(() => {
      respawns.delete(timer);
      if (!stopping) fork();
    }, delay);
    respawns.add(timer);
  });

  try {
    // The first worker alone, then the others: on a new folder it makes the secret file and sets
    // the database up; all at once, one migrated while another did, or found the secret file
    // beside a database not set up yet and refused it as a lost one.
    const firstWorker = fork();
    await ready.get(firstWorker);
    const others = Array.from({ length: config.workers - 1 }, fork);
    await Promise.all(others.map((w) => ready.get(w)));
  } catch (err) {
    stopping = true;
    for (const w of live()) w.process.kill('SIGTERM');
    throw err;
  }
  const started = first as Extract<Message, { baton: 'ready' }>;

  /** Asks `worker` to drain (stop accepting, finish in-flight requests, close the store) and resolves once it exited. */
  const drain = (worker: Worker): Promise<void> =>
    new Promise<void>((resolve) => {
      if (worker.isDead()) return resolve();
      worker.once('exit', () => resolve());
      if (worker.isConnected()) worker.send({ baton: 'stop' } satisfies Message);
      else worker.process.kill('SIGTERM');
    });

  let restarting: Promise<void> | undefined;
  return {
    url: started.url,
    issuer: started.issuer,
    noUsers: started.noUsers,
    async stop() {
      stopping = true;
      for (const timer of respawns) clearTimeout(timer);
      await restarting?.catch(() => undefined);
      await Promise.all(
        Object.values(cluster.workers ?? {})
          .filter((w): w is Worker => w !== undefined)
          .map(drain),
      );
    },
    restart() {
      restarting ??= (async () => {
        try {
          for (const old of live()) {
            if (stopping) return;
            const next = fork();
            retiring.add(next); // a replacement that fails to start is not replaced in turn: the restart stops, the old worker stays
            await ready.get(next);
            retiring.delete(next);
            retiring.add(old);
            await drain(old);
            logger.info({ event: 'worker.restarted', old: old.id, new: next.id }, `worker ${old.id} replaced by worker ${next.id}`);
          }
        } finally {
          restarting = undefined;
        }
      })();
      return restarting;
    },
  };
}
