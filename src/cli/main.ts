#!/usr/bin/env node
/**
 * The `baton` command: run the service and manage its users, keys and sessions.
 * `npm run baton -- --help`.
 */
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { ConfigError, loadConfig, redactUrl } from '../server/config.ts';
import { connectStore, createEngine, loadKeys, saveKeys, startServer, users } from '../server/app.ts';
import { isBatonError } from '../core/errors.ts';
import { resetFailures } from '../http/login-protection.ts';
import type { TokenStore } from '../stores/types.ts';

/** Fails the command with a sentence and a non-zero exit. */
class CliError extends Error {}

async function withStore<T>(body: (store: TokenStore) => Promise<T>): Promise<T> {
  const store = await connectStore(loadConfig().store);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

async function readPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  const write = (rl as unknown as { _writeToOutput: (s: string) => void });
  process.stdout.write('Password: ');
  write._writeToOutput = () => undefined; // do not echo
  const answer = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stdout.write('\n');
  return answer;
}

const program = new Command('baton')
  .description('Baton token service: access and refresh tokens for web APIs')
  .showHelpAfterError();

program.command('serve')
  .description('run the token service (configuration from the environment, see README)')
  .action(async () => {
    const config = loadConfig();
    const { url, stop, service } = await startServer(config);
    const count = (await users.list(service.store)).length;
    console.info(`Baton listening on ${url} (issuer ${config.issuer}, store ${redactUrl(config.store)})`);
    if (count === 0) console.info('No users yet. Create one with: npm run baton -- users add <name>');
    if (!config.cookieSecure) console.warn('Warning: BATON_COOKIE_SECURE is off; refresh cookies travel without Secure (plain-http localhost only).');
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        console.info(`${signal}: finishing in-flight requests…`);
        stop().then(() => process.exit(0), () => process.exit(1));
      });
    }
  });

const usersCmd = program.command('users').description('manage the users of the standalone service');
usersCmd.command('add <name>')
  .description('create a user (password from a prompt, or from standard input with --password-stdin)')
  .option('--password-stdin', 'read the password from standard input')
  .action(async (name: string, opts: { passwordStdin?: boolean }) => {
    const password = await readPassword(opts.passwordStdin === true);
    const user = await withStore((store) => users.add(store, name, password));
    console.info(`Created user ${user.username} (${user.id}).`);
  });
usersCmd.command('list').description('list users').action(async () => {
  const all = await withStore((store) => users.list(store));
  for (const u of all) console.info(`${u.username}\t${u.id}\t${new Date(u.createdAt).toISOString()}`);
  if (all.length === 0) console.info('No users.');
});
usersCmd.command('remove <name>').description('delete a user and revoke their sessions').action(async (name: string) => {
  await withStore(async (store) => {
    const user = await users.get(store, name);
    if (user === null) throw new CliError(`There is no user ${name}.`);
    const baton = await engine(store);
    await baton.revokeUserSessions(user.id, { reason: 'user removed' });
    await users.remove(store, name);
    await baton.close();
  });
  console.info(`Removed ${name}.`);
});

const engine = (store: TokenStore) => createEngine(loadConfig(), store);

const keysCmd = program.command('keys').description('signing and encryption keys');
keysCmd.command('list').description('list keys (never their secrets)').action(async () => {
  await withStore(async (store) => {
    const ring = await loadKeys(store, loadConfig().alg);
    for (const k of ring.list()) console.info(`${k.kid}\t${k.alg}\t${k.status}${k.retiredAt ? `\tretired ${new Date(k.retiredAt).toISOString()}` : ''}`);
  });
});
keysCmd.command('rotate')
  .description('the published next key starts signing; the old one retires and keeps verifying')
  .action(async () => {
    await withStore(async (store) => {
      const config = loadConfig();
      const ring = await loadKeys(store, config.alg);
      const active = ring.active('sig');
      const { active: now, next } = ring.rotate(active?.alg === 'dir' || active === undefined ? config.alg : active.alg, Date.now());
      await saveKeys(store, ring);
      console.info(`Signing with ${now.kid}; ${next.kid} is published for the next rotation.`);
    });
  });

const sessionsCmd = program.command('sessions').description('sessions (devices) of a user');
sessionsCmd.command('list <user>').description("list a user's active sessions").action(async (name: string) => {
  await withStore(async (store) => {
    const user = await users.get(store, name);
    if (user === null) throw new CliError(`There is no user ${name}.`);
    const baton = await engine(store);
    for (const s of await baton.listSessions(user.id)) {
      console.info(`${s.id}\t${s.clientId}\t${new Date(s.createdAt).toISOString()}\tlast used ${new Date(s.lastUsedAt).toISOString()}\t${s.device.userAgent ?? ''}`);
    }
    await baton.close();
  });
});
sessionsCmd.command('revoke [id]')
  .description('revoke one session, or all of a user\'s with --user')
  .option('--user <name>', "revoke all of this user's sessions")
  .action(async (id: string | undefined, opts: { user?: string }) => {
    if ((id === undefined) === (opts.user === undefined)) throw new CliError('Give a session id or --user <name>, not both.');
    await withStore(async (store) => {
      const baton = await engine(store);
      if (opts.user !== undefined) {
        const user = await users.get(store, opts.user);
        if (user === null) throw new CliError(`There is no user ${opts.user}.`);
        console.info(`Revoked ${(await baton.revokeUserSessions(user.id, { reason: 'admin' })).length} session(s).`);
      } else {
        console.info((await baton.revokeSession(id as string, 'admin')) ? `Revoked ${id}.` : `No active session ${id}.`);
      }
      await baton.close();
    });
  });

program.command('limits')
  .description('failed-login and introspection-authentication counters')
  .command('reset <user|address>')
  .description("forget a username's failures (from every address), or an address's (its daily count and its pairs)")
  .action(async (target: string) => {
    const deleted = await withStore(async (store) =>
      // Usernames are counted lower-case; introspection client ids as they are.
      (await resetFailures(store, 'login', target.toLowerCase())) + (await resetFailures(store, 'introspect', target)));
    console.info(`Reset ${target}: ${deleted} counter(s) deleted.`);
  });

program.command('token')
  .description('tokens')
  .command('inspect <token>')
  .description('decode and check a token; prints its claims, never the token or its signature')
  .action(async (token: string) => {
    await withStore(async (store) => {
      const baton = await engine(store);
      if (token.startsWith('rt_')) {
        console.info(JSON.stringify({ kind: 'refresh token', ...(await baton.introspect(token)) }, null, 2));
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
          claims = await baton.verify(token);
          verdict = 'valid';
        } catch (err) {
          verdict = isBatonError(err) ? `${err.code}: ${err.detail ?? err.message}` : 'invalid';
        }
        console.info(JSON.stringify({ header, claims, verdict }, null, 2));
      }
      await baton.close();
    });
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const message = err instanceof ConfigError || err instanceof CliError || err instanceof Error ? err.message : String(err);
  console.error(`baton: ${message}`);
  process.exitCode = 1;
  // A driver still retrying in the background (ioredis) must not keep a failed command alive.
  setTimeout(() => process.exit(1), 100).unref();
}
