/** What a running service does on a schedule: reload keys rotated elsewhere, and sweep expired records. */
import { toMs } from 'baton-auth';
import type { Baton, BatonStore } from 'baton-auth';
import type pino from 'pino';
import type { ServerConfig } from './config.ts';
import { readRing } from './custody.ts';
import type { Custody } from './custody.ts';
import type { watchInstall } from './install.ts';

/** Starts the key reload and the sweep; the caller stops them on close. */
export function schedule(
  baton: Baton,
  custody: Custody,
  store: BatonStore,
  install: ReturnType<typeof watchInstall>,
  config: ServerConfig,
  logger: pino.Logger,
): { reload: NodeJS.Timeout; stopKeyEvents: () => void; sweep: NodeJS.Timeout | undefined } {
  // Keys rotated by another instance (`baton keys rotate`) reach this one within BATON_KEY_RELOAD;
  // the new signing key was published one rotation earlier, so no valid token is refused meanwhile.
  // A key revoked elsewhere (`baton keys revoke`) arrives through the revocation feed at once.
  const reloadKeys = (): void => {
    if (install.lost() !== undefined) return; // a store that lost its data, or was set up anew, has no keys for this instance
    readRing(custody, store).then(
      (saved) => {
        const now = baton.now(); // the engine's steady clock: a step of the wall clock retires no key early
        if (saved !== null && baton.keys.sync(saved, now)) logger.info({ event: 'keys.reloaded' }, 'keys reloaded');
        baton.keys.prune(now);
      },
      (err: unknown) => logger.warn({ event: 'keys.reload_failed' }, (err as Error).message),
    );
  };
  const reload = setInterval(reloadKeys, toMs(config.keyReload, 'BATON_KEY_RELOAD'));
  reload.unref();
  const stopKeyEvents = baton.onRevocation((event) => {
    if (event.kind === 'key') reloadKeys();
  });
  // Expired sessions, denylist entries and counters (failed logins) go on a schedule.
  const sweep =
    config.sweepIntervalMs === false
      ? undefined
      : setInterval(() => {
          baton.sweep().then(
            (removed) => logger.debug({ event: 'sweep', removed }, 'expired records swept'),
            (err: unknown) => logger.warn({ event: 'sweep.failed', err: err instanceof Error ? err.name : typeof err }, 'sweep failed'),
          );
        }, config.sweepIntervalMs);
  sweep?.unref();
  return { reload, stopKeyEvents, sweep };
}
