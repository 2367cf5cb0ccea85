/**
 * The embedded store's files and the secret file: created private whatever the umask, and
 * refused at start when another user of the machine could read or replace them.
 */
import { chmodSync, closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { BatonConfigError } from 'baton-auth';

/** Creates `dir` (and parents) 0700 when missing, whatever the umask. */
export function privateDir(dir: string): void {
  if (existsSync(dir)) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Writes a secret file 0600, whatever the umask; never over an existing file. */
export function writeSecretFile(path: string, secret: string): void {
  privateDir(dirname(path));
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
}

const uid = process.getuid?.();

/**
 * Refuses a file or folder of the embedded store that another user could read or replace: each
 * must belong to this user; a folder must not be writable by others unless sticky (like /tmp,
 * where no one can rename another's file), a file not writable by others, and a `secret` not
 * readable by them. Missing ones pass (they are created privately).
 */
export function checkPrivate(path: string, kind: 'folder' | 'file' | 'secret'): void {
  if (uid === undefined || !existsSync(path)) return;
  checkStats(path, statSync(path), kind);
}

function checkStats(path: string, { mode, uid: owner }: { mode: number; uid: number }, kind: 'folder' | 'file' | 'secret'): void {
  if (uid === undefined) return;
  // A sticky folder (/tmp): others may add files but not rename or replace ours, checked one by one.
  if (kind === 'folder' && (mode & 0o1000) !== 0) return;
  if (owner !== uid) {
    throw new BatonConfigError(
      `${path} belongs to another user (uid ${owner}, not ${uid}): whoever owns it can read or replace what Baton keeps there. Run Baton as its owner, or \`chown ${uid} ${path}\`.`,
    );
  }
  if ((mode & (kind === 'secret' ? 0o077 : 0o022)) !== 0) {
    throw new BatonConfigError(`${path} is open to other users (mode ${(mode & 0o777).toString(8)}): \`chmod ${kind === 'folder' ? 700 : 600} ${path}\`.`);
  }
}

/**
 * Reads a private file (`secret`: this user's, no one else may read or write it) in a folder
 * checked as the store's, or undefined when there is none. The file is opened without following
 * a symbolic link and without blocking (a FIFO fails the check at once), and checked on the open
 * handle, so what is read is what was checked.
 */
export function readPrivateFile(path: string): string | undefined {
  checkPrivate(dirname(path), 'folder');
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new BatonConfigError(`${path} is a symbolic link: Baton reads it only as a file of its own. Remove the link (\`rm ${path}\`).`);
    throw err;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new BatonConfigError(`${path} is not a regular file: remove it.`);
    checkStats(path, stats, 'secret');
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Checks the embedded database's folder and files (`sqlite:<path>`); networked stores have none here. */
export function checkLocalStore(storeUrl: string): void {
  if (!storeUrl.startsWith('sqlite:') || storeUrl === 'sqlite::memory:') return;
  const path = storeUrl.slice('sqlite:'.length);
  checkPrivate(dirname(path), 'folder');
  for (const file of [path, `${path}-wal`, `${path}-shm`]) checkPrivate(file, 'file');
}

/** The file of an embedded store URL, or undefined for any other store (and `sqlite::memory:`). */
export function sqlitePath(storeUrl: string): string | undefined {
  if (!storeUrl.startsWith('sqlite:') || storeUrl === 'sqlite::memory:') return undefined;
  return resolve(storeUrl.slice('sqlite:'.length));
}

/**
 * `PRAGMA quick_check` of the embedded store's database, if that is the store (`sqlite-files.ts`,
 * loaded only then: node:sqlite prints an experimental warning on some Node versions).
 */
export async function checkIntegrity(config: { store: string }): Promise<void> {
  const file = sqlitePath(config.store);
  if (file !== undefined) (await import('./sqlite-files.ts')).checkIntegrity(file);
}
