/**
 * The store's install record, watched: a store that lost its data (a Redis restarted without
 * persistence forgets users, clients, keys, sessions, revocations and limits alike) must never
 * become a fresh install silently (#22). Every instance remembers the install record it started
 * with (`custody.ts` writes it once, at the first set-up) and reads it again every few seconds and
 * at each readiness check: while the store no longer holds it, the instance is not ready, says why
 * once in the log at error level, answers 503 at the endpoints that need the store, and writes no
 * keys there. It comes back by itself when the store is restored from a backup; `baton store init`
 * starts afresh on purpose, after which the instances are restarted.
 */
import type { BatonStore } from 'baton-auth';
import { errorTable } from 'baton-auth/errors';
import type pino from 'pino';
import { bootstrapClients } from './clients.ts';
import { redactUrl } from './config.ts';
import type { ServerConfig } from './config.ts';
import { CONFIG_KIND, INITIALIZED, RESET, installedAt, openCustody } from './custody.ts';
import { connectStore } from './store.ts';
import { batonCommand } from '../cli/command.ts';

const BATON = batonCommand();
const INSTALL_RECORD = INITIALIZED;

/** How often a running instance reads the install record again (a readiness check reads it too). */
export const INSTALL_CHECK_MS = 5000;
/** The least time between two reads of it. */
const MIN_READ_GAP_MS = 1000;

/** What a running instance knows of its store's install record. */
export interface InstallWatch {
  /** The reason (for `/readyz`, with no host in it) while the store does not hold this instance's install record; else undefined. */
  lost(): string | undefined;
  /** Reads the install record now (one read; concurrent calls share it). A store that does not answer changes nothing: that is the store check's. */
  check(): Promise<void>;
  stop(): void;
}

/**
 * Watches the install record `install` (as this instance started with it) in `store`, every
 * `intervalMs`; the log line names the store by its `BATON_STORE`, passwords out.
 */
export function watchInstall(store: BatonStore, install: string, storeUrl: string, logger: pino.Logger, intervalMs = INSTALL_CHECK_MS): InstallWatch {
  const where = `BATON_STORE=${redactUrl(storeUrl)}`;
  let reason: string | undefined;
  let said: string | null = install; // the record the last log line was about
  let pending: Promise<void> | undefined;
  const read = async (): Promise<void> => {
    let now: string | null;
    try {
      now = await store.getRecord(CONFIG_KIND, INSTALL_RECORD);
    } catch {
      return; // away: the store check says so
    }
    if (now === said) return;
    said = now;
    if (now === install) {
      reason = undefined;
      logger.info({ event: 'store.restored' }, `The store at ${where} holds this instance's install record again: ready.`);
    } else if (now === null && (await store.getRecord(CONFIG_KIND, RESET).catch(() => null)) !== null) {
      // `baton keys reset` on purpose, not a loss: the next start makes new keys.
      reason = 'its keys were reset on purpose (`baton keys reset`): restart this instance';
      logger.error(
        { event: 'store.keys_reset' },
        `The store at ${where} had its keys reset on purpose (\`${BATON} keys reset\`): this instance holds the old keys and answers 503; restart it.`,
      );
    } else if (now === null) {
      reason =
        'lost its data (was it restarted without persistence?): restore it from a backup, or start afresh with `baton store init` and restart every instance; the log says more';
      logger.error(
        { event: 'store.lost' },
        `The store at ${where} lost its data (was it restarted without persistence?): its install record of ${installedAt(install)} is gone, and with it users, clients, keys, sessions, revocations and login limits. This instance answers 503 and writes no keys there until it is back: restore the store from a backup (the instance becomes ready again by itself), or start afresh on purpose with \`${BATON} store init\` and restart every instance (users and clients must then be added again).`,
      );
    } else {
      reason = 'set up anew after this instance started (`baton store init`): restart this instance';
      logger.error(
        { event: 'store.reinitialized' },
        `The store at ${where} was set up anew (install record of ${installedAt(now)}, not the one of ${installedAt(install)} this instance started with): this instance holds the old keys and answers 503; restart it.`,
      );
    }
  };
  // At most one read at a time and one a second, however often /readyz (unauthenticated) is asked.
  let lastRead = 0;
  const check = (): Promise<void> => {
    if (pending === undefined && performance.now() - lastRead < MIN_READ_GAP_MS) return Promise.resolve();
    return (pending ??= read().finally(() => {
      pending = undefined;
      lastRead = performance.now();
    }));
  };
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  return { lost: () => reason, check, stop: () => clearInterval(timer) };
}

/** The readiness check's part: the install record read now (a readiness probe sees a loss at once), then the verdict. */
export function storeLost(watch: InstallWatch): () => Promise<string | undefined> {
  return async () => {
    await watch.check();
    return watch.lost();
  };
}

/** The answer of an endpoint while the store lost its data: 503 and Retry-After (RFC 9110 §15.6.4); the reason is in the log and at /readyz. */
export function lostAnswer(): Response {
  const { status, error, message } = errorTable.ERR_STORE_UNAVAILABLE;
  return new Response(JSON.stringify({ error, error_description: message }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'retry-after': '5' },
  });
}

/**
 * `baton store init`: sets up the store `config` names — its sealed keys, its install record, the
 * service's clients — when it holds none; a store already set up is left as it is. Answers when
 * the store was set up, and whether this call did it.
 */
export async function initStore(config: ServerConfig): Promise<{ created: boolean; installedAt: string }> {
  const store = await connectStore(config.store);
  try {
    const before = await store.getRecord(CONFIG_KIND, INSTALL_RECORD);
    const custody = await openCustody(config, store, { init: true });
    // Only a store this call set up: on a live one, the command's environment (an operator's shell,
    // without the service's BATON_INTROSPECTION_SECRET) would delete or replace the service's clients.
    if (before === null) await bootstrapClients(store, config.introspectionSecret);
    return { created: before === null, installedAt: installedAt(custody.install) };
  } finally {
    await store.close();
  }
}
