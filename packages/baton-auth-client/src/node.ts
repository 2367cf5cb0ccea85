/**
 * Node-only token storage: a JSON file, mode 0600, written atomically (temp file + fsync +
 * rename), with a lock (`proper-lockfile`) held around the whole refresh —
 * read, refresh, write — so that two processes of one CLI never spend the same refresh token
 * twice. A lock left by a dead process goes stale and is taken over. Import from
 * `baton-auth-client/node`.
 *
 * The DPoP key (RFC 9449) lives beside the token file, in `<path>.dpop.json`: a private JWK (Node
 * cannot persist a non-extractable key; the file is 0600 like the tokens, with the same checks),
 * created once — written to an exclusive temp file, then hard-linked to its name, which fails if
 * another process made one first, and then that one is used — and read by every process after,
 * so all of them sign with the key the session is bound to. It survives `clear()` and restarts.
 *
 * @example
 * ```ts
 * import { createTokenClient } from 'baton-auth-client';
 * import { fileStorage } from 'baton-auth-client/node';
 * const client = createTokenClient({ issuer, storage: fileStorage(`${homedir()}/.config/my-cli/tokens.json`) });
 * ```
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, lstat, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import { BatonClientError, checkNumbers, configError } from './errors.ts';
import type { StoredTokens, TokenStorage } from './types.ts';

/** Options of `fileStorage`. */
export interface FileStorageOptions {
  /** A lock older than this is a dead process's (ms). Default 10 s. */
  staleMs?: number;
  /** How long to wait for another process's refresh (ms). Default 15 s. */
  waitMs?: number;
}

const unsafe = (message: string) => new BatonClientError('ERR_STORAGE_UNSAFE', message);
const uid = process.getuid?.();

/**
 * Refuses a token or key file that is not a regular file of this user, or that group or others may
 * read or write, checked on the open handle (no window between the check and the use).
 */
async function checkHandle(handle: FileHandle, path: string, what = 'token file'): Promise<void> {
  const s = await handle.stat();
  if (!s.isFile()) throw unsafe(`The ${what} path ${path} is not a regular file.`);
  if (uid !== undefined && s.uid !== uid)
    throw unsafe(`The ${what} ${path} belongs to uid ${s.uid}, not to this user (uid ${uid}); it could read the tokens. Remove the file.`);
  // Group or others may read or write it: refused, the tokens as the key (a file this storage
  // writes is always 0600, so only a hand-made or chmod-ed one is ever refused).
  if ((s.mode & 0o077) !== 0) {
    throw unsafe(
      `The ${what} ${path} is open to other users (mode ${(s.mode & 0o777).toString(8)}): \`chmod 600 ${path}\`${what === KEY_FILE ? '' : ', and sign in again if someone else could have read it'}.`,
    );
  }
}

/**
 * Refuses a folder another user owns or may write in: they could swap the token file under us
 * (or, before a read, put theirs there: a session of their choosing). Checked before every read
 * and write; a folder that does not exist yet passes, and holds nothing to read.
 */
async function checkFolder(dir: string): Promise<void> {
  const s = await stat(dir).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  });
  if (s === undefined) return;
  if (uid !== undefined && s.uid !== uid) throw unsafe(`The folder ${dir} of the token file belongs to uid ${s.uid}, not to this user (uid ${uid}).`);
  if ((s.mode & 0o022) !== 0 && (s.mode & 0o1000) === 0) throw unsafe(`The folder ${dir} of the token file is writable by others: \`chmod go-w ${dir}\`.`);
}

/** Opens without following a symbolic link at the path itself: ELOOP becomes a sentence. */
async function openNoFollow(path: string, flags: number, mode?: number, what = 'token file'): Promise<FileHandle> {
  try {
    return await open(path, flags | constants.O_NOFOLLOW, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP')
      throw unsafe(`The ${what} ${path} is a symbolic link; it is never read or written through one. Remove the link.`);
    throw err;
  }
}

const KEY_FILE = 'DPoP key file';

/**
 * How the key and token files are opened for reading: O_NONBLOCK, so that a FIFO (or a device)
 * planted at the path fails checkHandle at once instead of blocking the open until a writer
 * comes; it changes nothing for the regular file that passes (reads of a regular file never block).
 */
const READ = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** A private P-256 JWK as the key file holds it. */
interface PrivateJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  d: string;
}

/** The key file's JWK, or null when there is none yet. */
async function readKeyFile(path: string): Promise<PrivateJwk | null> {
  await checkFolder(dirname(path));
  let handle: FileHandle;
  try {
    handle = await openNoFollow(path, READ, undefined, KEY_FILE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    await checkHandle(handle, path, KEY_FILE);
    let jwk: Partial<PrivateJwk> | null = null;
    try {
      jwk = JSON.parse(await handle.readFile('utf8')) as Partial<PrivateJwk>;
    } catch {
      // not JSON: refused below
    }
    if (jwk?.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string' || typeof jwk.d !== 'string') {
      throw unsafe(`The ${KEY_FILE} ${path} does not hold a P-256 private key; remove it (the session bound to it ends: sign in again).`);
    }
    return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d };
  } finally {
    await handle.close();
  }
}

