/**
 * Where the service writes its audit trail (`BATON_AUDIT_LOG`): one JSON line per event, to a file
 * rotated by size or to standard output. Lines are gathered for one turn of the event loop and
 * written with one `write` (O_APPEND), off the request's path; at most `MAX_PENDING` lines wait,
 * and past that a line is dropped and counted (`dropped`) rather than memory growing without bound.
 *
 * One writer per file: with BATON_WORKERS the primary writes every worker's lines (they reach it
 * over IPC, `audit-relay.ts`), so lines never interleave and one process rotates. A `baton`
 * command appends its own line (one `write` on an O_APPEND descriptor: whole, at the end, on a
 * local file system) and never rotates.
 */
import { closeSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import pino from 'pino';
import { BatonConfigError } from 'baton-auth';
import type { AuditEvent } from 'baton-auth';
import type { AuditTarget } from './settings/audit.ts';

/** Lines waiting for the next write, at most. */
export const MAX_PENDING = 10_000;

/** A destination of audit lines. */
export interface AuditLog {
  /** Queues one event (written within the turn of the event loop). */
  write(event: AuditEvent): void;
  /** Queues lines already serialised (a worker's, relayed by the primary). */
  writeLines(lines: readonly string[]): void;
  /** Lines dropped because too many were waiting, or a write failed. */
  readonly dropped: number;
  /** Writes what waits, synchronously, and closes the file. */
  close(): void;
}

/** The name of the `n`th rotated sibling of `path` (`audit.log.1` is the newest). */
export const rotated = (path: string, n: number): string => `${path}.${n}`;

/** Opens `path` for appending, private to this user; a mistake is a sentence naming the setting. */
export function openAppend(path: string): number {
  try {
    return openSync(path, 'a', 0o600);
  } catch (err) {
    throw new BatonConfigError(
      `BATON_AUDIT_LOG=${path} cannot be opened for appending (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): create its folder, or give a path this user may write.`,
    );
  }
}

/** Gathers lines for one turn of the event loop, then hands them to `flush` at once. */
abstract class Batched implements AuditLog {
  #pending: string[] = [];
  #scheduled = false;
  dropped = 0;

  write(event: AuditEvent): void {
    this.writeLines([JSON.stringify(event)]);
  }

  writeLines(lines: readonly string[]): void {
    for (const line of lines) {
      if (this.#pending.length >= MAX_PENDING) this.dropped++;
      else this.#pending.push(line);
    }
    if (this.#scheduled || this.#pending.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => this.#drain());
  }

  #drain(): void {
    this.#scheduled = false;
    const lines = this.#pending;
    this.#pending = [];
    if (lines.length === 0) return;
    try {
      this.flush(lines);
    } catch {
      this.dropped += lines.length;
    }
  }

  protected abstract flush(lines: readonly string[]): void;

  close(): void {
    this.#drain();
  }
}

/** Standard output: the logs are then on standard error (`http-server.ts`). */
class StdoutLog extends Batched {
  protected flush(lines: readonly string[]): void {
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

/** Lines handed to `send` once per turn of the event loop (a worker's, to the primary), as bounded as a file's. */
class RelayedLog extends Batched {
  readonly #send: (lines: string[]) => void;

  constructor(send: (lines: string[]) => void) {
    super();
    this.#send = send;
  }

  protected flush(lines: readonly string[]): void {
    this.#send([...lines]);
  }
}

/** A worker's audit log: its lines go to `send` (the primary, which writes them), batched and bounded by `MAX_PENDING`. */
export const relayedLog = (send: (lines: string[]) => void): AuditLog => new RelayedLog(send);

/** A file, rotated once the next write would take it past `maxBytes`: `path` → `path.1` → … → `path.<files>`, the oldest deleted. */
export class AuditFile extends Batched {
  readonly #path: string;
  readonly #maxBytes: number;
  readonly #files: number;
  #fd: number;

  constructor(path: string, maxBytes: number, files: number) {
    super();
    this.#path = path;
    this.#maxBytes = maxBytes;
    this.#files = files;
    this.#fd = openAppend(path);
  }

  protected flush(lines: readonly string[]): void {
    const bytes = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    // The size on disk, not a count of our own: a `baton` command may have appended meanwhile.
    const size = fstatSync(this.#fd).size;
    if (size > 0 && size + bytes.length > this.#maxBytes) this.#rotate();
    writeSync(this.#fd, bytes);
  }

  #rotate(): void {
    closeSync(this.#fd);
    rmSync(rotated(this.#path, this.#files), { force: true });
    for (let n = this.#files - 1; n >= 1; n--) renameIfThere(rotated(this.#path, n), rotated(this.#path, n + 1));
    renameIfThere(this.#path, rotated(this.#path, 1));
    this.#fd = openAppend(this.#path);
  }

  override close(): void {
    super.close();
    closeSync(this.#fd);
  }
}

function renameIfThere(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Where the logs go: standard error when the audit trail has standard output (`BATON_AUDIT_LOG=stdout`), else pino's default. */
export function logDestination(target: AuditTarget): pino.DestinationStream | undefined {
  return target.to === 'stdout' ? pino.destination(2) : undefined;
}

/** Nowhere: the events are still counted (`baton_audit_events_total`). */
const OFF: AuditLog = { write: () => undefined, writeLines: () => undefined, dropped: 0, close: () => undefined };

/** The destination `target` names. */
export function openAuditLog(target: AuditTarget): AuditLog {
  if (target.to === 'off') return OFF;
  if (target.to === 'stdout') return new StdoutLog();
  return new AuditFile(target.path, target.maxBytes, target.files);
}

/** Appends one event to the file at `path` at once (a `baton` command's), never rotating it: one `write` of one whole line. */
export function appendAuditLine(path: string, event: AuditEvent): void {
  const fd = openAppend(path);
  try {
    writeSync(fd, `${JSON.stringify(event)}\n`);
  } finally {
    closeSync(fd);
  }
}
