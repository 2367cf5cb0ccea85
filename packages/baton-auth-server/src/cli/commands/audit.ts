/** `baton audit`: the audit trail (`BATON_AUDIT_LOG`) and its rotated files, read back. */
import { lastLines, followTrail, searchTrail, trailFiles } from '../../server/audit-read.ts';
import { loadConfig } from '../../server/config.ts';
import { readRuntime, runtimeFile } from '../../server/runtime.ts';
import { durationMs, list } from '../../server/settings/setting.ts';
import { CliError } from '../support.ts';
import { program } from '../program.ts';

/** The most lines `tail -n` prints. */
const MAX_TAIL = 100_000;

/** The audit file: `--file`, else BATON_AUDIT_LOG (environment or BATON_CONFIG), else the one the running service announces. */
function trailPath(file: string | undefined): string {
  if (file !== undefined) return file;
  const target = loadConfig().audit;
  if (target.to === 'file') return target.path;
  const announced = readRuntime(runtimeFile())?.audit;
  if (announced !== undefined) return announced;
  throw new CliError(
    `There is no audit file to read: BATON_AUDIT_LOG is ${target.to} here and no running service announces one in ${runtimeFile()}. Give it with --file <path>.`,
  );
}

/** `--since`: a time (ISO 8601, `2026-12-07T06:00Z`) or a duration back from now (`90m`, `1h`, `7d`). */
export function sinceOf(text: string, now = Date.now()): number {
  if (/^\d+(ms|s|m|h|d|w)?$/.test(text)) return now - durationMs(text, '--since');
  const at = Date.parse(text);
  if (Number.isNaN(at))
    throw new CliError(`--since must be a time (2026-12-07T06:00:00Z) or a duration back from now (90m, 1h, 7d), not ${JSON.stringify(text.slice(0, 64))}.`);
  return at;
}

const auditCmd = program.command('audit').description('the audit trail (BATON_AUDIT_LOG): one JSON line per security event');
auditCmd
  .command('tail')
  .description('print the last events (across the rotated files), and with --follow the new ones as they come')
  .option('-n, --lines <n>', 'how many', '20')
  .option('-f, --follow', 'keep printing new events (Ctrl-C stops)')
  .option('--file <path>', 'the audit file (default: BATON_AUDIT_LOG, or the running service’s)')
  .action(async (opts: { lines: string; follow?: boolean; file?: string }) => {
    const n = Number(opts.lines);
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_TAIL) throw new CliError(`-n must be a whole number from 0 to ${MAX_TAIL}.`);
    const path = trailPath(opts.file);
    if (!opts.follow && trailFiles(path).length === 0) throw new CliError(`There is no audit file ${path} yet.`);
    for (const line of lastLines(path, n)) process.stdout.write(`${line}\n`);
    if (!opts.follow) return;
    const following = followTrail(path, (line) => process.stdout.write(`${line}\n`));
    await new Promise<void>((resolve) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const)
        process.once(signal, () => {
          following.stop();
          resolve();
        });
    });
  });
auditCmd
  .command('search')
  .description('print the events of a user, a time span or a type, oldest first (across the rotated files)')
  .option('--user <name>', 'a username or user id (a username also finds the events that name only its id)')
  .option('--since <time|duration>', 'from a time (2026-12-07T06:00:00Z) or a duration back from now (90m, 1h, 7d)')
  .option('--type <type>', 'a type (login.failed) or a family (login, session), or several with commas')
  .option('--file <path>', 'the audit file (default: BATON_AUDIT_LOG, or the running service’s)')
  .action(async (opts: { user?: string; since?: string; type?: string; file?: string }) => {
    const path = trailPath(opts.file);
    if (trailFiles(path).length === 0) throw new CliError(`There is no audit file ${path} yet.`);
    const found = await searchTrail(
      path,
      {
        ...(opts.user === undefined ? {} : { users: new Set([opts.user]) }),
        ...(opts.since === undefined ? {} : { since: sinceOf(opts.since) }),
        ...(opts.type === undefined ? {} : { types: list(opts.type) }),
      },
      (line) => process.stdout.write(`${line}\n`),
    );
    console.error(`baton: ${found} event(s) in ${path} and its rotated files.`);
  });
