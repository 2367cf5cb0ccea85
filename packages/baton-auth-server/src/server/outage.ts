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

/** `call`, or a 503 once it has waited CALL_DEADLINE_MS (`late` is then called: the store is marked down). */
function withDeadline<T>(call: Promise<T>, late: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      late();
      reject(new BatonError('ERR_STORE_UNAVAILABLE', `the store did not answer within ${CALL_DEADLINE_MS} ms`));
    }, CALL_DEADLINE_MS);
    timer.unref();
  });
  return Promise.race([call, expired]).finally(() => clearTimeout(timer));
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
export function outageAware<S extends BatonStore>(store: S): S {
  const watch = downWatch(store);
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (key === 'close') {
        return () => {
          watch.stop();
          return (value as () => Promise<void>).apply(target);
        };
      }
      const guarded = typeof key === 'string' && !NEVER_SHORT_CIRCUITED.has(key);
      // Called on the store itself, not the proxy: its methods use private fields.
      return (...args: unknown[]) => {
        if (guarded && watch.down) return knownDown();
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        const settled = result.catch((err: unknown) => {
          if (guarded && !isBatonError(err) && timedOut(err)) watch.markDown();
          return Promise.reject(unavailable(err));
        });
        return guarded && !NO_DEADLINE.has(key) ? withDeadline(settled, () => watch.markDown()) : settled;
      };
    },
  });
}
