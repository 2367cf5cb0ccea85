/** `baton clients`: the OAuth clients, who may ask for tokens with which scopes. */
import { clients } from '../../server/clients.ts';
import { CliError, withStore } from '../support.ts';
import { program } from '../program.ts';

const clientsCmd = program.command('clients').description('OAuth clients: who may ask for tokens, with which scopes');
clientsCmd
  .command('add <id>')
  .description('register a client; a confidential one gets a secret, printed once and stored only as a hash')
  .option('--scopes <scopes>', 'the scopes it may ask for, space-separated', '')
  .option('--confidential', 'a backend or resource server that authenticates with a secret (client_secret_basic / client_secret_post)')
  .option('--introspect', "a resource server that may introspect any client's tokens (confidential)")
  .option('--resource <uris...>', 'the APIs (RFC 8707 resource URIs, among BATON_RESOURCES) it may ask tokens for; default all')
  .option('--client-credentials', 'may get tokens for itself with the client_credentials grant (confidential)')
  .option(
    '--dpop <policy>',
    'required: every token request must carry a DPoP proof (RFC 9449), so every session and token is bound to a key; allowed: bind when a proof comes',
    'allowed',
  )
  .action(
    async (
      id: string,
      opts: { scopes: string; confidential?: boolean; introspect?: boolean; resource?: string[]; clientCredentials?: boolean; dpop: string },
    ) => {
      const { client, secret } = await withStore((store) =>
        clients.add(store, id, {
          scopes: opts.scopes,
          confidential: opts.confidential === true,
          introspect: opts.introspect === true,
          clientCredentials: opts.clientCredentials === true,
          dpop: opts.dpop,
          ...(opts.resource === undefined ? {} : { resources: opts.resource }),
        }),
      );
      console.info(
        `Registered ${client.type} client ${client.id}${client.scopes?.length ? ` (scopes: ${client.scopes.join(' ')})` : ''}${client.resources ? ` for ${client.resources.join(' ')}` : ''}${client.dpop === 'required' ? ', DPoP required' : ''}.`,
      );
      if (secret !== undefined) console.info(`Its secret, shown only now:\n${secret}`);
    },
  );
clientsCmd
  .command('list')
  .description('list clients (never their secrets)')
  .action(async () => {
    for (const c of await withStore((store) => clients.list(store)))
      console.info(
        `${c.id}\t${c.type}${c.introspect ? ', introspects' : ''}${c.grantTypes?.length ? `, ${c.grantTypes.join(', ')}` : ''}${c.dpop === 'required' ? ', DPoP required' : ''}\t${c.scopes === undefined ? '(no limit)' : c.scopes.join(' ') || '(no scope)'}\t${c.resources?.join(' ') ?? '(every resource)'}`,
      );
  });
clientsCmd
  .command('scopes <id> <scopes>')
  .description('set the scopes a client may ask for')
  .action(async (id: string, scopes: string) => {
    const client = await withStore((store) => clients.setScopes(store, id, scopes));
    console.info(`${client.id} may ask for: ${(client.scopes ?? []).join(' ') || '(no scope)'}.`);
  });
clientsCmd
  .command('remove <id>')
  .description('delete a client (its sessions can no longer refresh)')
  .action(async (id: string) => {
    if (!(await withStore((store) => clients.remove(store, id)))) throw new CliError(`There is no client ${id}.`);
    console.info(`Removed ${id}.`);
  });
