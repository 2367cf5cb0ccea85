/** `baton users`: the users of the standalone service. */
import { users } from '../../server/app.ts';
import { passkeyRecords } from 'baton-auth/passkeys';
import { CliError, readPassword, recordAudit, userNamed, withEngine, withStore } from '../support.ts';
import { program, BATON } from '../program.ts';

const usersCmd = program.command('users').description('manage the users of the standalone service');
usersCmd
  .command('add <name>')
  .description('create a user (password from a prompt, or from standard input with --password-stdin)')
  .option('--password-stdin', 'read the password from standard input')
  .option('--scopes <scopes>', 'the scopes the user may be granted, space-separated', '')
  .option('--email <address>', 'their email: a sign-in with another provider whose verified email it is links to this user')
  .action(async (name: string, opts: { passwordStdin?: boolean; scopes: string; email?: string }) => {
    const password = await readPassword(opts.passwordStdin === true, `${BATON} users add ${name}`);
    const user = await withStore((store) => users.add(store, name, password, opts.scopes, opts.email));
    recordAudit({ type: 'user.created', user: user.id, username: user.username, scope: user.scopes.join(' ') });
    console.info(`Created user ${user.username} (${user.id})${user.scopes.length ? ` with scopes ${user.scopes.join(' ')}` : ''}.`);
  });
usersCmd
  .command('list')
  .description('list users')
  .action(async () => {
    const all = await withStore((store) => users.list(store));
    for (const u of all) console.info(`${u.username}\t${u.id}\t${new Date(u.createdAt).toISOString()}\t${u.scopes.join(' ')}`);
    if (all.length === 0) console.info('No users.');
  });
usersCmd
  .command('scopes <name> <scopes>')
  .description('set the scopes a user may be granted (space-separated, quoted; "" for none)')
  .action(async (name: string, scopes: string) => {
    const user = await withStore((store) => users.setScopes(store, name, scopes));
    recordAudit({ type: 'scope.changed', user: user.id, username: user.username, scope: user.scopes.join(' ') });
    console.info(`${user.username} may be granted: ${user.scopes.join(' ') || '(no scope)'}.`);
  });
usersCmd
  .command('passwd <name>')
  .description("change a user's password; every session of theirs ends (password_changed)")
  .option('--password-stdin', 'read the new password from standard input')
  .action(async (name: string, opts: { passwordStdin?: boolean }) => {
    const password = await readPassword(opts.passwordStdin === true, `${BATON} users passwd ${name}`);
    const ended = await withEngine(async (baton, store) => {
      const user = await users.setPassword(store, name, password);
      recordAudit({ type: 'password.changed', user: user.id, username: name });
      return baton.passwordChanged(user.id);
    });
    console.info(`Changed the password of ${name}; ${ended.length} session(s) ended (password_changed).`);
  });
usersCmd
  .command('remove <name>')
  .description('delete a user and revoke their sessions')
  .action(async (name: string) => {
    await withEngine(async (baton, store) => {
      const user = await userNamed(store, name);
      await baton.revokeUserSessions(user.id, { reason: 'user removed' });
      await users.remove(store, name);
      recordAudit({ type: 'user.removed', user: user.id, username: name });
    });
    console.info(`Removed ${name}.`);
  });
usersCmd
  .command('passkeys <name> [action] [id] [new-name]')
  .description("a user's passkeys: list them (the default), `rename <id> <new-name>`, or `delete <id>` (an id or a unique start of one, 8 characters at least)")
  .action(async (name: string, action: string | undefined, id: string | undefined, newName: string | undefined) => {
    const verb = action ?? 'list';
    if (!['list', 'rename', 'delete'].includes(verb))
      throw new CliError(`${BATON} users passkeys <name> takes list, rename <id> <new-name> or delete <id>, not ${JSON.stringify(verb.slice(0, 40))}.`);
    if (verb !== 'list' && id === undefined)
      throw new CliError(`Name the passkey: ${BATON} users passkeys ${name} ${verb} <id>${verb === 'rename' ? ' <new-name>' : ''} (the ids are in the list).`);
    if (verb === 'rename' && newName === undefined) throw new CliError(`Give the new name: ${BATON} users passkeys ${name} rename ${id} <new-name>.`);
    const lines = await withStore(async (store) => {
      const user = await userNamed(store, name);
      const mine = await passkeyRecords.list(store, user.id);
      if (verb === 'list') {
        if (mine.length === 0) return [`${name} has no passkey.`];
        return mine.map(
          (p) =>
            `${p.id}\t${p.name}\tadded ${new Date(p.createdAt).toISOString()}\t${p.lastUsedAt === undefined ? 'never used' : `last used ${new Date(p.lastUsedAt).toISOString()}`}${p.backedUp ? '\tsynced' : ''}`,
        );
      }
      // An id, or a start of one that names a single passkey (ids are long).
      const found = mine.filter((p) => p.id === id || ((id as string).length >= 8 && p.id.startsWith(id as string)));
      if (found.length !== 1)
        throw new CliError(
          found.length === 0
            ? `${name} has no passkey ${id}: \`${BATON} users passkeys ${name}\` lists them.`
            : `${id} starts ${found.length} passkeys of ${name}: give more of it.`,
        );
      const p = found[0] as (typeof found)[number];
      if (verb === 'rename') {
        const renamed = await passkeyRecords.rename(store, user.id, p.id, newName as string);
        recordAudit({ type: 'passkey.renamed', user: user.id, username: name, credential: p.id });
        return [`Renamed the passkey ${p.id.slice(0, 12)}… of ${name} to ${renamed.name}.`];
      }
      await passkeyRecords.remove(store, user.id, p.id);
      recordAudit({ type: 'passkey.removed', user: user.id, username: name, credential: p.id });
      return [`Deleted the passkey ${p.name} (${p.id.slice(0, 12)}…) of ${name}: it no longer signs in.`];
    });
    for (const line of lines) console.info(line);
  });
