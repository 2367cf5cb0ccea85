/**
 * Where a running `baton serve` says what it serves — its URL, issuer and store — so that `baton`
 * commands act on the same store and issuer without repeating the settings, and warn when told
 * otherwise. A 0600 file (the store URL may hold a password), `BATON_RUNTIME_FILE` or
 * `./data/baton-service.json`.
 *
 * What a command acts on is chosen by this file, so it is trusted only as the store's own files
 * are (`files.ts`): this user's, no one else's to read or write, in a folder no one else may write
 * in, never through a symbolic link — otherwise refused with a sentence, never used. The file
 * names its process by pid, uid and start time: a pid is reused, and root may signal anyone's, so
 * a process is the service only if it runs as this user and started when the file says (Linux
 * `/proc/<pid>/stat`); one of another user is refused (stale or planted), one of ours started
 * later is a stale file's. The folder must be private: in a shared (sticky) one another user could
 * take the name before the service starts.
 *
 * One file, one service: it is created exclusively (a temp file linked to its name), so a second
 * service never overwrites the first's; the second starts only if it serves the same store and
 * issuer (instances of one deployment), unannounced, and refuses otherwise. A service removes the
 * file on exit only if it is still its own (its nonce).
 */
import { randomUUID } from 'node:crypto';
import { linkSync, lstatSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BatonConfigError } from 'baton-auth';
import { redactUrl } from './config.ts';
import { checkPrivate, privateDir, readPrivateFile } from './files.ts';

/** What the running service wrote. */
export interface RuntimeInfo {
  pid: number;
  /** The user the service runs as (getuid), where there are users. */
  uid?: number;
  /** When the process started (`/proc/<pid>/stat` field 22, clock ticks since boot), where known: a pid can be reused. */
  started?: string;
  /** Which start of the service wrote it (a pid can be reused). */
  nonce: string;
  url: string;
  issuer: string;
  store: string;
  /** The absolute path of its audit file (`BATON_AUDIT_LOG`), when it writes one: where `baton` commands add their events and `baton audit` reads. */
  audit?: string;
}

/** The runtime file's path. */
export function runtimeFile(env: Record<string, string | undefined> = process.env): string {
  return resolve(env.BATON_RUNTIME_FILE ?? 'data/baton-service.json');
}

/** A store URL as a command elsewhere must read it: an embedded database by its absolute path. */
export function canonicalStore(store: string): string {
  return store.startsWith('sqlite:') && store !== 'sqlite::memory:' ? `sqlite:${resolve(store.slice('sqlite:'.length))}` : store;
}

/** A process's start time (`/proc/<pid>/stat` field 22, clock ticks since boot), or undefined where there is no such file. */
export function processStart(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (in parentheses, which may itself hold ") "): state is field 3.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3];
}

const uid = process.getuid?.();
const procfs = processStart(process.pid) !== undefined;

/**
 * Whether the process a runtime file names is the service that wrote it, a live process of this
 * user. With /proc (Linux): the process runs as this user (root may signal anyone's, so a signal
 * proves nothing) and started when the file says (a reused pid started later); elsewhere, a
 * signal 0 that EPERM refuses is another user's.
 */
function ours(info: Pick<RuntimeInfo, 'pid' | 'uid' | 'started'>): 'alive' | 'gone' | 'another user' {
  if (procfs) {
    let owner: number;
    try {
      owner = statSync(`/proc/${info.pid}`).uid;
    } catch {
      return 'gone';
    }
    if (owner !== uid || (info.uid !== undefined && info.uid !== uid)) return 'another user';
    // A file without a start time (an older service's) cannot tell a reused pid: stale.
    return info.started !== undefined && processStart(info.pid) === info.started ? 'alive' : 'gone';
  }
  try {
    process.kill(info.pid, 0); // signal 0: is it there, and may we signal it?
    return 'alive';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? 'another user' : 'gone';
  }
}

/** The file's content, checked private and well formed, or undefined when there is none. */
function readChecked(path: string): RuntimeInfo | undefined {
  const text = readPrivateFile(path);
  if (text === undefined) return undefined;
  let info: Partial<RuntimeInfo> | undefined;
  try {
    info = JSON.parse(text) as Partial<RuntimeInfo>;
  } catch {
    // refused below
  }
  if (
    !Number.isSafeInteger(info?.pid) ||
    (info?.pid as number) <= 0 ||
    typeof info?.store !== 'string' ||
    typeof info.issuer !== 'string' ||
    typeof info.url !== 'string'
  ) {
    throw new BatonConfigError(`${path} is not a runtime file a Baton service wrote: remove it (\`rm ${path}\`).`);
  }
  return {
    pid: info.pid as number,
    nonce: typeof info.nonce === 'string' ? info.nonce : '',
    url: info.url,
    issuer: info.issuer,
    store: info.store,
    ...(typeof info.audit === 'string' && info.audit.startsWith('/') ? { audit: info.audit } : {}),
    ...(Number.isSafeInteger(info.uid) ? { uid: info.uid as number } : {}),
    ...(typeof info.started === 'string' ? { started: info.started } : {}),
  };
}

