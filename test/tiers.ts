/**
 * The suite's three tiers (the Vitest projects of vitest.config.ts), by what a file uses:
 *
 * - **unit**: in-process only — the handler called with a `Request`, the injected clock, the
 *   memory or SQLite store, in-process HTTP servers on ports the system picks. No Redis, no
 *   PostgreSQL, no child process, no browser. Files run in parallel.
 * - **integration**: a Redis server (each file starts its own, on a free port), a PostgreSQL
 *   database (each file creates its own, named per run), child processes (`baton`, workers,
 *   Python, other Node.js versions); and the floods — thousands of requests over sockets, minutes
 *   of CPU on a shared machine. One file at a time: several measure time.
 * - **e2e**: Chromium (test/e2e/).
 *
 * A unit file is every test file not listed here; test/tiers.test.ts checks that none of them
 * imports what the unit tier leaves out.
 */

/** Files that use Redis, PostgreSQL or child processes, and the floods. */
export const INTEGRATION = [
  'test/server/audit.test.ts',
  'test/client/client.test.ts',
  'test/docs.test.ts',
  'test/client/dpop/key-file-fifo.test.ts',
  'test/client/open-browser.test.ts',
  'test/client/dpop/hostile-servers.test.ts',
  'test/client/origins-and-storage.test.ts',
  'test/client/signed-out-elsewhere.test.ts',
  'test/client/storm.test.ts',
  'test/exports.test.ts',
  'test/http/logout-lost-session.test.ts',
  'test/http/lost-log-cursor.test.ts',
  'test/http/lost-revocation-replay.test.ts',
  'test/http/rate-limit.test.ts',
  'test/interop/oauth/**/*.test.ts',
  'test/interop/python.test.ts',
  'test/interop/remote/feed-redis-rollback.test.ts',
  'test/multi/**/*.test.ts',
  'test/readme.test.ts',
  'test/runtimes/**/*.test.ts',
  'test/release.test.ts',
  'test/server/authorization-cli.test.ts',
  'test/redteam/rt-providers-outage-held.test.ts',
  'test/server/backup.test.ts',
  'test/server/clock-step.test.ts',
  'test/server/cluster-race.test.ts',
  'test/server/custody.test.ts',
  'test/server/fail-fast-postgres.test.ts',
  'test/server/fail-fast.test.ts',
  'test/server/login-protection.test.ts',
  'test/redteam/passkeys-limits-reset.test.ts',
  'test/server/lost-store-cli.test.ts',
  'test/server/lost-store.test.ts',
  'test/server/max-sessions.test.ts',
  'test/server/node-version.test.ts',
  'test/server/ops.test.ts',
  'test/server/providers-cli.test.ts',
  'test/server/outage-deadlines.test.ts',
  'test/server/outage-postgres.test.ts',
  'test/server/outage.test.ts',
  'test/server/passkeys-cli.test.ts',
  'test/server/redaction.test.ts',
  'test/server/runtime.test.ts',
  'test/server/server.test.ts',
  'test/server/settings.test.ts',
  'test/server/slow-clients.test.ts',
  'test/server/startup.test.ts',
  'test/server/storage-failures.test.ts',
  'test/server/store-init-live.test.ts',
  'test/server/traces-otlp.test.ts',
  'test/server/workers.test.ts',
  'test/stores/faults.test.ts',
  'test/stores/postgres-connect.test.ts',
  'test/stores/postgres.test.ts',
  'test/stores/redis-eviction.test.ts',
  'test/stores/redis.test.ts',
  'test/stores/shared-redis.test.ts',
  'test/stores/sqlite.test.ts',
  // In-process, but floods: thousands of requests each (a third of the in-process files' CPU).
  'test/http/dpop-abuse.test.ts',
  'test/interop/remote/login-flood.test.ts',
  'test/interop/remote/revocation-flood.test.ts',
];

/** Files that drive Chromium. */
export const E2E = ['test/e2e/**/*.test.ts'];

/** Every test file. */
export const ALL = ['test/**/*.test.ts'];
