/**
 * Where a running `baton serve` says what it serves — its URL, issuer and store — so that `baton`
 * commands act on the same store and issuer without repeating the settings, and warn when told
 * otherwise. A 0600 file (the store URL may hold a password), `BATON_RUNTIME_FILE` or
 * `./data/baton-service.json`; removed when the service stops, ignored when its process is gone.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { privateDir } from './files.ts';

/** What the running service wrote. */
export interface RuntimeInfo {
  pid: number;
  url: string;
  issuer: string;
  store: string;
}

/** The runtime file's path. */
export function runtimeFile(env: Record<string, string | undefined> = process.env): string {
  return resolve(env.BATON_RUNTIME_FILE ?? 'data/baton-service.json');
}

/** Writes the file for this process; returns the function that removes it. */
export function announceRuntime(path: string, info: Omit<RuntimeInfo, 'pid'>): () => void {
  privateDir(dirname(path));
  writeFileSync(path, `${JSON.stringify({ pid: process.pid, ...info })}\n`, { mode: 0o600 });
  return () => {
    if (readRuntime(path)?.pid === process.pid) rmSync(path, { force: true });
  };
}

/** The running service's information, if a live process wrote it. */
export function readRuntime(path: string): RuntimeInfo | undefined {
  let info: RuntimeInfo;
  try {
    info = JSON.parse(readFileSync(path, 'utf8')) as RuntimeInfo;
  } catch {
    return undefined;
  }
  try {
    process.kill(info.pid, 0); // signal 0: is it alive?
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return typeof info.store === 'string' && typeof info.issuer === 'string' ? info : undefined;
}
