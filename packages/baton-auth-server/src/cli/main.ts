#!/usr/bin/env node
/**
 * The `baton` command: run the service and manage its users, keys and sessions.
 * `npm run baton -- --help` in the repository, `npx baton --help` where it is installed.
 */
// The commands, in the order `baton --help` lists them.
import './commands/serve.ts';
import './commands/users.ts';
import './commands/clients.ts';
import './commands/providers.ts';
import './commands/keys.ts';
import './commands/backup.ts';
import './commands/sessions.ts';
import './commands/token.ts';
import './commands/audit.ts';
import { program } from './program.ts';

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
