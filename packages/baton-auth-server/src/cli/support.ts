/**
 * What the `baton` commands share: their errors, the configuration they act on (the running
 * service's where the environment names none), the store and engine they open, and reading
 * secrets without argv.
 */
import { createInterface } from 'node:readline';
import { userInfo } from 'node:os';
import { auditEvent, BatonError } from 'baton-auth';
import type { AuditInput, AuditSink, Baton, BatonStore } from 'baton-auth';
import { appendAuditLine } from '../server/audit-log.ts';
import { connectStore, createEngine, users } from '../server/app.ts';
import { loadConfig, redactUrl } from '../server/config.ts';
import type { ServerConfig } from '../server/config.ts';
import { openCustody, refuseUnsetUp } from '../server/custody.ts';
import { canonicalStore, readRuntime, runtimeFile } from '../server/runtime.ts';

/** Fails the command with a sentence and a non-zero exit. */
export class CliError extends BatonError {
  override name = 'BatonCliError';
  constructor(message: string) {
    super('ERR_INVALID_ARGUMENT', message);
  }
}

/**
 * The configuration of a command: the environment's, and where it names no store (or issuer) the
 * running service's (`runtime.ts`, refused with a sentence unless private to this user); a
 * warning when it names another store than the service uses. Standard error says which store the
 * command acts on, and why that one (standard output stays the command's answer, for scripts).
 */
let resolved: ServerConfig | undefined;
export function commandConfig(): ServerConfig {
  resolved ??= configOfCommand();
  return resolved;
}

function configOfCommand(): ServerConfig {
  const env = { ...process.env };
  const file = runtimeFile(env);
  const running = readRuntime(file);
  let source =
    env.BATON_STORE === undefined
      ? `${env.BATON_CONFIG ? `BATON_CONFIG ${env.BATON_CONFIG} or the default` : 'the default'}: BATON_STORE is unset and no service is announced in ${file}`
      : 'BATON_STORE';
  if (running !== undefined) {
    if (env.BATON_STORE === undefined) {
      env.BATON_STORE = running.store;
      source = `announced in ${file} by the service running as process ${running.pid}`;
    } else if (canonicalStore(env.BATON_STORE) !== running.store) {
      console.warn(
        `baton: warning: this command uses BATON_STORE=${redactUrl(env.BATON_STORE)}, but the service running as process ${running.pid} uses ${redactUrl(running.store)}: what it changes will not reach that service.`,
      );
    }
    if (env.BATON_ISSUER === undefined && canonicalStore(env.BATON_STORE) === running.store) env.BATON_ISSUER = running.issuer;
    // A command's own events (a user added, a key rotated) go to the running service's audit file.
    if (env.BATON_AUDIT_LOG === undefined && running.audit !== undefined && canonicalStore(env.BATON_STORE) === running.store)
      env.BATON_AUDIT_LOG = running.audit;
  }
  const config = loadConfig(env);
  if (config.store === 'memory:') {
    throw new CliError(
      'The store is memory: (BATON_STORE=memory:), which lives inside one process: no command can reach its users, clients or keys. Run the service on sqlite:, Redis or PostgreSQL to manage it from the command line.',
    );
  }
  console.error(`baton: store ${redactUrl(canonicalStore(config.store))} (${source})`);
  return config;
}

/** The store, opened for `body`; an empty Redis (new, or one that lost its data) is refused until `baton store init`. */
export async function withStore<T>(body: (store: BatonStore) => Promise<T>): Promise<T> {
  const store = await connectStore(commandConfig().store);
  try {
    await refuseUnsetUp(commandConfig().store, store);
    return await body(store);
  } finally {
    await store.close();
  }
}

/** The engine over the store's sealed key ring: its key changes are saved and announced as the service's are. */
export function withEngine<T>(body: (baton: Baton, store: BatonStore) => Promise<T>): Promise<T> {
  return withStore(async (store) => {
    const config = commandConfig();
    const baton = createEngine(config, store, await openCustody(config, store), commandAudit());
    try {
      return await body(baton, store);
    } finally {
      await baton.close();
    }
  });
}

/**
 * The engine's audit sink for a command: the service's audit file (`BATON_AUDIT_LOG`, or the one
 * the running service announces), appended line by line (`appendAuditLine`: never rotated here).
 * With `stdout` or `off` a command records nothing: its own output says what it did.
 */
function commandAudit(): { audit?: AuditSink } {
  const target = commandConfig().audit;
  if (target.to !== 'file') return {};
  return {
    audit: (event) => {
      try {
        appendAuditLine(target.path, event.actor === undefined ? { ...event, actor: `cli:${actorName()}` } : event);
      } catch (err) {
        console.warn(`baton: warning: the audit file was not written: ${(err as Error).message}`);
      }
    },
  };
}

/** Records a command's change in the audit trail (`actor`: `cli:<operating-system user>`). */
export function recordAudit(input: AuditInput): void {
  commandAudit().audit?.(auditEvent(input, Date.now())); // the sink names the actor when `input` does not
}

function actorName(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}

/** Standard input, whole, without its final newline: how tokens and secrets reach a command without argv. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Asks once without echo. */
async function ask(prompt: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  const write = rl as unknown as { _writeToOutput: (s: string) => void };
  process.stdout.write(prompt);
  write._writeToOutput = () => undefined; // do not echo
  const answer = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stdout.write('\n');
  return answer;
}

/** A new password: typed twice at a terminal, or piped with --password-stdin (to `command`, as the hint shows it). */
export async function readPassword(fromStdin: boolean, command: string): Promise<string> {
  if (fromStdin) return readStdin();
  if (!process.stdin.isTTY)
    throw new CliError(
      `There is no terminal to ask for the password: pipe it with --password-stdin (e.g. \`printf %s "$PASSWORD" | ${command} --password-stdin\`).`,
    );
  const first = await ask('Password: ');
  if ((await ask('Again: ')) !== first) throw new CliError('The two passwords differ; nothing was changed.');
  return first;
}

/** The user of that name, or a sentence. */
export async function userNamed(store: BatonStore, name: string): Promise<{ id: string }> {
  const user = await users.get(store, name);
  if (user === null) throw new CliError(`There is no user ${name}.`);
  return user;
}
