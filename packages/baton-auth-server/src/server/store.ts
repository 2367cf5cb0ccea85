/**
 * The store a `BATON_STORE` URL names: opened with its driver loaded only when used, and reached
 * within a bounded time at start-up, or a sentence naming the setting and what went wrong.
 */
import { connect } from 'node:net';
import { BatonConfigError, BatonError, isBatonError } from 'baton-auth';
import type { BatonStore } from 'baton-auth';
import { redactIn, redactUrl } from './config.ts';
import { checkLocalStore } from './files.ts';

/** Opens the store a `BATON_STORE` URL names; drivers are loaded only when used. */
export async function openStore(url: string): Promise<BatonStore> {
  if (url === 'memory:') return (await import('baton-auth/stores/memory')).memoryStore();
  if (url.startsWith('sqlite:')) {
    checkLocalStore(url);
    return (await import('baton-auth/stores/sqlite')).sqliteStore({ path: url.slice('sqlite:'.length) });
  }
  if (/^(rediss?|redis\+cluster):\/\//.test(url)) return (await import('baton-auth/stores/redis')).redisStore({ url });
  if (/^postgres(ql)?:\/\//.test(url)) return (await import('baton-auth/stores/postgres')).postgresStore({ url });
  throw new BatonConfigError(
    `BATON_STORE ${redactUrl(url)} is no store Baton knows: use sqlite:<path>, memory:, redis://…, rediss://…, redis+cluster://… or postgres://….`,
  );
}

/** How long the store has to answer its first round trip at start-up. */
const STORE_TIMEOUT_MS = 5000;

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
function networkError(err: unknown): string | undefined {
  for (let e = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const said = NETWORK_ERRORS[(e as { code?: string }).code ?? ''];
    if (said !== undefined) return said;
  }
  return undefined;
}

/** Why a network store did not answer, from a plain TCP connection to its (first) host. */
function probe(url: string): Promise<string | undefined> {
  const m = /^[a-z+]+:\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^,/:?]+)(?::(\d+))?/i.exec(url);
  if (m === null || url.startsWith('sqlite:')) return Promise.resolve(undefined);
  const host = (m[1] as string).replace(/^\[|\]$/g, '');
  const port = Number(m[2] ?? (url.startsWith('postgres') ? 5432 : 6379));
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    const done = (why: string | undefined) => {
      socket.destroy();
      resolve(why);
    };
    socket
      .once('connect', () => done(undefined))
      .once('timeout', () => done('no answer'))
      .once('error', (err) => done(networkError(err) ?? 'connection failed'));
  });
}

/**
 * Opens the store and makes its first round trip within STORE_TIMEOUT_MS (retrying, for a store
 * that starts at the same time): an unreachable store fails with a sentence instead of hanging.
 */
export async function connectStore(url: string): Promise<BatonStore> {
  const where = `BATON_STORE=${redactUrl(url)}`;
  const safe = (message: string): string => redactIn(message, url);
  let store: BatonStore;
  try {
    store = await openStore(url);
  } catch (err) {
    throw new BatonConfigError(`Cannot open the store at ${where}: ${safe((err as Error).message)}`, { cause: err });
  }
  const deadline = Date.now() + STORE_TIMEOUT_MS;
  let last: unknown;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>(
      (_, reject) => (timer = setTimeout(reject, Math.max(deadline - Date.now(), 0), new BatonError('ERR_STORE_UNAVAILABLE', 'no answer', { public: true }))),
    );
    const answer = store.ping();
    answer.catch(() => undefined); // it may still fail after the timeout: never unhandled
    try {
      await Promise.race([answer, timeout]);
      return store;
    } catch (err) {
      last = err;
    } finally {
      clearTimeout(timer);
    }
    if (Date.now() + 250 >= deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await Promise.race([store.close().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
  const unreachable = networkError(last) ?? (await probe(url));
  if (unreachable !== undefined)
    throw new BatonConfigError(`Cannot reach the store at ${where} within ${STORE_TIMEOUT_MS / 1000} s: ${unreachable}. Is it running?`, { cause: last });
  // It answered, with an error (a missing database, a wrong password): what it said, secrets out.
  throw new BatonConfigError(`The store at ${where} kept failing for ${STORE_TIMEOUT_MS / 1000} s: ${safe((last as Error).message ?? String(last))}`, {
    cause: last,
  });
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
  // Only a store that is away (a connection refused or lost, a timeout, a busy or full database)
  // is a 503: any other failure (a missing table, a bug) stays a 500 the handler logs, never a
  // silent "try again" while /readyz says ready.
  const unavailable = (cause: unknown): unknown =>
    isBatonError(cause) || !storeAway(cause) ? cause : new BatonError('ERR_STORE_UNAVAILABLE', 'the store did not answer', { cause });
  let probe: NodeJS.Timeout | undefined;
  let probing = false;
  const markDown = (): void => {
    if (probe !== undefined) return;
    probe = setInterval(() => {
      if (probing) return;
      probing = true;
      store
        .ping()
        .then(
          () => {
            clearInterval(probe);
            probe = undefined;
          },
          () => undefined,
        )
        .finally(() => (probing = false));
    }, REPROBE_MS);
    probe.unref();
  };
  const down = (): Promise<never> =>
    Promise.reject(new BatonError('ERR_STORE_UNAVAILABLE', 'the store is known to be down (a call timed out); retrying in the background'));
  /** `call`, or a 503 once it has waited CALL_DEADLINE_MS (the store then marked down). */
  const deadline = <T>(call: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        markDown();
        reject(new BatonError('ERR_STORE_UNAVAILABLE', `the store did not answer within ${CALL_DEADLINE_MS} ms`));
      }, CALL_DEADLINE_MS);
      timer.unref();
    });
    return Promise.race([call, late]).finally(() => clearTimeout(timer));
  };
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (key === 'close') {
        return () => {
          clearInterval(probe);
          probe = undefined;
          return (value as () => Promise<void>).apply(target);
        };
      }
      const guarded = typeof key === 'string' && !NEVER_SHORT_CIRCUITED.has(key);
      // Called on the store itself, not the proxy: its methods use private fields.
      return (...args: unknown[]) => {
        if (guarded && probe !== undefined) return down();
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        const settled = result.catch((err: unknown) => {
          if (guarded && !isBatonError(err) && timedOut(err)) markDown();
          return Promise.reject(unavailable(err));
        });
        return guarded && !NO_DEADLINE.has(key) ? deadline(settled) : settled;
      };
    },
  });
}
