/**
 * Node-only token storage: a JSON file, mode 0600, written atomically (temp file + fsync +
 * rename, `write-file-atomic`), with a lock (`proper-lockfile`) held around the whole refresh —
 * read, refresh, write — so that two processes of one CLI never spend the same refresh token
 * twice. A lock left by a dead process goes stale and is taken over. Import from
 * `baton-auth-client/node`.
 *
 * @example
 * ```ts
 * import { createTokenClient } from 'baton-auth-client';
 * import { fileStorage } from 'baton-auth-client/node';
 * const client = createTokenClient({ issuer, storage: fileStorage(`${homedir()}/.config/my-cli/tokens.json`) });
 * ```
 */
import { lstat, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import writeFileAtomic from 'write-file-atomic';
import { BatonClientError } from './errors.ts';
import type { StoredTokens, TokenStorage } from './types.ts';

/** Options of `fileStorage`. */
export interface FileStorageOptions {
  /** A lock older than this is a dead process's (ms). Default 10 s. */
  staleMs?: number;
  /** How long to wait for another process's refresh (ms). Default 15 s. */
  waitMs?: number;
}

/**
 * Refuses a token path that is not a regular file of this user: a symbolic link (writing through
 * it would overwrite its target) or a file another user owns (a rewrite keeps its owner, who could
 * then read the tokens). A missing file passes: it is created 0600.
 */
async function checkOwnFile(path: string): Promise<void> {
  let stat;
  try {
    stat = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (stat.isSymbolicLink()) throw new BatonClientError('ERR_STORAGE_UNSAFE', `The token file ${path} is a symbolic link; tokens are never written through one. Remove the link.`);
  if (!stat.isFile()) throw new BatonClientError('ERR_STORAGE_UNSAFE', `The token path ${path} is not a regular file.`);
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) throw new BatonClientError('ERR_STORAGE_UNSAFE', `The token file ${path} belongs to uid ${stat.uid}, not to this user (uid ${uid}); it could read the tokens. Remove the file.`);
}

/** A token file shared by the processes of one user. */
export function fileStorage(path: string, options: FileStorageOptions = {}): TokenStorage {
  const stale = options.staleMs ?? 10_000;
  const wait = options.waitMs ?? 15_000;
  const ensureDir = () => mkdir(dirname(path), { recursive: true, mode: 0o700 });
  return {
    id: `file:${resolve(path)}`,
    async get() {
      await checkOwnFile(path);
      try {
        const parsed = JSON.parse(await readFile(path, 'utf8')) as StoredTokens;
        return typeof parsed?.accessToken === 'string' ? parsed : null;
      } catch {
        return null;
      }
    },
    async set(tokens) {
      await ensureDir();
      await checkOwnFile(path);
      await writeFileAtomic(path, JSON.stringify(tokens), { mode: 0o600, fsync: true });
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
