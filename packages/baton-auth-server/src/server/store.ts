/**
 * The store a `BATON_STORE` URL names: opened with its driver loaded only when used, and reached
 * within a bounded time at start-up, or a sentence naming the setting and what went wrong.
 */
import { connect } from 'node:net';
import { BatonConfigError, BatonError } from 'baton-auth';
import type { BatonStore } from 'baton-auth';
import { redactIn, redactUrl } from './config.ts';
import { checkLocalStore } from './files.ts';
import { networkError } from './outage.ts';

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
