#!/usr/bin/env node
/**
 * The `baton` command: run the service and manage its users, keys and sessions.
 * `npm run baton -- --help` in the repository, `npx baton --help` where it is installed.
 */
import cluster from 'node:cluster';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { isBatonError } from 'baton-auth';
import type { KeyAlg } from 'baton-auth';
import { resetFailures } from 'baton-auth/http';
import { connectStore, createEngine, initStore, startServer, users } from '../server/app.ts';
import { clients } from '../server/clients.ts';
import { startCluster, workerLink } from '../server/workers.ts';
import { loadConfig, redactUrl } from '../server/config.ts';
import { settingsHelp } from '../server/settings.ts';
import type { ServerConfig } from '../server/config.ts';
import { defaultSecretFile, generateSecret, openCustody, resetKeys, rotateSecret, sealLegacyKeys, serviceSecret, unseal } from '../server/custody.ts';
import { checkLocalStore, checkPrivate, privateDir, sqlitePath } from '../server/files.ts';
import { announceRuntime, canonicalStore, readRuntime, runtimeFile } from '../server/runtime.ts';
import type { Announcement } from '../server/runtime.ts';
import { CliError, commandConfig, readPassword, readStdin, userNamed, withEngine, withStore } from './support.ts';
import { batonCommand } from './command.ts';

const BATON = batonCommand();

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const program = new Command('baton')
  .description('Baton token service: access and refresh tokens for web APIs')
  .version(VERSION, '-V, --version', 'print the version')
  .addHelpText('after', `\nEach command has its own help, e.g. ${BATON} users add --help.`)
  .showHelpAfterError();

program.command('serve')
  .description('run the token service, configured by the environment (the variables below)')
  .addHelpText('after', `\nEnvironment (docs/configuration.md):\n${settingsHelp()}`)
  .option('--fresh-start', 'start with no users although the secret file of the embedded store exists (its database was lost on purpose)')
  .action(async (opts: { freshStart?: boolean }) => {
    const config = { ...loadConfig(), ...(opts.freshStart ? { freshStart: true } : {}) };
    if (cluster.isWorker) return serveWorker(config);
    if (config.workers > 1) return serveCluster(config);
    const { url, stop, service } = await startServer(config);
    // A memory: store is announced nowhere: no command can reach it.
    let announced: Announcement | undefined;
    try {
      if (config.store !== 'memory:') announced = announceRuntime(runtimeFile(), { url, issuer: service.baton.issuer, store: config.store });
    } catch (err) {
      await stop();
      throw err;
    }
    console.info(`Baton listening on ${url} (issuer ${service.baton.issuer}, store ${redactUrl(config.store)})`);
    if (announced?.sharedWith !== undefined) console.info(`Process ${announced.sharedWith}, an instance of the same store and issuer, is the one announced in ${runtimeFile()}; \`baton\` commands act on the store they share.`);
    if (config.store === 'memory:') console.info('The store is memory: users, clients and sessions live in this process only, and no `baton` command can reach them.');
    else if ((await users.list(service.store)).length === 0) console.info(`No users yet. Create one with: ${BATON} users add <name>`);
    if (!config.cookieSecure) console.warn('Warning: BATON_COOKIE_SECURE is off; refresh cookies travel without Secure (plain-http localhost only).');
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        console.info(`${signal}: finishing in-flight requests…`);
        announced?.remove();
        stop().then(() => process.exit(0), () => process.exit(1));
      });
    }
  });