/** What a live service of this user announced in `path`; undefined when none (no file, or its process is gone). */
export function readRuntime(path: string): RuntimeInfo | undefined {
  const info = readChecked(path);
  if (info === undefined) return undefined;
  const state = ours(info);
  if (state === 'another user') {
    throw new BatonConfigError(
      `${path} names process ${info.pid}, which belongs to another user, not to a Baton service of yours: the file is stale or planted, and is not used. Remove it (\`rm ${path}\`), or point BATON_RUNTIME_FILE elsewhere.`,
    );
  }
  return state === 'alive' ? info : undefined;
}

/** What `announceRuntime` did: announced this service (remove() undoes it), or found another instance of the same store and issuer there. */
export interface Announcement {
  /** Undefined when this service announced itself; else the pid of the instance whose file it is. */
  sharedWith: number | undefined;
  /** Removes the file if it is still this service's. */
  remove(): void;
}

/**
 * Announces this service in `path`, created exclusively; a stale file (its process gone, or
 * another user's) is replaced; a live one of another instance of the same store and issuer is
 * left to it; one of another store or issuer stops the start with a sentence.
 */
export function announceRuntime(path: string, info: Omit<RuntimeInfo, 'pid' | 'nonce' | 'uid' | 'started'>): Announcement {
  const dir = dirname(path);
  privateDir(dir);
  checkPrivate(dir, 'folder');
  // A shared folder (sticky, like /tmp): anyone may create the name first and keep this service from announcing itself.
  if (uid !== undefined && (statSync(dir).mode & 0o1000) !== 0) {
    throw new BatonConfigError(
      `${dir} is a shared folder (sticky, like /tmp): another user could create ${basename(path)} there first. Point BATON_RUNTIME_FILE to a private folder (the default ./data is one).`,
    );
  }
  const started = processStart(process.pid);
  const mine: RuntimeInfo = {
    pid: process.pid,
    ...(uid === undefined ? {} : { uid }),
    ...(started === undefined ? {} : { started }),
    nonce: randomUUID(),
    ...info,
    store: canonicalStore(info.store),
  };
  const remove = () => {
    try {
      if (readChecked(path)?.nonce === mine.nonce) rmSync(path, { force: true });
    } catch {
      // no longer a file of ours: left alone
    }
  };
  // A few rounds: each either creates the file, or clears a stale one another start may race for.
  for (let round = 0; round < 5; round++) {
    const temp = join(dir, `.${basename(path)}.${process.pid}.${randomUUID()}.tmp`);
    writeFileSync(temp, `${JSON.stringify(mine)}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(temp, 0o600);
    try {
      linkSync(temp, path); // fails if the name exists: never over another service's file
      return { sharedWith: undefined, remove };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      rmSync(temp, { force: true });
    }
    const before = lstatSync(path, { throwIfNoEntry: false });
    const theirs = readChecked(path); // a file that fails the checks stops the start with its sentence
    if (theirs === undefined) continue; // removed meanwhile
    if (theirs.pid !== process.pid && ours(theirs) === 'alive') {
      if (theirs.store === mine.store && theirs.issuer === mine.issuer) return { sharedWith: theirs.pid, remove: () => undefined };
      throw new BatonConfigError(
        `${path} already names the Baton service running as process ${theirs.pid} (store ${redactUrl(theirs.store)}, issuer ${theirs.issuer}); this one serves ${redactUrl(mine.store)} as ${mine.issuer}, and \`baton\` commands would not know which to act on. Give this one its own BATON_RUNTIME_FILE, or stop process ${theirs.pid} first.`,
      );
    }
    // Stale: removed only if it is still the file just read (another start may have replaced it).
    const now = statSync(path, { throwIfNoEntry: false });
    if (before !== undefined && now !== undefined && now.ino === before.ino && now.dev === before.dev) rmSync(path, { force: true });
  }
  throw new BatonConfigError(
    `${path} kept changing while this service tried to announce itself: is another Baton service starting with the same BATON_RUNTIME_FILE?`,
  );
}
