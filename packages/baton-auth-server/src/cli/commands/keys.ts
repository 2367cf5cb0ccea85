/** `baton keys`, `baton store init` and `baton secret`: the keys sealed in the store, and the secret that seals them. */
import { readFileSync } from 'node:fs';
import type { KeyAlg } from 'baton-auth';
import { initStore } from '../../server/app.ts';
import { generateSecret, openCustody, resetKeys, rotateSecret, sealLegacyKeys } from '../../server/custody.ts';
import { CliError, commandConfig, readStdin, withEngine, withStore } from '../support.ts';
import { program, BATON } from '../program.ts';

const keysCmd = program.command('keys').description('signing, encryption and refresh-token keys, sealed in the store');
keysCmd
  .command('list')
  .description('list keys (never their secrets)')
  .action(async () => {
    await withStore(async (store) => {
      const { ring } = await openCustody(commandConfig(), store);
      for (const k of ring.list())
        console.info(`${k.kid}\t${k.use}\t${k.alg}\t${k.status}${k.retiredAt ? `\tretired ${new Date(k.retiredAt).toISOString()}` : ''}`);
    });
  });
keysCmd
  .command('rotate')
  .description('the published next key starts signing; the old one retires and verifies until its last token expires, then leaves')
  .option('--alg <alg>', 'switch the signing algorithm (HS256, ES256, EdDSA, RS256, PS256)')
  .option('--refresh', 'rotate the refresh-token key instead: tokens it minted keep working until they are used or expire')
  .action(async (opts: { alg?: string; refresh?: boolean }) => {
    const use = opts.refresh ? 'refresh' : 'sig';
    if (opts.alg !== undefined && (opts.refresh || !['HS256', 'ES256', 'EdDSA', 'RS256', 'PS256'].includes(opts.alg)))
      throw new CliError('--alg is HS256, ES256, EdDSA, RS256 or PS256, for signing keys.');
    const { active, next, dropped } = await withEngine((baton) => baton.rotateKeys(use, opts.alg as KeyAlg | undefined));
    console.info(
      `${use === 'refresh' ? 'Refresh tokens are minted with' : 'Signing with'} ${active}; ${next} is published for the next rotation.${dropped.length ? ` Dropped: ${dropped.join(', ')}.` : ''}`,
    );
  });

keysCmd
  .command('revoke <kid>')
  .description('take a key out of service at once, on every instance (a compromised key): tokens it signed stop verifying')
  .action(async (kid: string) => {
    if (!(await withEngine((baton) => baton.revokeKey(kid)))) throw new CliError(`There is no key ${kid} (see \`keys list\`).`);
    console.info(`Revoked ${kid}: every instance drops it now, and nothing it signed verifies any more.`);
  });

keysCmd
  .command('seal-legacy')
  .description('seal the keys a Baton 0.1 store kept in the clear, and delete the clear copies (once, after upgrading)')
  .action(async () => {
    const count = await withStore((store) => sealLegacyKeys(commandConfig(), store));
    console.info(
      `Sealed ${count} keys. Copies of the store made before this could mint tokens: run \`keys rotate\` and \`keys rotate --refresh\` now and again a token lifetime later.`,
    );
  });
keysCmd
  .command('reset')
  .description('forget the key ring on purpose: the next start makes new keys and every session must sign in again')
  .option('--yes', 'confirm')
  .action(async (opts: { yes?: boolean }) => {
    if (!opts.yes) throw new CliError('This signs everyone out. Run again with --yes to confirm.');
    await withStore((store) => resetKeys(store));
    console.info('The key ring is gone; the next start makes new keys.');
  });

const storeCmd = program.command('store').description('the store itself');
storeCmd
  .command('init')
  .description(
    "set up an empty store (keys, install record, the service's clients): once for a new Redis, or to start afresh after a store lost its data; a store already set up is left as it is",
  )
  .action(async () => {
    const { created, installedAt } = await initStore(commandConfig());
    console.info(
      created
        ? `Set up the store (install record of ${installedAt}). Add users with \`${BATON} users add <name>\`; restart any instance that was running on it.`
        : `The store is already set up (install record of ${installedAt}); nothing changed.`,
    );
  });

const secretCmd = program.command('secret').description('the service secret that seals the keys in the store');
secretCmd
  .command('generate')
  .description('print a new random service secret (for BATON_SECRET or BATON_SECRET_FILE)')
  .action(() => {
    console.info(generateSecret());
  });
secretCmd
  .command('rotate')
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
      else
        throw new CliError(
          `The secret comes from ${custody.secret.origin}: give the new one with --new-secret-file <path> or --new-secret-stdin (make one with \`baton secret generate\`).`,
        );
      await rotateSecret(custody, store, next);
      console.info(
        custody.secret.managedFile !== undefined && opts.newSecretFile === undefined && !opts.newSecretStdin
          ? `Re-sealed the keys; the new secret is in ${custody.secret.managedFile} (back it up apart from the database).`
          : 'Re-sealed the keys under the new secret. Restart every instance with it; until then they keep the keys they loaded.',
      );
    });
  });
