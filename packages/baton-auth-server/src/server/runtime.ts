/**
 * Where a running `baton serve` says what it serves — its URL, issuer and store — so that `baton`
 * commands act on the same store and issuer without repeating the settings, and warn when told
 * otherwise. A 0600 file (the store URL may hold a password), `BATON_RUNTIME_FILE` or
 * `./data/baton-service.json`.
 *
 * What a command acts on is chosen by this file, so it is trusted only as the store's own files
 * are (`files.ts`): this user's, no one else's to read or write, in a folder no one else may write
 * in, never through a symbolic link — otherwise refused with a sentence, never used. A process
 * this user may not signal (EPERM) is another user's: the file is stale or planted, refused too.
 *
 * One file, one service: it is created exclusively (a temp file linked to its name), so a second
 * service never overwrites the first's; the second starts only if it serves the same store and
 * issuer (instances of one deployment), unannounced, and refuses otherwise. A service removes the
 * file on exit only if it is still its own (its nonce).
 */
import { randomUUID } from 'node:crypto';
import { linkSync, lstatSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BatonConfigError } from 'baton-auth';
import { redactUrl } from './config.ts';
import { checkPrivate, privateDir, readPrivateFile } from './files.ts';

/** What the running service wrote. */
export interface RuntimeInfo {
  pid: number;
  /** Which start of the service wrote it (a pid can be reused). */
  nonce: string;
  url: string;
  issuer: string;
  store: string;
}

/** The runtime file's path. */
export function runtimeFile(env: Record<string, string | undefined> = process.env): string {
  return resolve(env.BATON_RUNTIME_FILE ?? 'data/baton-service.json');
}

/** A store URL as a command elsewhere must read it: an embedded database by its absolute path. */
export function canonicalStore(store: string): string {
  return store.startsWith('sqlite:') && store !== 'sqlite::memory:' ? `sqlite:${resolve(store.slice('sqlite:'.length))}` : store;
}

/** Whether `pid` is a live process of this user: EPERM (another user's process) is not ours. */
function ours(pid: number): 'alive' | 'gone' | 'another user' {
  try {
    process.kill(pid, 0); // signal 0: is it there, and may we signal it?
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
  if (!Number.isSafeInteger(info?.pid) || (info?.pid as number) <= 0 || typeof info?.store !== 'string' || typeof info.issuer !== 'string' || typeof info.url !== 'string') {
    throw new BatonConfigError(`${path} is not a runtime file a Baton service wrote: remove it (\`rm ${path}\`).`);
  }
  return { pid: info.pid as number, nonce: typeof info.nonce === 'string' ? info.nonce : '', url: info.url, issuer: info.issuer, store: info.store };
}

/** What a live service of this user announced in `path`; undefined when none (no file, or its process is gone). */
export function readRuntime(path: string): RuntimeInfo | undefined {
  const info = readChecked(path);
  if (info === undefined) return undefined;
  const state = ours(info.pid);
  if (state === 'another user') {
    throw new BatonConfigError(`${path} names process ${info.pid}, which belongs to another user, not to a Baton service of yours: the file is stale or planted, and is not used. Remove it (\`rm ${path}\`), or point BATON_RUNTIME_FILE elsewhere.`);
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
export function announceRuntime(path: string, info: Omit<RuntimeInfo, 'pid' | 'nonce'>): Announcement {
  const dir = dirname(path);
  privateDir(dir);
  checkPrivate(dir, 'folder');
  const mine: RuntimeInfo = { pid: process.pid, nonce: randomUUID(), ...info, store: canonicalStore(info.store) };
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
    if (theirs.pid !== process.pid && ours(theirs.pid) === 'alive') {
      if (theirs.store === mine.store && theirs.issuer === mine.issuer) return { sharedWith: theirs.pid, remove: () => undefined };
      throw new BatonConfigError(`${path} already names the Baton service running as process ${theirs.pid} (store ${redactUrl(theirs.store)}, issuer ${theirs.issuer}); this one serves ${redactUrl(mine.store)} as ${mine.issuer}, and \`baton\` commands would not know which to act on. Give this one its own BATON_RUNTIME_FILE, or stop process ${theirs.pid} first.`);
    }
    // Stale: removed only if it is still the file just read (another start may have replaced it).
    const now = statSync(path, { throwIfNoEntry: false });
    if (before !== undefined && now !== undefined && now.ino === before.ino && now.dev === before.dev) rmSync(path, { force: true });
  }
  throw new BatonConfigError(`${path} kept changing while this service tried to announce itself: is another Baton service starting with the same BATON_RUNTIME_FILE?`);
}