/** `data` in a new 0600 temp file beside `path`, created exclusively (never through a link) and synced; its path. */
async function writeTemp(path: string, data: string): Promise<string> {
  const temp = join(dirname(path), `.${randomBytes(8).toString('hex')}.tmp`);
  const handle = await openNoFollow(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temp;
}

/**
 * Creates the key file with `jwk` unless one exists: a 0600 temp file created exclusively (never
 * through a link), fsync, then `link` to the name — atomic, and it never replaces a file another
 * process created meanwhile. False when one was there first.
 */
async function createKeyFile(path: string, jwk: PrivateJwk): Promise<boolean> {
  await checkFolder(dirname(path));
  const temp = await writeTemp(path, JSON.stringify(jwk));
  try {
    await link(temp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
}

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** The key pair of a JWK; the private key is non-extractable once in memory. */
async function importPair({ kty, crv, x, y, d }: PrivateJwk): Promise<CryptoKeyPair> {
  return {
    privateKey: await crypto.subtle.importKey('jwk', { kty, crv, x, y, d }, EC, false, ['sign']),
    publicKey: await crypto.subtle.importKey('jwk', { kty, crv, x, y }, EC, true, ['verify']),
  };
}

/** The DPoP key of the token file at `tokenPath`: read, or created once. */
async function fileKey(tokenPath: string): Promise<CryptoKeyPair> {
  const path = `${tokenPath}.dpop.json`;
  const existing = await readKeyFile(path);
  if (existing !== null) return importPair(existing);
  const pair = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const jwk = (await crypto.subtle.exportKey('jwk', pair.privateKey)) as PrivateJwk;
  if (await createKeyFile(path, { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d })) return importPair(jwk);
  const theirs = await readKeyFile(path); // another process created it first: its key it is
  if (theirs === null) throw unsafe(`The ${KEY_FILE} ${path} vanished while it was being created.`);
  return importPair(theirs);
}

/**
 * Writes `data` to `path` atomically: a new 0600 temp file beside it (created exclusively, never
 * through a link), fsync, rename over the path. Written here rather than with write-file-atomic,
 * which resolves symbolic links and copies the old file's owner: exactly what a token file must not do.
 */
async function writePrivately(path: string, data: string): Promise<void> {
  await checkFolder(dirname(path));
  const existing = await lstat(path).catch(() => undefined);
  if (existing?.isSymbolicLink()) throw unsafe(`The token file ${path} is a symbolic link; tokens are never written through one. Remove the link.`);
  if (existing !== undefined && uid !== undefined && existing.uid !== uid)
    throw unsafe(`The token file ${path} belongs to uid ${existing.uid}, not to this user (uid ${uid}); it could read the tokens. Remove the file.`);
  const temp = await writeTemp(path, data);
  try {
    await rename(temp, path); // replaces a link or file at `path` itself, never its target
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** The tokens in the file at `path`, or null when there is none (or it is not a token file). */
async function readTokenFile(path: string): Promise<StoredTokens | null> {
  await checkFolder(dirname(path));
  let handle: FileHandle;
  try {
    handle = await openNoFollow(path, READ);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    await checkHandle(handle, path);
    const parsed = JSON.parse(await handle.readFile('utf8')) as StoredTokens;
    return typeof parsed?.accessToken === 'string' ? parsed : null;
  } catch (err) {
    if (err instanceof BatonClientError) throw err;
    return null; // unreadable or not ours in shape: as if signed out
  } finally {
    await handle.close();
  }
}

/** A token file shared by the processes of one user. */
export function fileStorage(path: string, options: FileStorageOptions = {}): TokenStorage {
  if (typeof path !== 'string' || path === '') throw configError("fileStorage needs the token file's path, a non-empty string.");
  if (typeof options !== 'object' || options === null) throw configError('fileStorage: `options` must be an object: `{ staleMs, waitMs }`.');
  checkNumbers('fileStorage', options, ['staleMs', 'waitMs'], 1);
  const stale = options.staleMs ?? 10_000;
  const wait = options.waitMs ?? 15_000;
  const ensureDir = () => mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let key: Promise<CryptoKeyPair> | undefined;
  return {
    id: `file:${resolve(path)}`,
    /** One key per token file (`<path>.dpop.json`), whatever the scope: the file holds one session. */
    dpopKey() {
      key ??= ensureDir()
        .then(() => fileKey(path))
        .catch((err: unknown) => {
          key = undefined;
          throw err;
        });
      return key;
    },
    get: () => readTokenFile(path),
    async set(tokens) {
      await ensureDir();
      await writePrivately(path, JSON.stringify(tokens));
    },
    async clear() {
      await rm(path, { force: true });
    },
    async withLock(fn) {
      await ensureDir();
      // The lock is a directory beside the file, so it works before the file exists.
      const release = await lockfile.lock(dirname(path), {
        lockfilePath: `${path}.lock`,
        stale,
        update: Math.min(stale / 2, 5000),
        retries: { retries: Math.ceil(wait / 50), minTimeout: 20, maxTimeout: 100, factor: 1.2 },
      });
      try {
        return await fn();
      } finally {
        await release().catch(() => undefined);
      }
    },
  };
}
export { redisTokenStorage } from './redis-storage.ts';
export type { RedisTokenStorageOptions } from './redis-storage.ts';
export { openInSystemBrowser, showAndOpen, signInWithBrowser } from './loopback.ts';
export type { BrowserSignInOptions } from './loopback.ts';
