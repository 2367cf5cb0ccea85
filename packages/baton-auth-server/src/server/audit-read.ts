/**
 * Reading the audit trail back (`baton audit tail`, `baton audit search`): the file and its rotated
 * siblings, oldest first (`audit.log.N` … `audit.log.1`, `audit.log`). The last lines are read
 * from the end in blocks, never the whole trail; a search streams it line by line. A line that is
 * not an event (cut short by a crash) is skipped.
 */
import { closeSync, createReadStream, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { AuditEvent } from 'baton-auth';
import { rotated } from './audit-log.ts';

/** The most rotated siblings looked for (`BATON_AUDIT_LOG_FILES` is at most 100). */
const MAX_SIBLINGS = 100;
const BLOCK = 64 * 1024;

/** The trail's files that exist, oldest first. */
export function trailFiles(path: string): string[] {
  const files: string[] = [];
  for (let n = MAX_SIBLINGS; n >= 1; n--) if (existsSync(rotated(path, n))) files.push(rotated(path, n));
  if (existsSync(path)) files.push(path);
  return files;
}

/** The last `n` lines of one file (fewer if it has fewer), read backwards a block at a time. */
function lastLinesOf(file: string, n: number): string[] {
  const fd = openSync(file, 'r');
  try {
    let end = fstatSync(fd).size;
    const blocks: Buffer[] = [];
    let newlines = 0;
    let lines: string[] = [];
    while (end > 0) {
      const start = Math.max(0, end - BLOCK);
      const block = Buffer.alloc(end - start);
      readSync(fd, block, 0, block.length, start);
      blocks.unshift(block);
      end = start;
      for (let i = block.indexOf(10); i !== -1; i = block.indexOf(10, i + 1)) newlines++;
      // More than n lines need at least n newlines: only then are the blocks joined and split (once, as a rule, not per block).
      if (end > 0 && newlines < n) continue;
      lines = Buffer.concat(blocks).toString('utf8').split('\n');
      // The first piece may be the end of a line that starts in an earlier block: whole only at the file's start.
      if (lines.filter((l) => l !== '').length > n && end > 0) break;
    }
    const whole = end > 0 ? lines.slice(1) : lines;
    return whole.filter((l) => l !== '').slice(-n);
  } finally {
    closeSync(fd);
  }
}

/** The last `n` lines of the trail, oldest first, across the rotated files. */
export function lastLines(path: string, n: number): string[] {
  let lines: string[] = [];
  for (const file of trailFiles(path).reverse()) {
    if (lines.length >= n) break;
    lines = [...lastLinesOf(file, n - lines.length), ...lines];
  }
  return lines;
}

/** What a search keeps. */
export interface AuditQuery {
  /** User ids and usernames: an event naming any of them in `user` or `username`. */
  users?: Set<string>;
  /** At or after this time (ms). */
  since?: number;
  /** Types, each exact (`login.failed`) or a family (`login`: every `login.*`). */
  types?: string[];
}

function parse(line: string): AuditEvent | undefined {
  try {
    const e = JSON.parse(line) as AuditEvent;
    return typeof e === 'object' && e !== null && e.v === 1 && typeof e.type === 'string' && typeof e.time === 'string' ? e : undefined;
  } catch {
    return undefined;
  }
}

/** Every event of the trail, oldest first, with the line it was read from. */
async function* events(path: string): AsyncGenerator<[AuditEvent, string]> {
  for (const file of trailFiles(path)) {
    const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of lines) {
      const event = parse(line);
      if (event !== undefined) yield [event, line];
    }
  }
}

const matches = (e: AuditEvent, q: AuditQuery): boolean =>
  (q.users === undefined || (e.user !== undefined && q.users.has(e.user)) || (e.username !== undefined && q.users.has(e.username))) &&
  (q.since === undefined || Date.parse(e.time) >= q.since) &&
  (q.types === undefined || q.types.some((t) => e.type === t || e.type.startsWith(`${t}.`)));

/**
 * The lines of the events `q` keeps, oldest first, to `out`. A username also finds the events that
 * name only the user's id (a refresh, a session's end): the ids an event with both links to it.
 */
export async function searchTrail(path: string, q: AuditQuery, out: (line: string) => void): Promise<number> {
  let users = q.users;
  if (users !== undefined) {
    const names = users;
    users = new Set(names);
    for await (const [e] of events(path)) if (e.user !== undefined && e.username !== undefined && names.has(e.username)) users.add(e.user);
  }
  const query = users === undefined ? q : { ...q, users };
  let found = 0;
  for await (const [e, line] of events(path)) {
    if (!matches(e, query)) continue;
    out(line);
    found++;
  }
  return found;
}

/**
 * Follows the file as it grows (`tail -f`), from its current end, across rotations (a new file
 * under the name: the rest of the old one is read, then the new one from its start). Resolves never;
 * `stop()` ends it.
 */
export function followTrail(path: string, out: (line: string) => void, intervalMs = 250): { stop(): void } {
  let fd = existsSync(path) ? openSync(path, 'r') : undefined;
  let at = fd === undefined ? 0 : fstatSync(fd).size;
  let partial = '';
  const drain = (): void => {
    if (fd === undefined) return;
    const size = fstatSync(fd).size;
    while (at < size) {
      const chunk = Buffer.alloc(Math.min(BLOCK, size - at));
      const read = readSync(fd, chunk, 0, chunk.length, at);
      if (read === 0) break;
      at += read;
      const pieces = (partial + chunk.subarray(0, read).toString('utf8')).split('\n');
      partial = pieces.pop() ?? '';
      for (const line of pieces) if (line !== '') out(line);
    }
  };
  const timer = setInterval(() => {
    drain();
    const now = statSync(path, { throwIfNoEntry: false });
    if (now === undefined) return;
    if (fd === undefined || now.ino !== fstatSync(fd).ino) {
      if (fd !== undefined) closeSync(fd);
      fd = openSync(path, 'r');
      at = 0;
      partial = '';
      drain();
    }
  }, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      if (fd !== undefined) closeSync(fd);
    },
  };
}
