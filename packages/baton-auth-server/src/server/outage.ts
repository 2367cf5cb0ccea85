/**
 * What a store's failure means, and the service's answer to an outage: a failure that says the
 * store is away (a connection refused or lost, a timeout, a busy or full database) becomes
 * `ERR_STORE_UNAVAILABLE` (503 with `Retry-After`), and a call that waited out its timeout marks
 * the store down until a ping answers again.
 */
import { BatonError, isBatonError } from 'baton-auth';
import type { BatonStore } from 'baton-auth';

/** The network errors' codes, in words. */
const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS)',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
};

/** What a network error (or its cause) says, in words, if it is one. */
export function networkError(err: unknown): string | undefined {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const said = NETWORK_ERRORS[(e as { code?: string }).code ?? ''];
    if (said !== undefined) return said;
  }
  return undefined;
}

/** postgres.js's connection codes, and the SQLSTATE classes of a connection lost or a server shutting down. */
const PG_AWAY = new Set(['CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT']);
/** SQLite's result codes for a database that is busy, locked, failing to read or write, or full. */
const SQLITE_AWAY = new Set([5, 6, 10, 13]);
/** ioredis's words for a connection that is not there (it gives them no code). */
const REDIS_AWAY =
  /^(Connection is closed\.|Command timed out|Reached the max retries per request limit|Stream isn't writeable|CLUSTERDOWN|LOADING|TRYAGAIN|MASTERDOWN|READONLY)/;

/** Whether `err` (or a cause of it) says the store is away, rather than that something is wrong with it. */
export function storeAway(err: unknown): boolean {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, errcode, message, name } = e as { code?: unknown; errcode?: unknown; message?: unknown; name?: unknown };
    if (typeof code === 'string' && (NETWORK_ERRORS[code] !== undefined || PG_AWAY.has(code) || /^(08|57P0)/.test(code))) return true;
    if (typeof errcode === 'number' && SQLITE_AWAY.has(errcode & 0xff)) return true;
    if (name === 'MaxRetriesPerRequestError' || (typeof message === 'string' && REDIS_AWAY.test(message))) return true;
  }
  return false;
}

/** ioredis's and postgres.js's words for a call that waited its whole timeout: the slow way a store is away. */
const TIMED_OUT = /^(Command timed out|no answer)/;

/** Whether `err` (or a cause) is a call that waited out its timeout. */
function timedOut(err: unknown): boolean {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (code === 'CONNECT_TIMEOUT' || code === 'ETIMEDOUT' || (typeof message === 'string' && TIMED_OUT.test(message))) return true;
  }
  return false;
}

/** How often a store known to be down is pinged to see whether it is back. */
const REPROBE_MS = 250;
/** The store's methods that never wait for it (or must run whatever its state). */
const NEVER_SHORT_CIRCUITED = new Set(['close', 'subscribe', 'subscribed', 'ping', 'persistenceWarning']);
/**
 * The longest a call waits for the store. postgres.js has no deadline for a query (its
 * `connect_timeout` covers a new connection only), so in a partition a query on a pooled
 * connection waited as long as TCP takes to give up, minutes. A little over Redis's own 5 s
 * command timeout, so that one fires first there.
 */
const CALL_DEADLINE_MS = 6000;
/** Calls that may rightly take long (a sweep of many rows, in the background): no deadline. */
const NO_DEADLINE = new Set(['sweep']);

/**
 * Only a store that is away (a connection refused or lost, a timeout, a busy or full database) is
 * a 503: any other failure (a missing table, a bug) stays a 500 the handler logs, never a silent
 * "try again" while /readyz says ready.
 */
function unavailable(cause: unknown): unknown {
  return isBatonError(cause) || !storeAway(cause) ? cause : new BatonError('ERR_STORE_UNAVAILABLE', 'the store did not answer', { cause });
}

/** The answer of a guarded call while the store is known to be down: at once, without asking it. */
function knownDown(): Promise<never> {
  return Promise.reject(new BatonError('ERR_STORE_UNAVAILABLE', 'the store is known to be down (a call timed out); retrying in the background'));
}

/** A call in flight under its deadline. */
interface InFlight {
  readonly started: number;
  readonly reject: (err: unknown) => void;
}

/**
 * The deadline of every call in flight, on one timer rather than a `setTimeout`, a
 * `Promise.race` and a `finally` per call: a store call is on every request's path (a refresh
 * grant makes one, an introspection two or three), and those cost more than the call's own
 * bookkeeping here (a Set entry). All calls share one deadline, so calls in start order are in
 * deadline order: the timer waits for the oldest, refuses every call past its deadline, and waits
 * for the next oldest. A call is refused between `deadlineMs` and `deadlineMs` plus a timer's lateness.
 */
export class Deadlines {
  readonly #inFlight = new Set<InFlight>();
  readonly #deadlineMs: number;
  readonly #late: () => void;
  #timer: NodeJS.Timeout | undefined;