/** BATON_WORKERS > 1: this process is the primary; it serves nothing itself (`server/workers.ts`). */
async function serveCluster(config: ServerConfig): Promise<void> {
  const workers = await startCluster(config);
  let announced: Announcement;
  try {
    announced = announceRuntime(runtimeFile(), { url: workers.url, issuer: workers.issuer, store: config.store });
  } catch (err) {
    await workers.stop();
    throw err;
  }
  console.info(`Baton listening on ${workers.url} (issuer ${workers.issuer}, store ${redactUrl(config.store)}, ${config.workers} workers)`);
  if (announced.sharedWith !== undefined) console.info(`Process ${announced.sharedWith}, an instance of the same store and issuer, is the one announced in ${runtimeFile()}; \`baton\` commands act on the store they share.`);
  if (workers.noUsers) console.info(`No users yet. Create one with: ${BATON} users add <name>`);
  if (!config.cookieSecure) console.warn('Warning: BATON_COOKIE_SECURE is off; refresh cookies travel without Secure (plain-http localhost only).');
  // SIGHUP: a rolling restart (new code, a new secret file), one worker at a time, each replaced once its successor serves.
  process.on('SIGHUP', () => {
    console.info('SIGHUP: restarting the workers one at a time…');
    workers.restart().then(() => console.info('SIGHUP: every worker restarted.'), (err: unknown) => console.error(`baton: the rolling restart stopped: ${(err as Error).message}; the workers that were not replaced keep serving.`));
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      console.info(`${signal}: finishing in-flight requests in every worker…`);
      announced.remove();
      workers.stop().then(() => process.exit(0), () => process.exit(1));
    });
  }
}

