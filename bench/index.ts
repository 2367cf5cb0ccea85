/**
 * `npm run bench`: every table, measured in this run on this machine.
 * Options: `--quick` (shorter rounds), `--only verify|dpop|tracing|stores|frameworks|logging|workers|sqlite-lock` (or several, comma-separated), `--peers` (adds the peers table),
 * `--rounds N` (interleaved rounds of the frameworks and peers tables), `--no-report` (print only).
 * Each run prints its tables and writes them, dated, to docs/benchmarks/<date>-<time>.md: the reports docs/benchmarks.md cites.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { benchPropagation, benchRotation } from './stores.ts';
import { benchFrameworks } from './frameworks.ts';
import { benchPeers } from './peers.ts';
import { benchRemoteRevocation } from './remote.ts';
import { benchVerify } from './verify.ts';
import { benchDpop } from './dpop.ts';
import { benchLogging } from './logging.ts';
import { benchWorkers } from './workers.ts';
import { benchSqliteLock } from './sqlite-lock.ts';
import { benchTracing } from './tracing.ts';

const quick = process.argv.includes('--quick');
const only = (process.argv[process.argv.indexOf('--only') + 1] ?? '').split(',');
const want = (name: string): boolean => !process.argv.includes('--only') || only.includes(name);
// `--rounds N`: the interleaved rounds of the frameworks and peers tables (a noisy machine wants more).
const rounds = process.argv.includes('--rounds') ? Number(process.argv[process.argv.indexOf('--rounds') + 1]) : undefined;
const timing = quick ? { ms: 150, rounds: 1 } : { ms: 500, rounds: 3 };
const started = new Date();
const lines: string[] = [];
/** Prints a part of the report and keeps it for the file. */
const log = (text: string): void => {
  console.log(text);
  lines.push(text);
};

log(
  `# Baton benchmarks — ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n`,
);
log(`\`npm run bench -- ${process.argv.slice(2).join(' ')}\`\n`);
if (want('verify')) {
  log('## Access-token verification (one process)\n');
  log(await benchVerify(timing));
}
if (want('dpop')) {
  log('\n## DPoP (RFC 9449): a protected request and a refresh, with and without a proof\n');
  log(await benchDpop(timing));
}
if (want('stores')) {
  log('\n## Refresh rotation per store (loopback servers; client and server share the 2 cores)\n');
  log(await benchRotation(quick ? 500 : 2000));
  log('\n## Revocation propagation between two instances\n');
  log(await benchPropagation(quick ? 50 : 300));
  log('\n## Revocation reaching a resource server elsewhere (the revocation feed; target p99 < 50 ms)\n');
  log(await benchRemoteRevocation(quick ? 50 : 300));
}
if (want('tracing')) {
  log('\n## Traces with no tracer installed (one process)\n');
  log(await benchTracing(timing));
}
if (want('frameworks')) {
  log(
    `\n## requireAuth per framework (autocannon, 32 connections, loopback; client and server share the 2 cores; median of ${rounds ?? (quick ? 1 : 5)} interleaved rounds)\n`,
  );
  log(await benchFrameworks(quick ? 1 : 2, rounds ?? (quick ? 1 : 5)));
}
if (want('logging')) {
  log(
    '\n## The request log: `baton serve` at BATON_LOG_LEVEL=info against warn (autocannon, 32 connections, GET /auth/me, loopback; its log to a file; both in each round, the median of their ratios)\n',
  );
  log(await benchLogging(quick ? 2 : 3, quick ? 3 : 9));
}
if (want('workers')) {
  log('\n## BATON_WORKERS: 1 and 2 workers on one SQLite file (`baton serve`, load from another process)\n');
  log(await benchWorkers(quick ? 2 : 4, quick ? 1 : 3));
}
if (want('sqlite-lock')) {
  log("\n## Two processes on one SQLite file: the commit's sync or the write lock?\n");
  log(await benchSqliteLock(quick ? 1 : 2, quick ? 1 : 3));
}
if (process.argv.includes('--peers')) {
  log('\n## Peers over HTTP, same machine, same run\n');
  log(await benchPeers(quick ? 2 : 5, rounds ?? (quick ? 1 : 3)));
}

if (!process.argv.includes('--no-report')) {
  const dir = new URL('../docs/benchmarks/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`${started.toISOString().slice(0, 16).replace(/[T:]/g, '-')}.md`, dir);
  writeFileSync(file, `${lines.join('\n')}\n`);
  console.log(`\nReport written to ${file.pathname}`);
}