  /** `late` is called once per call refused for its deadline (the store is then marked down). */
  constructor(deadlineMs: number, late: () => void) {
    this.#deadlineMs = deadlineMs;
    this.#late = late;
  }

  /** `call`'s outcome, or `ERR_STORE_UNAVAILABLE` once it has waited `deadlineMs`. */
  track<T>(call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: InFlight = { started: performance.now(), reject };
      this.#inFlight.add(entry);
      if (this.#timer === undefined) this.#timer = this.#arm(entry.started);
      call.then(
        (value) => {
          this.#inFlight.delete(entry);
          resolve(value);
        },
        (err: unknown) => {
          this.#inFlight.delete(entry);
          reject(err);
        },
      );
    });
  }

  /** Calls in flight (for tests). */
  get size(): number {
    return this.#inFlight.size;
  }

  #arm(oldestStarted: number): NodeJS.Timeout {
    const timer = setTimeout(this.#sweep, Math.max(0, oldestStarted + this.#deadlineMs - performance.now()));
    timer.unref();
    return timer;
  }

  readonly #sweep = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (const entry of this.#inFlight) {
      if (now - entry.started < this.#deadlineMs) {
        this.#timer = this.#arm(entry.started);
        return;
      }
      this.#inFlight.delete(entry);
      this.#late();
      entry.reject(new BatonError('ERR_STORE_UNAVAILABLE', `the store did not answer within ${this.#deadlineMs} ms`));
    }
  };
}

/** Whether a store is known to be down, and the ping that says when it is back. */
interface DownWatch {
  /** Marked down and not answering a ping since. */
  readonly down: boolean;
  /** Marks it down (a call timed out): pings it every REPROBE_MS, one at a time, until one answers. */
  markDown(): void;
  /** Stops pinging (the store is closing). */
  stop(): void;
}

function downWatch(store: BatonStore): DownWatch {
  let probe: NodeJS.Timeout | undefined;
  let probing = false;
  const stop = (): void => {
    clearInterval(probe);
    probe = undefined;
  };
  return {
    get down() {
      return probe !== undefined;
    },
    stop,
    markDown() {
      if (probe !== undefined) return;
      probe = setInterval(() => {
        if (probing) return;
        probing = true;
        store
          .ping()
          .then(stop, () => undefined)
          .finally(() => (probing = false));
      }, REPROBE_MS);
      probe.unref();
    },
  };
}

/**
 * `store` with an asynchronous call's failure that says the store is away (`storeAway`) turned
 * into `ERR_STORE_UNAVAILABLE`, as the engine's guard does for its port: the records and counters
 * the service reads beside it (users, clients, login protection) then answer 503 with
 * `Retry-After` in an outage, never 500 (#22). A `BatonError` passes through; so does a method that
 * answers synchronously.
 *
 * A call that waited out its timeout (a network partition: nothing refused, nothing answers) marks
 * the store down: until a ping (every REPROBE_MS, one at a time) answers again, calls fail at once
 * with `ERR_STORE_UNAVAILABLE` instead of each waiting the driver's timeout (5 s for Redis) first.
 * A driver with no timeout of its own (a PostgreSQL query) gets one: CALL_DEADLINE_MS.
 * A store that refuses fails fast already and is not marked (#22).
 */
export function outageAware<S extends BatonStore>(store: S, deadlineMs = CALL_DEADLINE_MS): S {
  const watch = downWatch(store);
  const deadlines = new Deadlines(deadlineMs, () => watch.markDown());
  const mapError = (err: unknown): Promise<never> => {
    if (!isBatonError(err) && timedOut(err)) watch.markDown();
    return Promise.reject(unavailable(err));
  };
  // One wrapper per method, made at its first use (not a closure per property read): the proxy is
  // on every store call's path.
  const wrapped = new Map<PropertyKey, { of: unknown; fn: unknown }>();
  const wrap = (target: S, key: PropertyKey, value: (...a: unknown[]) => unknown): unknown => {
    if (key === 'close') {
      return () => {
        watch.stop();
        return (value as () => Promise<void>).apply(target);
      };
    }
    const guarded = typeof key === 'string' && !NEVER_SHORT_CIRCUITED.has(key);
    const deadline = guarded && !NO_DEADLINE.has(key as string);
    // Called on the store itself, not the proxy: its methods use private fields.
    return (...args: unknown[]) => {
      if (guarded && watch.down) return knownDown();
      const result = value.apply(target, args);
      if (!(result instanceof Promise)) return result;
      if (!guarded) return result.catch((err: unknown) => Promise.reject(unavailable(err)));
      const settled = result.catch(mapError);
      return deadline ? deadlines.track(settled) : settled;
    };
  };
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const known = wrapped.get(key);
      if (known !== undefined && known.of === value) return known.fn;
      const fn = wrap(target, key, value as (...a: unknown[]) => unknown);
      wrapped.set(key, { of: value, fn });
      return fn;
    },
  });
}
