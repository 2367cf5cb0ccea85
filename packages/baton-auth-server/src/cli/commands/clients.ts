/** `baton clients`: the OAuth clients, who may ask for tokens with which scopes. */
import { clients } from '../../server/clients.ts';
import { CliError, recordAudit, withStore } from '../support.ts';
import { program } from '../program.ts';

/** Options that may be given more than once collect into a list. */
const collect = (value: string, previous: string[]): string[] => [...previous, value];

interface AddOptions {
  scopes: string;
  confidential?: boolean;
  introspect?: boolean;
  resource?: string[];
  clientCredentials?: boolean;
  dpop: string;
  redirectUri: string[];
  postLogoutRedirectUri: string[];
  firstParty?: boolean;
  par?: boolean;
  name?: string;
}

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
  .option(
    '--redirect-uri <uri>',
    'an exact redirect URI of the authorization code flow (https, http on loopback, or com.example.app:/cb); repeat for more',
    collect,
    [],
  )
  .option('--post-logout-redirect-uri <uri>', 'where OpenID Connect logout may send the browser back to; repeat for more', collect, [])
  .option('--first-party', "the service's own application: users are not asked to consent")
  .option('--par', 'its authorization requests must come through PAR (RFC 9126)')
  .option('--name <name>', 'the name users see on the consent page')
  .action(async (id: string, opts: AddOptions) => {
    const { client, secret } = await withStore((store) =>
      clients.add(store, id, {
        scopes: opts.scopes,
        confidential: opts.confidential === true,
        introspect: opts.introspect === true,
        clientCredentials: opts.clientCredentials === true,
        dpop: opts.dpop,
        ...(opts.resource === undefined ? {} : { resources: opts.resource }),
        redirectUris: opts.redirectUri,
        postLogoutRedirectUris: opts.postLogoutRedirectUri,
        firstParty: opts.firstParty === true,
        requirePar: opts.par === true,
        ...(opts.name === undefined ? {} : { name: opts.name }),
      }),
    );
    recordAudit({ type: 'client.created', client: client.id, scope: (client.scopes ?? []).join(' ') });
    console.info(
      `Registered ${client.type} client ${client.id}${client.scopes?.length ? ` (scopes: ${client.scopes.join(' ')})` : ''}${client.resources ? ` for ${client.resources.join(' ')}` : ''}${client.dpop === 'required' ? ', DPoP required' : ''}.`,
    );
    if (client.redirectUris?.length) console.info(`Redirect URIs: ${client.redirectUris.join(' ')}`);
    if (secret !== undefined) console.info(`Its secret, shown only now:\n${secret}`);
  });
clientsCmd
  .command('list')
  .description('list clients (never their secrets)')
  .action(async () => {
    for (const c of await withStore((store) => clients.list(store)))
      console.info(
        `${c.id}\t${c.type}${c.introspect ? ', introspects' : ''}${c.grantTypes?.length ? `, ${c.grantTypes.join(', ')}` : ''}${c.dpop === 'required' ? ', DPoP required' : ''}${c.firstParty ? ', first-party' : ''}${c.requirePar ? ', PAR required' : ''}\t${c.scopes === undefined ? '(no limit)' : c.scopes.join(' ') || '(no scope)'}\t${c.resources?.join(' ') ?? '(every resource)'}\t${c.redirectUris?.join(' ') || '(no redirect URI)'}`,
      );
  });
clientsCmd
  .command('show <id>')
  .description('one client in full (never its secret)')
  .action(async (id: string) => {
    const c = (await withStore((store) => clients.list(store))).find((x) => x.id === id);
    if (c === undefined) throw new CliError(`There is no client ${id}.`);
    const lines: [string, string | undefined][] = [
      ['client', c.id],
      ['name', c.name],
      ['type', `${c.type}${c.firstParty ? ', first-party' : ''}${c.requirePar ? ', PAR required' : ''}${c.dpop === 'required' ? ', DPoP required' : ''}`],
      ['scopes', c.scopes === undefined ? '(no limit)' : c.scopes.join(' ') || '(no scope)'],
      ['resources', c.resources?.join(' ') ?? '(every resource)'],
      ['redirect URIs', c.redirectUris?.join('\n               ') || '(none: no authorization code flow)'],
      ['logout URIs', c.postLogoutRedirectUris?.join('\n               ')],
    ];
    for (const [k, v] of lines) if (v !== undefined) console.info(`${`${k}:`.padEnd(15)}${v}`);
  });
clientsCmd
  .command('scopes <id> <scopes>')
  .description('set the scopes a client may ask for')
  .action(async (id: string, scopes: string) => {
    const client = await withStore((store) => clients.setScopes(store, id, scopes));
    recordAudit({ type: 'scope.changed', client: client.id, scope: (client.scopes ?? []).join(' ') });
    console.info(`${client.id} may ask for: ${(client.scopes ?? []).join(' ') || '(no scope)'}.`);
  });
clientsCmd
  .command('remove <id>')
  .description('delete a client (its sessions can no longer refresh)')
  .action(async (id: string) => {
    if (!(await withStore((store) => clients.remove(store, id)))) throw new CliError(`There is no client ${id}.`);
    recordAudit({ type: 'client.removed', client: id });
    console.info(`Removed ${id}.`);
  });
