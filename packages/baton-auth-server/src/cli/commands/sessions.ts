/** `baton sessions` and `baton limits`: a user's sessions (devices), and the failed-login and introspection counters. */
import { isIP } from 'node:net';
import { resetFailures } from 'baton-auth/http';
import { users } from '../../server/users.ts';
import { CliError, recordAudit, userNamed, withEngine, withStore } from '../support.ts';
import { program } from '../program.ts';

const sessionsCmd = program.command('sessions').description('sessions (devices) of a user');
sessionsCmd
  .command('list <user>')
  .description("list a user's active sessions")
  .action(async (name: string) => {
    await withEngine(async (baton, store) => {
      for (const s of await baton.listSessions((await userNamed(store, name)).id)) {
        console.info(
          `${s.id}\t${s.clientId}\t${new Date(s.createdAt).toISOString()}\tlast used ${new Date(s.lastUsedAt).toISOString()}\t${s.device.userAgent ?? ''}`,
        );
      }
    });
  });
sessionsCmd
  .command('history <user>')
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
        ]
          .filter((x) => x !== '')
          .join(' ');
        console.info(`${new Date(e.at).toISOString()}\t${e.type}\t${e.sessionId}\t${e.clientId}\t${detail}\t${e.device.userAgent ?? ''}`);
      }
      if (events.length === 0) console.info(`No sessions of ${name} on record.`);
      if (next !== undefined) console.info(`Older sessions: baton sessions history ${name} --before ${next}`);
    });
  });
sessionsCmd
  .command('revoke [id]')
  .description("revoke one session, or all of a user's with --user")
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

program
  .command('limits')
  .description('failed-login and introspection-authentication counters')
  .command('reset <user|address>')
  .description("forget a username's failures (from every address), or an address's (its daily count and its pairs)")
  .action(async (target: string) => {
    const deleted = await withStore(async (store) => {
      // A user's passkey sign-ins are counted under `#passkey:<user id>` (baton-auth's http/routes/passkeys.ts, passkeyAttemptName).
      const user = isIP(target) ? null : await users.get(store, target);
      const passkeys = user === null ? 0 : await resetFailures(store, 'login', `#passkey:${user.id}`);
      // Usernames are counted lower-case; client ids as they are.
      return passkeys + (await resetFailures(store, 'login', target.toLowerCase())) + (await resetFailures(store, 'client', target));
    });
    recordAudit({ type: 'limits.reset', ...(isIP(target) ? { ip: target } : { username: target }) });
    console.info(`Reset ${target}: ${deleted} counter(s) deleted.`);
  });
