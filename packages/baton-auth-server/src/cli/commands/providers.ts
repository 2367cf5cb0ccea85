/** `baton providers`: sign-in with other providers (Google, Microsoft, Apple, GitHub, any OpenID Connect provider). */
import { readFileSync } from 'node:fs';
import { PROVIDER_PRESETS } from 'baton-auth/http';
import type { ProviderPreset } from 'baton-auth/http';
import { openCustody } from '../../server/custody.ts';
import { providers } from '../../server/providers.ts';
import { CliError, commandConfig, withStore } from '../support.ts';
import { program } from '../program.ts';

interface AddOptions {
  preset?: string;
  issuer?: string;
  tenant?: string;
  clientId?: string;
  clientSecretFile?: string;
  label?: string;
  scope?: string;
  formPost?: boolean;
}

/** The client secret, from its file (never from argv, where `ps` and the shell's history would show it), without its final newline. */
function secretFrom(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`The client secret file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '' || /[\r\n]/.test(secret)) throw new CliError(`The client secret file ${path} must hold the secret alone, on one line.`);
  return secret;
}

const providersCmd = program.command('providers').description('sign-in with other providers: "Continue with Google" and the like');
providersCmd
  .command('add <name>')
  .description('add a provider; register <issuer>/auth/providers/<name>/callback with it as the redirect URI')
  .option('--preset <preset>', `known settings: ${PROVIDER_PRESETS.join(', ')}`)
  .option('--issuer <url>', 'the OpenID Connect issuer URL (https; http only on loopback); GitHub: a GitHub Enterprise Server URL')
  .option('--tenant <tenant>', 'microsoft: the tenant id, or common, organizations, consumers (default common)')
  .option('--client-id <id>', 'the client id the provider gave you')
  .option('--client-secret-file <path>', 'a file holding the client secret (stored sealed under the service secret, never printed)')
  .option('--label <label>', 'what the button says after "Continue with" (default the preset\'s name, or <name>)')
  .option('--scope <scope>', 'the scopes asked for (default openid email profile)')
  .option('--form-post', 'the provider answers with response_mode=form_post (Apple: the default)')
  .action(async (name: string, opts: AddOptions) => {
    if (opts.clientId === undefined) throw new CliError('Give the client id the provider gave you: --client-id <id>.');
    if (opts.preset !== undefined && !(PROVIDER_PRESETS as readonly string[]).includes(opts.preset))
      throw new CliError(`--preset is one of ${PROVIDER_PRESETS.join(', ')}, not ${opts.preset}.`);
    const clientSecret = opts.clientSecretFile === undefined ? undefined : secretFrom(opts.clientSecretFile);
    const record = await withStore(async (store) => {
      const custody = await openCustody(commandConfig(), store);
      return providers.add(store, custody.secret, {
        name,
        clientId: opts.clientId as string,
        ...(opts.preset === undefined ? {} : { preset: opts.preset as ProviderPreset }),
        ...(opts.issuer === undefined ? {} : { issuer: opts.issuer }),
        ...(opts.tenant === undefined ? {} : { tenant: opts.tenant }),
        ...(clientSecret === undefined ? {} : { clientSecret }),
        ...(opts.label === undefined ? {} : { label: opts.label }),
        ...(opts.scope === undefined ? {} : { scope: opts.scope }),
        ...(opts.formPost ? { responseMode: 'form_post' as const } : {}),
      });
    });
    const issuer = commandConfig().issuer.replace(/\/$/, '');
    console.info(
      `Added provider ${record.name}${record.preset ? ` (${record.preset})` : ''}: the sign-in pages show "Continue with ${record.label ?? labelOf(record)}" within 5 s.`,
    );
    console.info(`Register this redirect URI with the provider: ${issuer}/auth/providers/${record.name}/callback`);
  });
providersCmd
  .command('list')
  .description('list providers (never their secrets)')
  .action(async () => {
    const all = await withStore((store) => providers.list(store));
    for (const p of all)
      console.info(
        `${p.name}\t${p.preset ?? 'oidc'}\t${p.issuer ?? '(preset issuer)'}\t${p.clientId}\t${p.secretSealed === undefined ? 'no secret' : 'secret set'}`,
      );
    if (all.length === 0) console.info('No providers.');
  });
providersCmd
  .command('remove <name>')
  .description('remove a provider (its button goes within 5 s; the users it made stay, and its links sign in again if it is added back)')
  .action(async (name: string) => {
    if (!(await withStore((store) => providers.remove(store, name)))) throw new CliError(`There is no provider ${name}.`);
    console.info(`Removed ${name}.`);
  });

const LABELS: Record<string, string> = { google: 'Google', microsoft: 'Microsoft', apple: 'Apple', github: 'GitHub' };
const labelOf = (r: { name: string; preset?: string }): string => (r.preset === undefined ? r.name : (LABELS[r.preset] ?? r.name));
