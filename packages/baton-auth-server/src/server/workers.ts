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
import { BatonError } from 'baton-auth';
import type { ServerConfig } from './config.ts';
import { checkIntegrity } from './files.ts';
import { logDestination, openAuditLog } from './audit-log.ts';
import { isMessage } from './worker-messages.ts';
import type { Message } from './worker-messages.ts';
import { Relay } from './worker-relay.ts';

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

type Ready = Extract<Message, { baton: 'ready' }>;

/** The primary's workers: forked, replaced when one dies, drained, restarted one at a time. */
class Primary {
  stopping = false;
  /** What the first worker to serve said. */
  first: Ready | undefined;
  readonly ready = new Map<Worker, Promise<void>>();
  readonly #born = new Map<Worker, number>();
  readonly #retiring = new Set<Worker>();
  // Workers that serve: a starting one reads the revocations in force from the store once ready.
  readonly #serving = new Set<Worker>();
  #crashes = 0;
  readonly #respawns = new Set<NodeJS.Timeout>();
  #restarting: Promise<void> | undefined;
  readonly relay: Relay;
  readonly #port: number;
  readonly #logger: pino.Logger;

  constructor(port: number, logger: pino.Logger) {
    this.#port = port;
    this.#logger = logger;
    this.relay = new Relay(() => this.live().filter((w) => this.#serving.has(w)), logger);
  }

  live(): Worker[] {
    return Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected());
  }

  fork(): Worker {
    const worker = cluster.fork({ PORT: String(this.#port) });
    // A send to a worker that died a moment ago (still `isConnected()` until its exit is read)
    // fails with EPIPE as an 'error' event: unheard, it would end the primary and every worker.
    // The exit that follows forgets it and replaces it.
    worker.on('error', (err: Error) =>
      this.#logger.warn(
        { event: 'worker.send_failed', worker: worker.id, err: (err as NodeJS.ErrnoException).code ?? err.name },
        `a message to worker ${worker.id} was lost (${(err as NodeJS.ErrnoException).code ?? err.name}): it is exiting`,
      ),
    );
    this.#born.set(worker, Date.now());
    this.ready.set(
      worker,
      new Promise<void>((resolve, reject) => {
        const onMessage = (m: unknown): void => {
          if (!isMessage(m) || m.baton !== 'ready') return;
          this.first ??= m;
          this.#serving.add(worker);
          worker.off('exit', onExit);
          resolve();
        };
        const onExit = (code: number | null, signal: string | null): void =>
          reject(new BatonError('ERR_INTERNAL', `worker ${worker.id} stopped before it served (${signal ?? `exit code ${code}`})`, { public: true }));
        worker.on('message', onMessage);
        worker.once('exit', onExit);
      }),
    );
    this.ready.get(worker)?.catch(() => undefined);
    return worker;
  }

  /** A worker exited: forgotten, and replaced unless it was meant to stop (with a back-off in a crash loop). */
  exited(worker: Worker, code: number | null, signal: string | null): void {
    this.relay.forget(worker);
    const lived = Date.now() - (this.#born.get(worker) ?? 0);
    this.#born.delete(worker);
    this.ready.delete(worker);
    this.#serving.delete(worker);
    if (this.stopping || this.#retiring.has(worker) || this.first === undefined) return;
    // A worker that died soon after it started is part of a crash loop: wait longer each time.
    this.#crashes = lived >= STABLE_MS ? 0 : this.#crashes + 1;
    const delay = this.#crashes === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 250 * 2 ** (this.#crashes - 1));
    this.#logger.error(
      { event: 'worker.exit', exited: worker.id, code, signal, restartInMs: delay },
      `worker ${worker.id} exited (${signal ?? `exit code ${code}`}); a new one starts in ${delay} ms`,
    );
    const timer = setTimeout(() => {
      this.#respawns.delete(timer);
      if (!this.stopping) this.fork();
    }, delay);
    this.#respawns.add(timer);
  }

  /** Asks `worker` to drain (stop accepting, finish in-flight requests, close the store) and resolves once it exited. */
  drain(worker: Worker): Promise<void> {
    return new Promise<void>((resolve) => {
      if (worker.isDead()) return resolve();
      worker.once('exit', () => resolve());
      if (worker.isConnected()) worker.send({ baton: 'stop' } satisfies Message);
      else worker.process.kill('SIGTERM');
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.#respawns) clearTimeout(timer);
    await this.#restarting?.catch(() => undefined);
    await Promise.all(
      Object.values(cluster.workers ?? {})
        .filter((w): w is Worker => w !== undefined)
        .map((w) => this.drain(w)),
    );
  }

  restart(): Promise<void> {
    this.#restarting ??= (async () => {
      try {
        for (const old of this.live()) {
          if (this.stopping) return;
          const next = this.fork();
          this.#retiring.add(next); // a replacement that fails to start is not replaced in turn: the restart stops, the old worker stays
          await this.ready.get(next);
          this.#retiring.delete(next);
          this.#retiring.add(old);
          await this.drain(old);
          this.#logger.info({ event: 'worker.restarted', old: old.id, new: next.id }, `worker ${old.id} replaced by worker ${next.id}`);
        }
      } finally {
        this.#restarting = undefined;
      }
    })();
    return this.#restarting;
  }
}

/**
 * Forks `config.workers` workers of this command (`baton serve`) and keeps them running; resolves
 * once all serve, rejects if one fails to start (its sentence is on standard error).
 */
export async function startCluster(config: ServerConfig): Promise<Cluster> {
  // The database checked once, here: a worker does not (each would read every page again, at every restart).
  await checkIntegrity(config);
  const logger = pino(
    { level: config.logLevel, base: { pid: process.pid, hostname: hostname(), worker: 'primary' } },
    logDestination(config.audit) as pino.DestinationStream,
  );
  // Round-robin (Node's default except on Windows): the primary accepts and hands connections out in turn.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const port = config.port === 0 ? await freePort(config.host) : config.port;
  const primary = new Primary(port, logger);
  // Relays: revocations to every other worker, metrics from all of them.
  // The audit file has one writer, this process: the workers' lines come over IPC (audit-trail.ts).
  const audit = openAuditLog(config.audit);
  cluster.on('message', (from: Worker, m: unknown) => (isMessage(m) && m.baton === 'audit' ? audit.writeLines(m.lines) : primary.relay.receive(from, m)));
  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => primary.exited(worker, code, signal));
  try {
    // The first worker alone, then the others: on a new folder it makes the secret file and sets
    // the database up; all at once, one migrated while another did, or found the secret file
    // beside a database not set up yet and refused it as a lost one.
    const firstWorker = primary.fork();
    await primary.ready.get(firstWorker);
    const others = Array.from({ length: config.workers - 1 }, () => primary.fork());
    await Promise.all(others.map((w) => primary.ready.get(w)));
  } catch (err) {
    primary.stopping = true;
    for (const w of primary.live()) w.process.kill('SIGTERM');
    throw err;
  }
  const started = primary.first as Ready;
  return {
    url: started.url,
    issuer: started.issuer,
    noUsers: started.noUsers,
    stop: () => primary.stop().finally(() => audit.close()),
    restart: () => primary.restart(),
  };
}