/** One of BATON_WORKERS: a whole service on the shared port; the primary tells it when to stop. */
async function serveWorker(config: ServerConfig): Promise<void> {
  const link = workerLink(config.logLevel);
  const { url, stop, service } = await startServer(config, link);
  const noUsers = link.id === 1 && (await users.list(service.store)).length === 0;
  process.send?.({ baton: 'ready', url, issuer: service.baton.issuer, noUsers });
  let stopping = false;
  const finish = (): void => {
    if (stopping) return;
    stopping = true;
    stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('message', (m: { baton?: string }) => m?.baton === 'stop' && finish());
  // A signal to the process group (Ctrl-C) reaches the workers too; a primary that is gone leaves no one to answer to.
  process.on('SIGTERM', finish);
  process.on('SIGINT', finish);
  process.on('disconnect', finish);
}

const usersCmd = program.command('users').description('manage the users of the standalone service');
usersCmd.command('add <name>')
  .description('create a user (password from a prompt, or from standard input with --password-stdin)')
  .option('--password-stdin', 'read the password from standard input')
  .option('--scopes <scopes>', 'the scopes the user may be granted, space-separated', '')
  .action(async (name: string, opts: { passwordStdin?: boolean; scopes: string }) => {
    const password = await readPassword(opts.passwordStdin === true, `${BATON} users add ${name}`);
    const user = await withStore((store) => users.add(store, name, password, opts.scopes));
    console.info(`Created user ${user.username} (${user.id})${user.scopes.length ? ` with scopes ${user.scopes.join(' ')}` : ''}.`);
  });
usersCmd.command('list').description('list users').action(async () => {
  const all = await withStore((store) => users.list(store));
  for (const u of all) console.info(`${u.username}\t${u.id}\t${new Date(u.createdAt).toISOString()}\t${u.scopes.join(' ')}`);
  if (all.length === 0) console.info('No users.');
});
usersCmd.command('scopes <name> <scopes>')
  .description('set the scopes a user may be granted (space-separated, quoted; "" for none)')
  .action(async (name: string, scopes: string) => {
    const user = await withStore((store) => users.setScopes(store, name, scopes));
    console.info(`${user.username} may be granted: ${user.scopes.join(' ') || '(no scope)'}.`);
  });
usersCmd.command('passwd <name>')
  .description("change a user's password; every session of theirs ends (password_changed)")
  .option('--password-stdin', 'read the new password from standard input')
  .action(async (name: string, opts: { passwordStdin?: boolean }) => {
    const password = await readPassword(opts.passwordStdin === true, `${BATON} users passwd ${name}`);
    const ended = await withEngine(async (baton, store) => {
      const user = await users.setPassword(store, name, password);
      return baton.passwordChanged(user.id);
    });
    console.info(`Changed the password of ${name}; ${ended.length} session(s) ended (password_changed).`);
  });
usersCmd.command('remove <name>').description('delete a user and revoke their sessions').action(async (name: string) => {
  await withEngine(async (baton, store) => {
    const user = await userNamed(store, name);
    await baton.revokeUserSessions(user.id, { reason: 'user removed' });
    await users.remove(store, name);
  });
  console.info(`Removed ${name}.`);
});


const clientsCmd = program.command('clients').description('OAuth clients: who may ask for tokens, with which scopes');
clientsCmd.command('add <id>')
  .description('register a client; a confidential one gets a secret, printed once and stored only as a hash')
  .option('--scopes <scopes>', 'the scopes it may ask for, space-separated', '')
  .option('--confidential', 'a backend or resource server that authenticates with a secret (client_secret_basic / client_secret_post)')
  .option('--introspect', 'a resource server that may introspect any client\'s tokens (confidential)')
  .option('--resource <uris...>', 'the APIs (RFC 8707 resource URIs, among BATON_RESOURCES) it may ask tokens for; default all')
  .option('--client-credentials', 'may get tokens for itself with the client_credentials grant (confidential)')
  .option('--dpop <policy>', 'required: every token request must carry a DPoP proof (RFC 9449), so every session and token is bound to a key; allowed: bind when a proof comes', 'allowed')
  .action(async (id: string, opts: { scopes: string; confidential?: boolean; introspect?: boolean; resource?: string[]; clientCredentials?: boolean; dpop: string }) => {
    const { client, secret } = await withStore((store) => clients.add(store, id, {
      scopes: opts.scopes, confidential: opts.confidential === true, introspect: opts.introspect === true, clientCredentials: opts.clientCredentials === true, dpop: opts.dpop,
      ...(opts.resource === undefined ? {} : { resources: opts.resource }),
    }));
    console.info(`Registered ${client.type} client ${client.id}${client.scopes?.length ? ` (scopes: ${client.scopes.join(' ')})` : ''}${client.resources ? ` for ${client.resources.join(' ')}` : ''}${client.dpop === 'required' ? ', DPoP required' : ''}.`);
    if (secret !== undefined) console.info(`Its secret, shown only now:\n${secret}`);
  });
clientsCmd.command('list').description('list clients (never their secrets)').action(async () => {
  for (const c of await withStore((store) => clients.list(store))) console.info(`${c.id}\t${c.type}${c.introspect ? ', introspects' : ''}${c.grantTypes?.length ? `, ${c.grantTypes.join(', ')}` : ''}${c.dpop === 'required' ? ', DPoP required' : ''}\t${c.scopes === undefined ? '(no limit)' : c.scopes.join(' ') || '(no scope)'}\t${c.resources?.join(' ') ?? '(every resource)'}`);
});
clientsCmd.command('scopes <id> <scopes>').description('set the scopes a client may ask for').action(async (id: string, scopes: string) => {
  const client = await withStore((store) => clients.setScopes(store, id, scopes));
  console.info(`${client.id} may ask for: ${(client.scopes ?? []).join(' ') || '(no scope)'}.`);
});
clientsCmd.command('remove <id>').description('delete a client (its sessions can no longer refresh)').action(async (id: string) => {
  if (!(await withStore((store) => clients.remove(store, id)))) throw new CliError(`There is no client ${id}.`);
  console.info(`Removed ${id}.`);
});

const keysCmd = program.command('keys').description('signing, encryption and refresh-token keys, sealed in the store');
keysCmd.command('list').description('list keys (never their secrets)').action(async () => {
  await withStore(async (store) => {
    const { ring } = await openCustody(commandConfig(), store);
    for (const k of ring.list()) console.info(`${k.kid}\t${k.use}\t${k.alg}\t${k.status}${k.retiredAt ? `\tretired ${new Date(k.retiredAt).toISOString()}` : ''}`);
  });
});
keysCmd.command('rotate')
  .description('the published next key starts signing; the old one retires and verifies until its last token expires, then leaves')
  .option('--alg <alg>', 'switch the signing algorithm (HS256, ES256, EdDSA, RS256, PS256)')
  .option('--refresh', 'rotate the refresh-token key instead: tokens it minted keep working until they are used or expire')
  .action(async (opts: { alg?: string; refresh?: boolean }) => {
    const use = opts.refresh ? 'refresh' : 'sig';
    if (opts.alg !== undefined && (opts.refresh || !['HS256', 'ES256', 'EdDSA', 'RS256', 'PS256'].includes(opts.alg))) throw new CliError('--alg is HS256, ES256, EdDSA, RS256 or PS256, for signing keys.');
    const { active, next, dropped } = await withEngine((baton) => baton.rotateKeys(use, opts.alg as KeyAlg | undefined));
    console.info(`${use === 'refresh' ? 'Refresh tokens are minted with' : 'Signing with'} ${active}; ${next} is published for the next rotation.${dropped.length ? ` Dropped: ${dropped.join(', ')}.` : ''}`);
  });

keysCmd.command('revoke <kid>')
  .description('take a key out of service at once, on every instance (a compromised key): tokens it signed stop verifying')
  .action(async (kid: string) => {
    if (!(await withEngine((baton) => baton.revokeKey(kid)))) throw new CliError(`There is no key ${kid} (see \`keys list\`).`);
    console.info(`Revoked ${kid}: every instance drops it now, and nothing it signed verifies any more.`);
  });

keysCmd.command('seal-legacy')
  .description('seal the keys a Baton 0.1 store kept in the clear, and delete the clear copies (once, after upgrading)')
  .action(async () => {
    const count = await withStore((store) => sealLegacyKeys(commandConfig(), store));
    console.info(`Sealed ${count} keys. Copies of the store made before this could mint tokens: run \`keys rotate\` and \`keys rotate --refresh\` now and again a token lifetime later.`);
  });
keysCmd.command('reset')
  .description('forget the key ring on purpose: the next start makes new keys and every session must sign in again')
  .option('--yes', 'confirm')
  .action(async (opts: { yes?: boolean }) => {
    if (!opts.yes) throw new CliError('This signs everyone out. Run again with --yes to confirm.');
    await withStore((store) => resetKeys(store));
    console.info('The key ring is gone; the next start makes new keys.');
  });

const storeCmd = program.command('store').description('the store itself');
storeCmd.command('init')
  .description('set up an empty store (keys, install record, the service\'s clients): once for a new Redis, or to start afresh after a store lost its data; a store already set up is left as it is')
  .action(async () => {
    const { created, installedAt } = await initStore(commandConfig());
    console.info(created
      ? `Set up the store (install record of ${installedAt}). Add users with \`${BATON} users add <name>\`; restart any instance that was running on it.`
      : `The store is already set up (install record of ${installedAt}); nothing changed.`);
  });

const secretCmd = program.command('secret').description('the service secret that seals the keys in the store');
secretCmd.command('generate').description('print a new random service secret (for BATON_SECRET or BATON_SECRET_FILE)').action(() => {
  console.info(generateSecret());
});
secretCmd.command('rotate')
  .description('re-seal the keys under a new service secret (the embedded default writes its secret file; otherwise give the new secret)')
  .option('--new-secret-file <path>', 'the file holding the new secret')
  .option('--new-secret-stdin', 'read the new secret from standard input')
  .action(async (opts: { newSecretFile?: string; newSecretStdin?: boolean }) => {
    await withStore(async (store) => {
      const custody = await openCustody(commandConfig(), store);
      let next: string;
      if (opts.newSecretFile !== undefined) next = readFileSync(opts.newSecretFile, 'utf8').trim();
      else if (opts.newSecretStdin) next = (await readStdin()).trim();
      else if (custody.secret.managedFile !== undefined) next = generateSecret();
      else throw new CliError(`The secret comes from ${custody.secret.origin}: give the new one with --new-secret-file <path> or --new-secret-stdin (make one with \`baton secret generate\`).`);
      await rotateSecret(custody, store, next);
      console.info(custody.secret.managedFile !== undefined && opts.newSecretFile === undefined && !opts.newSecretStdin
        ? `Re-sealed the keys; the new secret is in ${custody.secret.managedFile} (back it up apart from the database).`
        : 'Re-sealed the keys under the new secret. Restart every instance with it; until then they keep the keys they loaded.');
    });
  });

/** Where the service secret of `config` lives, for the reminder that it is backed up apart. */
function secretOrigin(config: ServerConfig): string {
  if (config.secret !== undefined) return 'BATON_SECRET';
  if (config.secretFile !== undefined) return `the secret file ${config.secretFile} (BATON_SECRET_FILE)`;
  return `the secret file ${defaultSecretFile(config.store) ?? 'BATON_SECRET'}`;
}

/** How to back up and restore a store that is not the embedded one: its own tools do it consistently. */
function storeBackupAdvice(store: string): string {
  if (store.startsWith('postgres')) {
    return 'The store is PostgreSQL: back it up with pg_dump, which copies one consistent snapshot while the service runs: `pg_dump --format=custom --file=baton.dump "$BATON_STORE"`; restore with the service stopped: `pg_restore --clean --if-exists --single-transaction --dbname="$BATON_STORE" baton.dump` (docs/backups.md). The secret (BATON_SECRET or BATON_SECRET_FILE) is backed up apart.';
  }
  return 'The store is Redis: back it up with its persistence — a snapshot of the running server with `redis-cli -u "$BATON_STORE" --rdb baton.rdb` (or BGSAVE and copy dump.rdb; with AOF, its appendonly folder); restore by stopping Redis, putting the file in its `dir` as its `dbfilename` (`redis-cli CONFIG GET dir`), and starting it (docs/backups.md). The secret (BATON_SECRET or BATON_SECRET_FILE) is backed up apart.';
}

/** The embedded database's files, loaded only by the commands that need them (node:sqlite warns on some Node versions). */
const sqliteFiles = () => import('../server/sqlite-files.ts');

program.command('backup <file>')
  .description('copy the embedded database to <file> while the service runs: one point in time, its WAL included, written privately (0600) and whole (PostgreSQL, Redis: see docs/backups.md)')
  .option('--force', 'replace <file> if it exists')
  .action(async (file: string, opts: { force?: boolean }) => {
    const config = commandConfig();
    const db = sqlitePath(config.store);
    if (db === undefined) throw new CliError(storeBackupAdvice(config.store));
    const facts = await (await sqliteFiles()).backupDatabase(db, file, opts.force === true);
    console.info(`Wrote ${resolve(file)} (${facts.bytes} bytes, mode 600): ${db} as of ${facts.takenAt}, with ${facts.users} user(s) and ${facts.sessions} session(s) (schema version ${facts.version}).`);
    console.info(`It holds the keys sealed, not the secret that opens them: back up ${secretOrigin(config)} apart, somewhere else. A restore needs both; either alone cannot mint tokens.`);
  });

program.command('restore <file>')
  .description('replace the embedded database with a backup, with the service stopped; the current one is kept beside it (docs/backups.md says what a restore means for sessions)')
  .option('--revoke-sessions', 'end every session of the backup: everyone signs in again, and no session ended since the backup comes back')
  .option('--keep-sessions', 'keep the sessions of the backup: those not used since stay signed in, but sessions ended since the backup (logouts, revocations) are active again')
  .action(async (file: string, opts: { revokeSessions?: boolean; keepSessions?: boolean }) => {
    if (opts.revokeSessions === opts.keepSessions) {
      throw new CliError('Say what happens to the sessions in the backup: --revoke-sessions (everyone signs in again; no session ended since the backup comes back) or --keep-sessions (sessions unused since stay signed in, but logouts and revocations made since are undone). See docs/backups.md.');
    }
    const config = commandConfig();
    const db = sqlitePath(config.store);
    if (db === undefined) throw new CliError(storeBackupAdvice(config.store));
    const { backupFacts, openersOf, replaceDatabase, stageCopy } = await sqliteFiles();
    refuseInUse(config, db, openersOf);
    // Every row of the backup is trusted (users and their hashes, clients): a file another user could have written is refused, as the database's own files are.
    checkPrivate(file, 'file');
    const facts = backupFacts(file);
    if (facts.sealedRing === undefined) throw new CliError(`${file} is a Baton database that was never started (it holds no keys): there is nothing to restore.`);
    const secret = serviceSecret(config, true);
    try {
      await unseal(secret, 'keyring', facts.sealedRing);
    } catch {
      throw new CliError(`${file} was sealed with another secret than ${secret.origin}: put back the secret that was backed up with it (or set BATON_SECRET / BATON_SECRET_FILE to it), then restore again. Nothing was changed.`);
    }
    privateDir(dirname(db));
    checkLocalStore(config.store);
    const staged = await stageCopy(file, db);
    let revoked = 0;
    let kept: string | undefined;
    try {
      if (opts.revokeSessions) revoked = await revokeEverySession(config, staged);
      // Again, just before the rename: a service started while the copy was staged (seconds for a large one) would go on serving the old file, deleted.
      refuseInUse(config, db, openersOf);
      kept = replaceDatabase(db, staged);
    } finally {
      rmSync(staged, { force: true });
    }
    console.info(`Restored ${db} from ${resolve(file)}${facts.takenAt ? ` (taken ${facts.takenAt})` : ''}: ${facts.users} user(s), ${facts.sessions} session(s).${kept ? ` The database it replaced is kept as ${kept}.` : ''}`);
    console.info(opts.revokeSessions
      ? `Revoked ${revoked} session(s): everyone signs in again, and no session ended since the backup comes back.`
      : 'Sessions kept. Those created or rotated since the backup are unknown to it: their users sign in again. Sessions ended since the backup (logouts, password changes, removed users, revocations) are active again; so are keys revoked since: revoke them again (docs/backups.md).');
  });

/** Refuses a restore onto a database a service (named by the runtime file) or any process (by /proc) has open. */
function refuseInUse(config: ServerConfig, db: string, openersOf: (path: string) => number[]): void {
  const running = readRuntime(runtimeFile());
  if (running !== undefined && running.store === canonicalStore(config.store)) throw new CliError(`The service running as process ${running.pid} serves ${db}: stop it first; a restore replaces the database under it.`);
  const openers = openersOf(db);
  if (openers.length > 0) throw new CliError(`${db} is open in process ${openers.join(', ')} (a service or a command): stop it first; a restore replaces the database under it.`);
}

/** Revokes every session active in the staged copy, through the engine (so the revocation log has them too); how many. */
async function revokeEverySession(config: ServerConfig, staged: string): Promise<number> {
  const store = await connectStore(`sqlite:${staged}`);
  try {
    const baton = createEngine(config, store, await openCustody(config, store));
    try {
      let count = 0;
      for (const userId of (await sqliteFiles()).activeUsers(staged)) count += (await baton.revokeUserSessions(userId, { reason: 'restored' })).length;
      return count;
    } finally {
      await baton.close();
    }
  } finally {
    await store.close();
  }
}

const sessionsCmd = program.command('sessions').description('sessions (devices) of a user');
sessionsCmd.command('list <user>').description("list a user's active sessions").action(async (name: string) => {
  await withEngine(async (baton, store) => {
    for (const s of await baton.listSessions((await userNamed(store, name)).id)) {
      console.info(`${s.id}\t${s.clientId}\t${new Date(s.createdAt).toISOString()}\tlast used ${new Date(s.lastUsedAt).toISOString()}\t${s.device.userAgent ?? ''}`);
    }
  });
});
sessionsCmd.command('history <user>')
  .description("a user's security events, newest first: logins, rotations, grace answers, reuse, and why each session ended (50 sessions a page)")
  .option('--before <cursor>', 'the page of older sessions, after the cursor the previous page printed')
  .action(async (name: string, opts: { before?: string }) => {
    await withEngine(async (baton, store) => {
      const { events, next } = await baton.sessionHistoryPage((await userNamed(store, name)).id, opts.before === undefined ? {} : { before: opts.before });
      for (const e of events) {
        const detail = [
          e.count !== undefined ? `×${e.count}` : '',
          e.reason ?? '',
          e.by ? `by ${e.by}${e.byDevice?.userAgent ? ` (${e.byDevice.userAgent})` : ''}` : '',
          e.generation !== undefined ? `generation ${e.generation}` : '',
          e.ip ? `from ${e.ip}` : '',
        ].filter((x) => x !== '').join(' ');
        console.info(`${new Date(e.at).toISOString()}\t${e.type}\t${e.sessionId}\t${e.clientId}\t${detail}\t${e.device.userAgent ?? ''}`);
      }
      if (events.length === 0) console.info(`No sessions of ${name} on record.`);
      if (next !== undefined) console.info(`Older sessions: baton sessions history ${name} --before ${next}`);
    });
  });
sessionsCmd.command('revoke [id]')
  .description('revoke one session, or all of a user\'s with --user')
  .option('--user <name>', "revoke all of this user's sessions")
  .action(async (id: string | undefined, opts: { user?: string }) => {
    if ((id === undefined) === (opts.user === undefined)) throw new CliError('Give a session id or --user <name>, not both.');
    await withEngine(async (baton, store) => {
      if (opts.user !== undefined) {
        console.info(`Revoked ${(await baton.revokeUserSessions((await userNamed(store, opts.user)).id, { reason: 'admin' })).length} session(s).`);
      } else {
        console.info((await baton.revokeSession(id as string, 'admin')) ? `Revoked ${id}.` : `No active session ${id}.`);
      }
    });
  });

program.command('limits')
  .description('failed-login and introspection-authentication counters')
  .command('reset <user|address>')
  .description("forget a username's failures (from every address), or an address's (its daily count and its pairs)")
  .action(async (target: string) => {
    const deleted = await withStore(async (store) =>
      // Usernames are counted lower-case; client ids as they are.
      (await resetFailures(store, 'login', target.toLowerCase())) + (await resetFailures(store, 'client', target)));
    console.info(`Reset ${target}: ${deleted} counter(s) deleted.`);
  });

program.command('token')
  .description('tokens')
  .command('inspect <token>')
  .description('decode and check a token (`-`: read it from standard input); prints its claims, never the token or its signature')
  .action(async (argument: string) => {
    const token = argument === '-' ? (await readStdin()).trim() : argument;
    await withEngine(async (baton) => {
      if (token.startsWith('rt_')) {
        const answer = await baton.introspect(token);
        console.info(JSON.stringify({ kind: 'refresh token', ...answer }, null, 2));
        if (!answer.active) process.exitCode = 1;
      } else {
        let header: unknown = 'not a JWS';
        let claims: unknown = 'not readable (JWE or opaque)';
        try {
          header = decodeProtectedHeader(token);
          claims = decodeJwt(token);
        } catch {
          // An opaque or encrypted token: its claims come from verification below, if valid.
        }
        let verdict: string;
        try {
          // Inspected for the API it names (RFC 8707): any audience of this issuer's is one it may carry.
          const aud = (claims as { aud?: unknown } | undefined)?.aud;
          const audience = typeof aud === 'string' ? aud : Array.isArray(aud) && typeof aud[0] === 'string' ? aud[0] : undefined;
          claims = await baton.verify(token, audience === undefined ? {} : { audience });
          verdict = 'valid';
        } catch (err) {
          verdict = isBatonError(err) ? `${err.code}: ${err.detail ?? err.message}` : 'invalid';
        }
        console.info(JSON.stringify({ header, claims, verdict }, null, 2));
        if (verdict !== 'valid') process.exitCode = 1; // scripts can test it: `baton token inspect - && …`
      }
    });
  });

/**
 * A session id is 22 base64url characters, and 1 in 64 starts with `-` (its first 4 characters come from a hash of the
 * user id): the argument parser would take `baton sessions revoke -IPTL5…` for an unknown option. A word of exactly
 * that shape is never one of this command's options, so it is passed on as the operand it is (after `--`).
 */
function sessionIdsAsOperands(argv: string[]): string[] {
  const at = argv.findIndex((arg) => /^-[A-Za-z0-9_-]{21}$/.test(arg));
  const command = argv.slice(2, 4).join(' ');
  if (at < 0 || command !== 'sessions revoke' || argv.slice(0, at).includes('--')) return argv;
  return [...argv.slice(0, at), '--', ...argv.slice(at)];
}

try {
  await program.parseAsync(sessionIdsAsOperands(process.argv));
} catch (err) {
  const message = err instanceof Error ? err.message : String(err);
  console.error(`baton: ${message}`);
  process.exitCode = 1;
  // A driver still retrying in the background (ioredis) must not keep a failed command alive.
  setTimeout(() => process.exit(1), 100).unref();
}
