import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { ALL, E2E, INTEGRATION } from './test/tiers.ts';

// The packages are imported by name and resolved to their TypeScript sources (the `baton-source`
// export condition), in the test files and in every process a test spawns.
const CONDITIONS = ['baton-source'];
process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, '--conditions=baton-source'].filter(Boolean).join(' ');
// A `baton serve` a test starts says where it is here, not in the checkout's ./data: a private
// folder of this run (serve refuses a shared one such as /tmp itself).
if (process.env.BATON_RUNTIME_FILE === undefined) {
  const runtimeDir = mkdtempSync(join(tmpdir(), 'baton-test-runtime-'));
  process.env.BATON_RUNTIME_FILE = join(runtimeDir, 'service.json');
  process.once('exit', () => rmSync(runtimeDir, { recursive: true, force: true }));
}

export default defineConfig({
  resolve: { conditions: CONDITIONS },
  ssr: { resolve: { conditions: CONDITIONS } },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Three projects (test/tiers.ts says which file is in which). `npm test` runs them one after
    // the other, never beside each other (each its own sequence.groupOrder): the unit files in
    // parallel, the integration and browser files one at a time — two cores, and suites that
    // measure time (browser, WebSocket, storm, load): no suite's clock runs against another's.
    // The unit files mostly wait (real timers, sockets, a child's answer) rather than compute: four
    // at once on two cores, where the default (cores − 1) ran them one by one (97 s → 51 s, 2026-12-07).
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ALL, exclude: [...INTEGRATION, ...E2E], fileParallelism: true, maxWorkers: 4, sequence: { groupOrder: 0 } },
      },
      { extends: true, test: { name: 'integration', include: INTEGRATION, fileParallelism: false, sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'e2e', include: E2E, fileParallelism: false, sequence: { groupOrder: 2 } } },
    ],
  },
});
