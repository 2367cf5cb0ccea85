/** `baton serve`: the service, alone, as the primary of BATON_WORKERS, or as one of its workers. */
import cluster from 'node:cluster';
import { resolve } from 'node:path';
import { users } from '../../server/app.ts';
import { logDestination } from '../../server/audit-log.ts';
import { startServer } from '../../server/http-server.ts';
import { startCluster, workerLink } from '../../server/workers.ts';
import { startTracing } from '../../server/tracing.ts';
import type { Tracing } from '../../server/tracing.ts';
import { loadConfig, redactUrl } from '../../server/config.ts';
import { settingsHelp, TRACES_HELP } from '../../server/settings.ts';
import type { ServerConfig } from '../../server/config.ts';
import { announceRuntime, runtimeFile } from '../../server/runtime.ts';
import type { Announcement } from '../../server/runtime.ts';
import { program, BATON } from '../program.ts';

/** The audit file the runtime file announces to `baton` commands (an absolute path), if the service writes one. */
const auditFileOf = (config: ServerConfig): { audit?: string } => (config.audit.to === 'file' ? { audit: resolve(config.audit.path) } : {});

/** What the service says to a person: standard output, or standard error when the audit trail has standard output. */
let say: (message: string) => void = console.info;

program
  .command('serve')
  .description('run the token service, configured by the environment (the variables below)')
  .addHelpText('after', `\nEnvironment (docs/configuration.md):\n${settingsHelp()}\n\n${TRACES_HELP} (docs/operations.md).`)
  .option('--fresh-start', 'start with no users although the secret file of the embedded store exists (its database was lost on purpose)')
  .action(async (opts: { freshStart?: boolean }) => {
    const config = { ...loadConfig(), ...(opts.freshStart ? { freshStart: true } : {}) };
    if (config.audit.to === 'stdout') say = console.error;
    if (cluster.isWorker) return serveWorker(config);
    if (config.workers > 1) return serveCluster(config);
    const tracing = await startTracing();
    const { url, stop, service } = withTracing(await startServer(config), tracing);
    // A memory: store is announced nowhere: no command can reach it.
    let announced: Announcement | undefined;
    try {
      if (config.store !== 'memory:')
        announced = announceRuntime(runtimeFile(), { url, issuer: service.baton.issuer, store: config.store, ...auditFileOf(config) });
    } catch (err) {
      await stop();
      throw err;
    }
    say(`Baton listening on ${url} (issuer ${service.baton.issuer}, store ${redactUrl(config.store)})`);
    if (announced?.sharedWith !== undefined)
      say(
        `Process ${announced.sharedWith}, an instance of the same store and issuer, is the one announced in ${runtimeFile()}; \`baton\` commands act on the store they share.`,
      );
    if (config.store === 'memory:') say('The store is memory: users, clients and sessions live in this process only, and no `baton` command can reach them.');
    else if ((await users.list(service.store)).length === 0) say(`No users yet. Create one with: ${BATON} users add <name>`);
    if (!config.cookieSecure) console.warn('Warning: BATON_COOKIE_SECURE is off; refresh cookies travel without Secure (plain-http localhost only).');
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        say(`${signal}: finishing in-flight requests…`);
        announced?.remove();
        stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      });
    }
  });

/** The server, whose stop also sends the last spans (`server/tracing.ts`). */
function withTracing<S extends { stop: () => Promise<void> }>(started: S, tracing: Tracing | undefined): S {
  if (tracing === undefined) return started;
  return {
    ...started,
    stop: async () => {
      try {
        await started.stop();
      } finally {
        await tracing.shutdown();
      }
    },
  };
}

/** BATON_WORKERS > 1: this process is the primary; it serves nothing itself (`server/workers.ts`). */
async function serveCluster(config: ServerConfig): Promise<void> {
  const workers = await startCluster(config);
  let announced: Announcement;
  try {
    announced = announceRuntime(runtimeFile(), { url: workers.url, issuer: workers.issuer, store: config.store, ...auditFileOf(config) });
  } catch (err) {
    await workers.stop();
    throw err;
  }
  say(`Baton listening on ${workers.url} (issuer ${workers.issuer}, store ${redactUrl(config.store)}, ${config.workers} workers)`);
  if (announced.sharedWith !== undefined)
    say(
      `Process ${announced.sharedWith}, an instance of the same store and issuer, is the one announced in ${runtimeFile()}; \`baton\` commands act on the store they share.`,
    );
  if (workers.noUsers) say(`No users yet. Create one with: ${BATON} users add <name>`);
  if (!config.cookieSecure) console.warn('Warning: BATON_COOKIE_SECURE is off; refresh cookies travel without Secure (plain-http localhost only).');
  // SIGHUP: a rolling restart (new code, a new secret file), one worker at a time, each replaced once its successor serves.
  process.on('SIGHUP', () => {
    say('SIGHUP: restarting the workers one at a time…');
    workers.restart().then(
      () => say('SIGHUP: every worker restarted.'),
      (err: unknown) => console.error(`baton: the rolling restart stopped: ${(err as Error).message}; the workers that were not replaced keep serving.`),
    );
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      say(`${signal}: finishing in-flight requests in every worker…`);
      announced.remove();
      workers.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}

/** One of BATON_WORKERS: a whole service on the shared port; the primary tells it when to stop. */
async function serveWorker(config: ServerConfig): Promise<void> {
  const link = workerLink(config.logLevel, logDestination(config.audit));
  // Each worker exports its own spans (the primary serves no request).
  const tracing = await startTracing();
  const { url, stop, service } = withTracing(await startServer(config, link), tracing);
  const noUsers = link.id === 1 && (await users.list(service.store)).length === 0;
  process.send?.({ baton: 'ready', url, issuer: service.baton.issuer, noUsers });
  let stopping = false;
  const finish = (): void => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('message', (m: { baton?: string }) => m?.baton === 'stop' && finish());
  // A signal to the process group (Ctrl-C) reaches the workers too; a primary that is gone leaves no one to answer to.
  process.on('SIGTERM', finish);
  process.on('SIGINT', finish);
  process.on('disconnect', finish);
}
