/**
 * `npm run bench`: every table, measured in this run on this machine.
 * Options: `--quick` (shorter rounds), `--only verify|dpop|stores|frameworks|logging|workers|sqlite-lock`, `--peers` (adds the peers table).
 */
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

const quick = process.argv.includes('--quick');
const only = process.argv[process.argv.indexOf('--only') + 1];
const want = (name: string): boolean => !process.argv.includes('--only') || only === name;
const timing = quick ? { ms: 150, rounds: 1 } : { ms: 500, rounds: 3 };

console.log(`# Baton benchmarks — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n`);
if (want('verify')) {
  console.log('## Access-token verification (one process)\n');
  console.log(await benchVerify(timing));
}
if (want('dpop')) {
  console.log('\n## DPoP (RFC 9449): a protected request and a refresh, with and without a proof\n');
  console.log(await benchDpop(timing));
}
if (want('stores')) {
  console.log('\n## Refresh rotation per store (loopback servers; client and server share the 2 cores)\n');
  console.log(await benchRotation(quick ? 500 : 2000));
  console.log('\n## Revocation propagation between two instances\n');
  console.log(await benchPropagation(quick ? 50 : 300));
  console.log('\n## Revocation reaching a resource server elsewhere (the revocation feed; target p99 < 50 ms)\n');
  console.log(await benchRemoteRevocation(quick ? 50 : 300));
}
if (want('frameworks')) {
  console.log('\n## requireAuth per framework (autocannon, 32 connections, loopback; client and server share the 2 cores; median of 5 interleaved rounds)\n');
  console.log(await benchFrameworks(quick ? 1 : 2, quick ? 1 : 5));
}
if (want('logging')) {
  console.log('\n## The request log: `baton serve` at BATON_LOG_LEVEL=info against warn (autocannon, 32 connections, GET /auth/me, loopback; its log to a file; both in each round, the median of their ratios)\n');
  console.log(await benchLogging(quick ? 2 : 3, quick ? 3 : 9));
}
if (want('workers')) {
  console.log('\n## BATON_WORKERS: 1 and 2 workers on one SQLite file (`baton serve`, load from another process)\n');
  console.log(await benchWorkers(quick ? 2 : 4, quick ? 1 : 3));
}
if (want('sqlite-lock')) {
  console.log('\n## Two processes on one SQLite file: the commit\'s sync or the write lock?\n');
  console.log(await benchSqliteLock(quick ? 1 : 2, quick ? 1 : 3));
}
if (process.argv.includes('--peers')) {
  console.log('\n## Peers over HTTP, same machine, same run\n');
  console.log(await benchPeers(quick ? 2 : 5, quick ? 1 : 3));
}
