import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

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
    include: ['test/**/*.test.ts'],
    // Two cores, and suites that measure time (browser, WebSocket, storm, load): one file at a
    // time, so no suite's clock runs against another's ten worker processes.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
